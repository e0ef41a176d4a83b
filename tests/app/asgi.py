"""Concurrent requests in one event loop: httpx's AsyncClient over the app, its lifespan run.

    async with served(settings) as (app, client):
        answers = await asyncio.gather(*(client.post(...) for _ in range(50)))
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings


@asynccontextmanager
async def served(settings: Settings, client: tuple[str, int] = ("198.51.100.7", 4000)
                 ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app for `settings` (pool open) and a client whose requests come from `client`."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://miyabi.test") as http:
            yield app, http
