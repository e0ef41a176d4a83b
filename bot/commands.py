"""The bot's commands: each turns one chat message into calls of the API and one answer.

Commands act in the chat's current organization (the API's choice when no organization is named:
the one picked last with /org, else linked last), as the person the chat is linked to. A wrong
command or argument is answered with one line and the usage; an error of the API with one line.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import render
from bot.api import ApiFailure, MiyabiApi

logger = logging.getLogger("miyabi.bot")

TASK_STATUSES = ("pending", "running", "done", "failed", "cancelled")
USAGE = {
    "start": "/start",
    "help": "/help",
    "link": "/link CODE",
    "unlink": "/unlink",
    "orgs": "/orgs",
    "org": "/org SLUG",
    "tasks": "/tasks [pending|running|done|failed|cancelled]",
    "task": "/task NUMBER|ID",
    "new": "/new TITLE (further lines: the description)",
    "cancel": "/cancel NUMBER|ID",
    "agents": "/agents",
    "agent": "/agent NAME start|stop",
    "status": "/status",
    "notify": "/notify on|off",
}
HELP = "\n".join(["Miyabi bot commands:", *USAGE.values(),
                  "NUMBER is a line of the last list shown; ID may be its first 8 characters."])
NOT_LINKED = ("This chat is not linked to a Miyabi account. Ask Miyabi for a link code "
              "(POST /api/telegram/link-codes, or the dashboard) and send /link CODE here.")
COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@\S+)?(?:\s+(.*))?$", re.S)


class UsageError(Exception):
    """A command given the wrong arguments: answered with the message and the usage."""


@dataclass(frozen=True)
class Incoming:
    """A message to the bot: its chat, the chat's kind (private, group...) and the text."""

    chat_id: int
    chat_type: str
    text: str
    title: str | None = None


