"""The real bot, run in a thread of its own against the fake Bot API and the real API.

The API is served in the bot's event loop over ASGI (its own pool on the per-test database), as a
second instance beside the tests' TestClient: what one writes, the other reads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from app.main import create_app
from app.settings import Settings
from bot.run import serve
from tests.bot.fake_telegram import FakeTelegram

API_BASE = "http://miyabi.test"


def bot_settings(settings: Settings, telegram: FakeTelegram) -> Settings:
    return settings.model_copy(update={"telegram_bot_token": telegram.token, "telegram_api_url": telegram.url,
                                       "api_url": API_BASE})


@contextmanager
def running_bot(settings: Settings, telegram: FakeTelegram) -> Iterator[None]:
    """The bot polling `telegram` until the block ends (then stopped the way SIGTERM stops it)."""
    ready, failed = threading.Event(), []
    loop_box: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        loop_box["loop"], loop_box["stop"] = asyncio.get_running_loop(), stop
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            ready.set()
            await serve(bot_settings(settings, telegram), stop, api_transport=httpx.ASGITransport(app=app),
                        feed_wait=1, poll_timeout=1)

    def thread() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # reported to the test below
            failed.append(error)
            ready.set()

    runner = threading.Thread(target=thread, daemon=True)
    runner.start()
    ready.wait(30)
    try:
        yield
    finally:
        loop = loop_box.get("loop")
        if loop is not None:
            loop.call_soon_threadsafe(loop_box["stop"].set)  # type: ignore[attr-defined]
        runner.join(30)
    if failed:
        raise failed[0]
    if runner.is_alive():
        raise AssertionError("the bot did not stop")
