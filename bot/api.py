"""The bot's client of the Miyabi API: its own credential plus the chat it acts for.

Every call but `link` and `subscriptions` names a chat (`X-Telegram-Chat-Id`) and, where known,
an organization; the API answers as the person the chat is linked to, with their permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class ApiFailure(Exception):
    """An answer of the API from 400 up (or no answer: `status` 0), in one sentence."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


@dataclass(frozen=True)
class Subscription:
    chat_id: int
    organization_id: str
    last_event_id: int


class MiyabiApi:
    """Calls of the API for the bot. `transport` lets tests serve the API in-process."""

    def __init__(self, base_url: str, bot_secret: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        self._secret = bot_secret
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport,
                                       timeout=httpx.Timeout(timeout, connect=5.0))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, *, chat: int | None = None, org: str | None = None,
                   json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """The answer's JSON (None for 204); ApiFailure for an error or an unreachable API."""
        headers = {"Authorization": f"Bot {self._secret}"}
        if chat is not None:
            headers["X-Telegram-Chat-Id"] = str(chat)
        if org is not None:
            headers["X-Organization-Id"] = org
        try:
            response = await self._http.request(method, path, headers=headers, json=json, params=params)
        except httpx.HTTPError as error:
            raise ApiFailure(0, "unreachable", f"Miyabi did not answer ({type(error).__name__}).") from error
        if response.status_code >= 400:
            raise _failure(response)
        return None if response.status_code == 204 or not response.content else response.json()

    async def link(self, chat: int, code: str, title: str | None) -> dict:
        return await self.call("POST", "/api/telegram/link", chat=chat, json={"code": code, "title": title})

    async def subscriptions(self) -> list[Subscription]:
        items = (await self.call("GET", "/api/telegram/subscriptions"))["items"]
        return [Subscription(s["chat_id"], s["organization_id"], s["last_event_id"]) for s in items]

    async def links(self, chat: int) -> list[dict]:
        return (await self.call("GET", "/api/telegram/chat", chat=chat))["items"]

    async def events(self, chat: int, org: str, after: int, wait: int) -> list[dict]:
        page = await self.call("GET", "/api/events", chat=chat, org=org,
                               params={"after": after, "wait": wait, "limit": 50})
        return page["items"]

    async def save_cursor(self, chat: int, org: str, last_event_id: int) -> None:
        await self.call("PUT", "/api/telegram/chat/cursor", chat=chat, org=org,
                        json={"last_event_id": last_event_id})


def _failure(response: httpx.Response) -> ApiFailure:
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", f"Miyabi answered {response.status_code}."
    retry = response.headers.get("Retry-After")
    return ApiFailure(response.status_code, code, message,
                      int(retry) if retry and retry.isdigit() else None)
