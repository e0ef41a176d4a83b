"""The webhook entry point (AWS Lambda): Telegram's secret header or nothing."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx

from app.main import create_app
from bot import webhook
from tests.bot.conftest import new_chat_id
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.harness import bot_settings

SECRET = "webhook-secret-for-tests"


def _event(update: dict, headers: dict[str, str]) -> dict:
    return {"headers": headers, "body": base64.b64encode(json.dumps(update).encode()).decode(),
            "isBase64Encoded": True}


def test_the_webhook_refuses_a_request_without_the_secret_header(settings):
    with FakeTelegram() as telegram:
        hooked = bot_settings(settings, telegram).model_copy(update={"telegram_webhook_secret": SECRET})
        update = telegram.update(new_chat_id(), "/help")
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": ""},
                        {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}):
            answer = webhook.handler(_event(update, headers), settings=hooked)
            assert answer["statusCode"] == 401, headers
        assert telegram.calls == []  # refused before anything reached Telegram (or the API)
        assert webhook.handler({"headers": {"x-telegram-bot-api-secret-token": SECRET}, "body": "[1]"},
                               settings=hooked)["statusCode"] == 400


def test_the_webhook_answers_an_update_with_the_secret(settings, people, link_chat):
    chat = link_chat(people.member, people.org_id)
    with FakeTelegram() as telegram:
        hooked = bot_settings(settings, telegram).model_copy(update={"telegram_webhook_secret": SECRET})
        assert webhook.accepts({"X-Telegram-Bot-Api-Secret-Token": SECRET}, hooked)

        async def deliver() -> None:
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                await webhook.handle_update(hooked, telegram.update(chat, "/new From the webhook"),
                                            api_transport=httpx.ASGITransport(app=app))
        asyncio.run(deliver())
        assert telegram.messages_to(chat)[0].startswith("Created task “From the webhook”")
