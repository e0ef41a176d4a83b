"""The bot on python-telegram-bot: one handler hands each message to Commands; the replies and
notifications go out through the same Bot, whose errors become the notifier's three outcomes."""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.commands import Commands, Incoming
from bot.notifier import ChatGone, TryLater, Undeliverable

logger = logging.getLogger("miyabi.bot")


def build_application(token: str, telegram_api_url: str, commands: Commands, *,
                      polling: bool = True) -> Application:
    """An Application talking to the Bot API at `telegram_api_url` (Telegram's, or a stand-in)."""
    base = telegram_api_url.rstrip("/")
    builder = ApplicationBuilder().token(token).base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    if not polling:
        builder = builder.updater(None)
    application = builder.build()

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        text = message.text or ""
        if chat.type != "private" and not text.startswith("/"):
            return  # in a group, only commands are for the bot
        title = chat.title or chat.full_name or chat.username
        reply = await commands.answer(Incoming(chat.id, chat.type, text, title))
        await context.bot.send_message(chat.id, reply)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("update %s failed", getattr(update, "update_id", "?"), exc_info=context.error)

    application.add_handler(MessageHandler(filters.ALL, on_message))
    application.add_error_handler(on_error)
    return application


def sender(application: Application):  # noqa: ANN201 (a Send of bot.notifier)
    """The notifier's Send over `application`'s Bot."""
    async def send(chat: int, text: str) -> None:
        try:
            await application.bot.send_message(chat, text)
        except RetryAfter as error:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wait = error.retry_after
            raise TryLater(wait.total_seconds() if isinstance(wait, timedelta) else float(wait)) from error
        except Forbidden as error:
            raise ChatGone(str(error)) from error
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                raise ChatGone(str(error)) from error
            raise Undeliverable(str(error)) from error
        except NetworkError as error:  # TimedOut too; BadRequest is one, caught above
            raise TryLater(5) from error
    return send
