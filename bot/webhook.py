"""The bot on AWS Lambda: Telegram's webhook (behind the HTTP API's /telegram/webhook route), and a
scheduled sweep that delivers the notifications waiting.

Telegram sends the secret given to setWebhook in `X-Telegram-Bot-Api-Secret-Token`; a request
without it, or with another, is refused (401) before its body is read.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
from typing import Any

import httpx
from telegram import Update

from app.settings import Settings, get_settings
from app.telegram_auth import bot_secret, webhook_secret
from bot.api import MiyabiApi
from bot.commands import Commands
from bot.notifier import Notifier
from bot.run import api_url, token_of
from bot.telegram_app import build_application, sender

logger = logging.getLogger("miyabi.bot")
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header's name)


def _answer(status: int, message: str = "") -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"ok": status == 200, "description": message})}


def accepts(headers: dict[str, str] | None, settings: Settings) -> bool:
    """Whether the request carries the webhook's secret (compared in constant time)."""
    presented = {k.lower(): v for k, v in (headers or {}).items()}.get(SECRET_HEADER, "")
    return bool(presented) and hmac.compare_digest(presented.encode(), webhook_secret(settings).encode())


async def handle_update(settings: Settings, update: dict[str, Any], *,
                        api_transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Answer one update from Telegram."""
    api = MiyabiApi(api_url(settings), bot_secret(settings), transport=api_transport)
    try:
        application = build_application(token_of(settings), settings.telegram_api_url, Commands(api),
                                        polling=False)
        async with application:
            await application.process_update(Update.de_json(update, application.bot))
    finally:
        await api.aclose()


async def sweep(settings: Settings, *, api_transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Deliver every subscription's waiting notifications once."""
    api = MiyabiApi(api_url(settings), bot_secret(settings), transport=api_transport)
    try:
        application = build_application(token_of(settings), settings.telegram_api_url, Commands(api),
                                        polling=False)
        async with application:
            await Notifier(api, sender(application)).sweep()
    finally:
        await api.aclose()


def handler(event: dict[str, Any], context: object = None, settings: Settings | None = None) -> dict:
    """The webhook function: 401 without the secret header, 400 for a body that is no update."""
    settings = settings or get_settings()
    if not accepts(event.get("headers"), settings):
        return _answer(401, "The webhook's secret token is missing or wrong.")
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        update = json.loads(raw)
        if not isinstance(update, dict) or "update_id" not in update:
            raise ValueError("no update_id")
    except ValueError:
        return _answer(400, "The body is not a Telegram update.")
    try:
        asyncio.run(handle_update(settings, update))
    except Exception:  # answered 200 all the same: Telegram would resend it forever
        logger.exception("update %s failed", update.get("update_id"))
    return _answer(200)


def notify_handler(event: dict[str, Any], context: object = None) -> dict:
    """The scheduled function (every minute): deliver the waiting notifications."""
    asyncio.run(sweep(get_settings()))
    return {"ok": True}
