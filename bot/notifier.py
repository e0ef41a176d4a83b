"""Notifications: each linked chat with notifications on follows its organization's event feed.

One long poll per (chat, organization), as the chat's person, so the feed holds only what that
person may see. A task's status move and an agent's status change become one message each. After
each event the chat's cursor (the last event id delivered) is saved through the API before the
next one is looked at, and a send and its save are never cut apart by a stop: a restart of the
bot resumes where it stopped, neither losing nor repeating a message. (A crash of the machine
between Telegram accepting a message and the save can repeat that one message, never lose one.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bot import render
from bot.api import ApiFailure, MiyabiApi, Subscription

logger = logging.getLogger("miyabi.bot.notifier")

ENDED = {401, 403, 404}  # the link ended, the person lost the view, or the organization is gone


class TryLater(Exception):
    """Telegram could not take the message now (flood limit, network); nothing is skipped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"try again in {seconds} s")
        self.seconds = seconds


class ChatGone(Exception):
    """Telegram will never deliver to this chat (the person blocked the bot, the chat is gone)."""


class Undeliverable(Exception):
    """Telegram refused this one message; the next ones may pass."""


Send = Callable[[int, str], Awaitable[None]]


class Notifier:
    """Follows every subscription the API lists; `run` until cancelled, or `sweep` once."""

    def __init__(self, api: MiyabiApi, send: Send, *, wait: int = 20, refresh_seconds: float = 30) -> None:
        self.api, self.send, self.wait, self.refresh_seconds = api, send, wait, refresh_seconds
        self._followers: dict[tuple[int, str], asyncio.Task] = {}
        self._deliveries: set[asyncio.Task] = set()
        self._poke = asyncio.Event()
        self._statuses: dict[tuple[int, str, str], str] = {}  # (chat, org, task/agent id) -> status
        self._slugs: dict[str, str] = {}

    def poke(self) -> None:
        """Look at the subscriptions again now (a chat was linked, unlinked or switched)."""
        self._poke.set()

    async def run(self) -> None:
        try:
            while True:
                await self.refresh()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), self.refresh_seconds)
                self._poke.clear()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop following; a message being sent is sent and its cursor saved first."""
        for task in self._followers.values():
            task.cancel()
        await asyncio.gather(*self._followers.values(), return_exceptions=True)
        self._followers.clear()
        await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def refresh(self) -> None:
        try:
            subscriptions = await self.api.subscriptions()
        except ApiFailure as failure:
            logger.warning("cannot list subscriptions: %s", failure)
            return
        wanted = {(s.chat_id, s.organization_id): s for s in subscriptions}
        for key, task in list(self._followers.items()):
            if key not in wanted or task.done():
                task.cancel()
                del self._followers[key]
        for key, subscription in wanted.items():
            if key not in self._followers:
                self._followers[key] = asyncio.create_task(self._follow(subscription))

    async def sweep(self) -> None:
        """Deliver what is waiting for every subscription, without waiting for more (Lambda)."""
        subscriptions = await self.api.subscriptions()
        await asyncio.gather(*(self.deliver(s.chat_id, s.organization_id, s.last_event_id, wait=0)
                               for s in subscriptions))

    async def _follow(self, subscription: Subscription) -> None:
        cursor: int | None = subscription.last_event_id
        backoff = 1.0
        while cursor is not None:
            try:
                cursor = await self.deliver(subscription.chat_id, subscription.organization_id, cursor,
                                            wait=self.wait)
                backoff = 1.0
            except (ApiFailure, TryLater) as problem:
                pause = getattr(problem, "retry_after", None) or getattr(problem, "seconds", None) or backoff
                logger.warning("chat %s: %s; again in %s s", subscription.chat_id, problem, pause)
                await asyncio.sleep(float(pause))
                backoff = min(backoff * 2, 60.0)

    async def deliver(self, chat: int, org: str, after: int, *, wait: int) -> int | None:
        """Send what the feed holds after `after`; the new cursor, or None once the link is over."""
        try:
            events = await self.api.events(chat, org, after, wait)
        except ApiFailure as failure:
            if failure.status in ENDED:
                return None
            raise
        for event in events:
            delivery = asyncio.create_task(self._deliver_one(chat, org, event))
            self._deliveries.add(delivery)
            delivery.add_done_callback(self._deliveries.discard)
            if not await asyncio.shield(delivery):
                return None
            after = event["id"]
        return after

    async def _deliver_one(self, chat: int, org: str, event: dict[str, Any]) -> bool:
        """Send one event's message, if it is news, then save the cursor; False: the chat is gone."""
        text = await self.describe(chat, org, event)
        if text is not None:
            try:
                await self.send(chat, text)
            except Undeliverable as refused:
                logger.warning("chat %s refused event %s: %s", chat, event["id"], refused)
            except ChatGone:
                logger.warning("chat %s is gone: notifications off", chat)
                with contextlib.suppress(ApiFailure):
                    await self.api.call("PATCH", "/api/telegram/chat", chat=chat, org=org,
                                        json={"notify": False})
                return False
        data = event["data"]
        self._remember((chat, org, str(data.get("id"))), data.get("status"))
        await self.api.save_cursor(chat, org, event["id"])
        return True

    async def describe(self, chat: int, org: str, event: dict[str, Any]) -> str | None:
        """The message for `event`, or None when it is no status change (remembers nothing)."""
        data = event["data"]
        key = (chat, org, str(data.get("id")))
        before = self._statuses.get(key)
        if event["type"] == "task.created":
            return None
        if event["type"] == "task.updated":
            if before is None:
                before = await self._move_before(chat, org, data)
                if before is None:
                    return None
            elif before == data["status"]:
                return None
            return render.task_moved(data, before, await self._slug(chat, org))
        if event["type"] == "agent.updated" and _heartbeat_moved(data):
            return render.agent_moved(data, before, await self._slug(chat, org))
        return None

    def _remember(self, key: tuple[int, str, str], status: str | None) -> None:
        if len(self._statuses) > 50_000:
            self._statuses.clear()
        if status is not None:
            self._statuses[key] = status

    async def _move_before(self, chat: int, org: str, data: dict[str, Any]) -> str | None:
        """For a task not seen since the bot started: the status it left if this update was a
        move (its history has the move at the very time of the update), else None."""
        try:
            task = await self.api.call("GET", f"/api/tasks/{data['id']}", chat=chat, org=org)
        except ApiFailure as failure:
            if failure.status in ENDED:
                return None
            raise
        at = datetime.fromisoformat(data["updated_at"])
        for entry in task.get("events", []):
            if (entry["event"] == f"status.{data['status']}"
                    and datetime.fromisoformat(entry["created_at"]) == at):
                return str((entry.get("payload") or {}).get("from") or "?")
        return None

    async def _slug(self, chat: int, org: str) -> str:
        if org not in self._slugs:
            with contextlib.suppress(ApiFailure):
                for link in await self.api.links(chat):
                    self._slugs[link["organization"]["id"]] = link["organization"]["slug"]
        return self._slugs.get(org, "Miyabi")


def _heartbeat_moved(agent: dict[str, Any]) -> bool:
    """Whether this change of an agent came from its heartbeat, which is news only when the status
    changed (the feed leaves out heartbeats that change nothing else): then the heartbeat's time
    is the row's update time."""
    beat, updated = agent.get("last_heartbeat"), agent.get("updated_at")
    return bool(beat and updated) and datetime.fromisoformat(beat) == datetime.fromisoformat(updated)
