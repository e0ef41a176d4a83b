"""A stand-in for Telegram's Bot API: a real HTTP server on 127.0.0.1, so no test reaches Telegram.

It serves getMe, getUpdates (long polls on updates queued by `say`), deleteWebhook, setWebhook and
records sendMessage; it answers like the real one, `{"ok": true, "result": ...}`, and its errors
in the real shape `{"ok": false, "error_code": ..., "description": ...}`: an unknown token 401,
an unknown method 404, an empty text 400, a chat in `blocked` 403.

    with FakeTelegram() as telegram:
        telegram.say(chat_id, "/start")
        telegram.wait_for_message(chat_id, "Welcome")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "123456:TEST-token-of-the-fake-bot"


@dataclass
class Sent:
    chat_id: int
    text: str


@dataclass
class FakeTelegram:
    token: str = TOKEN
    blocked: set[int] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._messages = itertools.count(1)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeTelegram:
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Bot API did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    # What a test does: a person writes; what the bot answered.

    def update(self, chat_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._messages), "date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": chat_type,
                     **({"first_name": "Tester"} if chat_type == "private" else {"title": "Group"})},
            "from": {"id": abs(chat_id), "is_bot": False, "first_name": "Tester"}}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": next(self._ids), "message": message}

    def say(self, chat_id: int, text: str, chat_type: str = "private") -> None:
        with self._lock:
            self._updates.append(self.update(chat_id, text, chat_type))

    def messages_to(self, chat_id: int) -> list[str]:
        with self._lock:
            return [m.text for m in self.sent if m.chat_id == chat_id]

    def wait_for_message(self, chat_id: int, containing: str, timeout: float = 20) -> str:
        """The first message to `chat_id` containing `containing` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in self.messages_to(chat_id):
                if containing in text:
                    return text
            time.sleep(0.05)
        raise AssertionError(f"no message to {chat_id} containing {containing!r}; got "
                             f"{self.messages_to(chat_id)}")

    def ask(self, chat_id: int, text: str, timeout: float = 20) -> str:
        """Say `text` and return the bot's next message to the chat."""
        before = len(self.messages_to(chat_id))
        self.say(chat_id, text)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.messages_to(chat_id)
            if len(messages) > before:
                return messages[before]
            time.sleep(0.05)
        raise AssertionError(f"no answer to {text!r} in {chat_id}")

    # The Bot API.

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        self.calls.append(method)
        params = await _params(request)
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found")
        return await handler(params)

    async def _api_getme(self, params: dict[str, Any]) -> JSONResponse:
        return _ok({"id": 123456, "is_bot": True, "first_name": "Miyabi", "username": "miyabi_test_bot",
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False})

    async def _api_deletewebhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook = {}
        return _ok(True)

    async def _api_setwebhook(self, params: dict[str, Any]) -> JSONResponse:
        if not str(params.get("url", "")).startswith("https://"):
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = dict(params)
        return _ok(True)

    async def _api_getupdates(self, params: dict[str, Any]) -> JSONResponse:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 5)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed
                waiting = list(self._updates)
            if waiting or time.monotonic() >= deadline:
                return _ok(waiting)
            await asyncio.sleep(0.05)

    async def _api_sendmessage(self, params: dict[str, Any]) -> JSONResponse:
        chat_id, text = int(params["chat_id"]), str(params.get("text") or "")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        with self._lock:
            self.sent.append(Sent(chat_id, text))
        return _ok({"message_id": next(self._messages), "date": int(time.time()), "text": text,
                    "chat": {"id": chat_id, "type": "private", "first_name": "Tester"}})


async def _params(request: Request) -> dict[str, Any]:
    """The call's parameters: a query string, a JSON body, or a form whose values may be JSON."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    if request.headers.get("content-type", "").startswith("application/json"):
        return {**params, **json.loads(body)}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):  # a form, values maybe JSON
        params[key] = _maybe_json(value)
    return params


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=code)
