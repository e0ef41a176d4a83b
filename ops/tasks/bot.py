"""`invoke bot`: the Telegram bot by long polling, against the stack's API."""

from __future__ import annotations

from invoke import Context, task

from bot.run import main
from ops.tasks.common import run, settings


@task(name="bot", help={"api": "the API's base URL (default: MIYABI_API_URL, else MIYABI_PUBLIC_URL)"})
def bot_task(c: Context, api: str = "") -> None:
    """Run the Telegram bot (TELEGRAM_BOT_TOKEN, or $MIYABI_HOME/secrets/telegram-bot-token) until Ctrl-C."""
    current = settings()
    if api:
        current = current.model_copy(update={"api_url": api})
    run(lambda: main(current))


TOP_LEVEL = (bot_task,)
