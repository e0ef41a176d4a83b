"""The bot by long polling (`invoke bot`): commands from getUpdates, notifications from the feed."""

from __future__ import annotations

import asyncio
import logging
import signal

import httpx

from app.errors import MiyabiError
from app.settings import Settings
from app.telegram_auth import bot_secret, bot_token
from bot.api import MiyabiApi
from bot.commands import Commands
from bot.notifier import Notifier
from bot.telegram_app import build_application, sender

logger = logging.getLogger("miyabi.bot")


class MissingToken(MiyabiError):
    """No Telegram token: the bot cannot start."""


def token_of(settings: Settings) -> str:
    token = bot_token(settings)
    if not token:
        raise MissingToken(
            "No Telegram bot token: set TELEGRAM_BOT_TOKEN (from @BotFather), or write it to "
            f"{settings.secrets_dir / 'telegram-bot-token'} (mode 0600).")
    return token


def api_url(settings: Settings) -> str:
    """The API the bot calls: MIYABI_API_URL, else the stack's public URL."""
    return settings.api_url or settings.public_url


async def serve(settings: Settings, stop: asyncio.Event, *,
                api_transport: httpx.AsyncBaseTransport | None = None,
                feed_wait: int = 20, poll_timeout: int = 10) -> None:
    """Run the bot until `stop` is set; on the way out, a message being sent has its cursor saved."""
    token = token_of(settings)
    api = MiyabiApi(api_url(settings), bot_secret(settings), transport=api_transport)
    # /link, /unlink and /notify make the notifier look at the subscriptions again at once.
    commands = Commands(api, links_changed=lambda: notifier.poke())
    application = build_application(token, settings.telegram_api_url, commands)
    notifier = Notifier(api, sender(application), wait=feed_wait)
    try:
        async with application:
            await application.start()
            await application.updater.start_polling(timeout=poll_timeout, allowed_updates=["message"])
            notifying = asyncio.create_task(notifier.run())
            try:
                await stop.wait()
            finally:
                await application.updater.stop()
                await application.stop()
                notifying.cancel()
                await asyncio.gather(notifying, return_exceptions=True)
    finally:
        await api.aclose()


def main(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    token_of(settings)  # say so before anything starts

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        logger.info("bot polling %s, API %s", settings.telegram_api_url, api_url(settings))
        await serve(settings, stop)

    asyncio.run(run())