class Commands:
    """The commands, over one API client. `links_changed` is called after /link, /unlink, /notify."""

    def __init__(self, api: MiyabiApi, links_changed: Callable[[], Awaitable[None] | None] | None = None
                 ) -> None:
        self.api = api
        self.links_changed = links_changed
        self._listed: dict[tuple[int, str], list[str]] = {}  # (chat, kind) -> ids of the last list

    async def answer(self, incoming: Incoming) -> str:
        """The reply to `incoming`; never raises."""
        match = COMMAND.match(incoming.text.strip())
        if match is None:
            return "Send a command; /help lists them."
        name, args = match.group(1).lower(), (match.group(2) or "").strip()
        if name not in USAGE:
            return f"Unknown command /{name}.\n{HELP}"
        try:
            return await getattr(self, f"cmd_{name}")(incoming, args)
        except UsageError as error:
            return f"{error} Usage: {USAGE[name]}"
        except ApiFailure as failure:
            return explain(failure)
        except Exception:  # a bug: logged whole, answered in one line
            logger.exception("command /%s failed", name)
            return "Something went wrong on our side; it is logged. Try again later."

    async def _changed(self) -> None:
        if self.links_changed is not None:
            result = self.links_changed()
            if result is not None:
                await result

    async def cmd_start(self, incoming: Incoming, args: str) -> str:
        try:
            links = await self.api.links(incoming.chat_id)
        except ApiFailure as failure:
            if failure.code != "chat_not_linked":
                raise
            return f"Welcome to Miyabi.\n{NOT_LINKED}"
        current = links[0]["organization"]
        return f"Welcome back. This chat acts in {current['name']} ({current['slug']}). /help lists commands."

    async def cmd_help(self, incoming: Incoming, args: str) -> str:
        return HELP

    async def cmd_link(self, incoming: Incoming, args: str) -> str:
        if not args or len(args.split()) > 3:
            raise UsageError("Send the code Miyabi gave you.")
        if incoming.chat_type != "private":
            return "Link me in a private chat with me, not in a group."
        try:
            linked = await self.api.link(incoming.chat_id, args, incoming.title)
        except ApiFailure as failure:
            if failure.code == "invalid_link_code":
                return "That code is unknown, expired or already used; ask Miyabi for a new one."
            raise
        await self._changed()
        org = linked["organization"]
        return f"Linked: this chat now acts as you in {org['name']} ({org['slug']}). /help lists commands."

    async def cmd_unlink(self, incoming: Incoming, args: str) -> str:
        if args:
            raise UsageError("/unlink takes no arguments.")
        links = await self.api.links(incoming.chat_id)
        for link in links:
            await self.api.call("DELETE", "/api/telegram/chat", chat=incoming.chat_id,
                                org=link["organization"]["id"])
        await self._changed()
        return f"Unlinked from {len(links)} organization(s). Send /link CODE to link again."

    async def cmd_orgs(self, incoming: Incoming, args: str) -> str:
        return render.organizations(await self.api.links(incoming.chat_id))

    async def cmd_org(self, incoming: Incoming, args: str) -> str:
        if not args or " " in args:
            raise UsageError("Name one organization by its slug.")
        links = await self.api.links(incoming.chat_id)
        chosen = next((link for link in links if link["organization"]["slug"] == args.lower()), None)
        if chosen is None:
            slugs = ", ".join(link["organization"]["slug"] for link in links)
            raise UsageError(f"This chat is not linked in {args!r} (linked: {slugs}).")
        await self.api.call("PATCH", "/api/telegram/chat", chat=incoming.chat_id,
                            org=chosen["organization"]["id"], json={"current": True})
        return f"Now acting in {chosen['organization']['name']} ({chosen['organization']['slug']})."

    async def cmd_tasks(self, incoming: Incoming, args: str) -> str:
        status = args.lower() or None
        if status is not None and status not in TASK_STATUSES:
            raise UsageError(f"Unknown status {args!r}.")
        params = {"limit": 20, **({"status": status} if status else {})}
        items = (await self.api.call("GET", "/api/tasks", chat=incoming.chat_id, params=params))["items"]
        self._listed[(incoming.chat_id, "task")] = [t["id"] for t in items]
        return render.tasks(items, status)

    async def cmd_task(self, incoming: Incoming, args: str) -> str:
        task_id = await self._task_ref(incoming.chat_id, args)
        return render.task(await self.api.call("GET", f"/api/tasks/{task_id}", chat=incoming.chat_id))

    async def cmd_new(self, incoming: Incoming, args: str) -> str:
        title, _, description = args.partition("\n")
        if not title.strip():
            raise UsageError("Give the task a title.")
        body = {"title": title.strip()[:1000], **({"description": description.strip()}
                                                  if description.strip() else {})}
        task = await self.api.call("POST", "/api/tasks", chat=incoming.chat_id, json=body)
        return f"Created task “{task['title']}” ({render.short(task['id'])}), status {task['status']}."

    async def cmd_cancel(self, incoming: Incoming, args: str) -> str:
        task_id = await self._task_ref(incoming.chat_id, args)
        task = await self.api.call("DELETE", f"/api/tasks/{task_id}", chat=incoming.chat_id)
        return f"Cancelled task “{task['title']}” ({render.short(task['id'])})."

    async def cmd_agents(self, incoming: Incoming, args: str) -> str:
        items = await self._agents(incoming.chat_id)
        self._listed[(incoming.chat_id, "agent")] = [a["id"] for a in items]
        return render.agents(items)

    async def cmd_agent(self, incoming: Incoming, args: str) -> str:
        parts = args.split()
        if len(parts) != 2 or parts[1].lower() not in ("start", "stop"):
            raise UsageError("Name an agent and say start or stop.")
        agent = await self._agent_ref(incoming.chat_id, parts[0])
        action = parts[1].lower()
        await self.api.call("POST", f"/api/agents/{agent['id']}/{action}", chat=incoming.chat_id)
        return f"Agent {agent['name']}: asked to {action}."

    async def cmd_status(self, incoming: Incoming, args: str) -> str:
        links = await self.api.links(incoming.chat_id)
        org = links[0]["organization"]
        status = await self.api.call("GET", "/api/status/system", chat=incoming.chat_id, org=org["id"])
        return render.system(status, org["name"])

    async def cmd_notify(self, incoming: Incoming, args: str) -> str:
        if args.lower() not in ("on", "off"):
            raise UsageError("Say on or off.")
        on = args.lower() == "on"
        links = await self.api.links(incoming.chat_id)
        for link in links:
            await self.api.call("PATCH", "/api/telegram/chat", chat=incoming.chat_id,
                                org=link["organization"]["id"], json={"notify": on})
        await self._changed()
        return f"Notifications {'on' if on else 'off'} for {len(links)} organization(s)."

    async def _task_ref(self, chat: int, ref: str) -> str:
        """A task's id from a list number, a full id, or the first characters of one."""
        ref = ref.strip()
        if not ref or " " in ref:
            raise UsageError("Name one task.")
        if ref.isdigit() and len(ref) <= 3:
            listed = self._listed.get((chat, "task"))
            if listed is None:  # no list shown since the bot started: the newest tasks
                page = await self.api.call("GET", "/api/tasks", chat=chat, params={"limit": 20})
                listed = [t["id"] for t in page["items"]]
            if not 1 <= int(ref) <= len(listed):
                raise UsageError(f"There is no task number {ref} in the last list (/tasks).")
            return listed[int(ref) - 1]
        if _is_uuid(ref):
            return ref
        if not re.fullmatch(r"[0-9a-fA-F-]{4,36}", ref):
            raise UsageError(f"{ref!r} is neither a list number nor a task id.")
        page = await self.api.call("GET", "/api/tasks", chat=chat, params={"limit": 200})
        found = [t["id"] for t in page["items"] if t["id"].startswith(ref.lower())]
        if len(found) != 1:
            raise UsageError(f"{'No task' if not found else 'More than one task'} starts with {ref!r}.")
        return found[0]

    async def _agents(self, chat: int) -> list[dict]:
        return (await self.api.call("GET", "/api/agents", chat=chat, params={"limit": 200}))["items"]

    async def _agent_ref(self, chat: int, ref: str) -> dict:
        agents = await self._agents(chat)
        if ref.isdigit() and (listed := self._listed.get((chat, "agent"))) and 1 <= int(ref) <= len(listed):
            ref = listed[int(ref) - 1]
        wanted = ref.lower()
        found = [a for a in agents if wanted in (a["slug"].lower(), a["name"].lower(), a["id"])]
        found = found or [a for a in agents if len(wanted) >= 4 and a["id"].startswith(wanted)]
        if len(found) != 1:
            what = "No agent" if not found else "More than one agent"
            raise UsageError(f"{what} matches {ref!r} (/agents).")
        return found[0]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def explain(failure: ApiFailure) -> str:
    """One line for an error of the API."""
    if failure.code == "chat_not_linked":
        return NOT_LINKED
    if failure.status == 0 or failure.status >= 500:
        return "Miyabi cannot answer right now; try again in a moment."
    if failure.status == 429:
        return f"Too many requests; try again in {failure.retry_after or 60} seconds."
    if failure.status == 403:
        return f"Not allowed: {failure.message}"
    if failure.status == 404:
        return "Not found (or not visible to you)."
    return failure.message
