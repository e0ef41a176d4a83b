"""How the bot words things: lists, a task, the system's status, notifications. Plain text."""

from __future__ import annotations

from typing import Any

STATUS_MARK = {"pending": "⏳", "running": "▶️", "done": "✅", "failed": "❌", "cancelled": "✖️",
               "idle": "💤", "stopped": "⏹", "error": "⚠️"}


def short(id_: str) -> str:
    """The first 8 characters of a UUID: enough to name one within an organization."""
    return str(id_)[:8]


def task_line(number: int, task: dict[str, Any]) -> str:
    mark = STATUS_MARK.get(task["status"], "•")
    return f"{number}. {mark} {task['title']} [{task['status']}] · {short(task['id'])}"


def tasks(items: list[dict[str, Any]], status: str | None) -> str:
    if not items:
        return f"No {status} tasks." if status else "No tasks yet. Create one with /new TITLE."
    head = f"{status.capitalize()} tasks" if status else "Tasks, newest first"
    return "\n".join([f"{head}:", *(task_line(n, t) for n, t in enumerate(items, 1)),
                      "Use /task N or /task SHORT-ID for details."])


def task(detail: dict[str, Any]) -> str:
    lines = [f"{STATUS_MARK.get(detail['status'], '•')} {detail['title']}",
             f"status: {detail['status']} · priority {detail['priority']} · id {detail['id']}",
             f"created {detail['created_at'][:16].replace('T', ' ')} UTC"]
    if detail.get("description"):
        lines.append(detail["description"])
    if detail.get("result") is not None:
        lines.append(f"result: {detail['result']}")
    moves = [e for e in detail.get("events", []) if str(e["event"]).startswith("status.")]
    if moves:
        lines.append("history: " + " → ".join(
            ["pending", *(str(e["event"]).removeprefix("status.") for e in moves)]))
    return "\n".join(lines)


def agents(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No agents in this organization."
    lines = ["Agents:"]
    for number, agent in enumerate(items, 1):
        online = "online" if agent.get("online") else "offline"
        lines.append(f"{number}. {STATUS_MARK.get(agent['status'], '•')} {agent['name']} ({agent['slug']}, "
                     f"{agent['kind']}) {agent['status']}, wants {agent['desired_state']}, {online}")
    lines.append("Use /agent NAME start|stop.")
    return "\n".join(lines)


def system(status: dict[str, Any], organization: str) -> str:
    tasks_by = ", ".join(f"{name} {count}" for name, count in sorted(status["tasks"].items())) or "none"
    return (f"{organization}: database {status['database']}, schema {status['schema_version']}, "
            f"release {status['release']}\nagents: {status['agents']['online']} online, "
            f"{status['agents']['offline']} offline\ntasks: {tasks_by}")


def organizations(links: list[dict[str, Any]]) -> str:
    lines = ["Organizations of this chat:"]
    for link in links:
        org = link["organization"]
        marks = [" (current)" if link["current"] else "", "" if link["notify"] else " (notifications off)"]
        lines.append(f"• {org['slug']} — {org['name']}{''.join(marks)}")
    lines.append("Switch with /org SLUG.")
    return "\n".join(lines)


def task_moved(data: dict[str, Any], before: str | None, organization: str) -> str:
    moved = f"{before} → {data['status']}" if before else data["status"]
    return (f"{STATUS_MARK.get(data['status'], '•')} [{organization}] Task “{data['title']}” "
            f"({short(data['id'])}): {moved}")


def agent_moved(data: dict[str, Any], before: str | None, organization: str) -> str:
    moved = f"{before} → {data['status']}" if before else f"now {data['status']}"
    return f"{STATUS_MARK.get(data['status'], '•')} [{organization}] Agent {data['name']}: {moved}"
