"""The web dashboard's static files, served at `/` from the same origin as the API.

It answers only what no route of the application does (it is the router's fallback, so a route
added later still wins). Every GET outside `/api` that names no file of the dashboard folder is a
page of the app (`/tasks`, `/agents/<id>`, `/verify-email?token=...`): it gets `index.html` and
the app's router takes over. `/api/...` never reaches it, so an unknown API path keeps its JSON 404.
Every answer carries the dashboard's security headers: a Content-Security-Policy without
`unsafe-inline` or `unsafe-eval`, no framing, no referrer (links carry tokens), no sniffing.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

from app.dashboard_policy import CONTENT_SECURITY_POLICY, SECURITY_HEADERS  # noqa: F401
from app.errors import not_found

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
COMPRESSIBLE = {".html", ".js", ".css", ".svg", ".json", ".txt", ".webmanifest"}
INDEX = "index.html"
# The page is never cached (it names the modules of its release); modules only briefly.
CACHE_PAGE, CACHE_MODULE = "no-cache", "public, max-age=300"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str
    cache: str


class Folder:
    """The dashboard's files, read once each (a release's folder never changes while it runs)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._assets: dict[Path, tuple[int, Asset]] = {}

    def find(self, path: str) -> Path | None:
        """The file `path` names inside the folder, if it is one the dashboard serves."""
        parts = [part for part in path.split("/") if part]
        if any(part.startswith(".") for part in parts):
            return None
        candidate = self.root.joinpath(*parts).resolve() if parts else self.root / INDEX
        if not candidate.is_relative_to(self.root) or candidate.suffix not in CONTENT_TYPES:
            return None
        return candidate if candidate.is_file() else None

    def asset(self, file: Path) -> Asset:
        stamp = file.stat().st_mtime_ns
        cached = self._assets.get(file)
        if cached is None or cached[0] != stamp:
            body = file.read_bytes()
            asset = Asset(body, gzip.compress(body, 6, mtime=0) if file.suffix in COMPRESSIBLE else None,
                          '"' + hashlib.sha256(body).hexdigest()[:32] + '"', CONTENT_TYPES[file.suffix],
                          CACHE_PAGE if file == self.root / INDEX else CACHE_MODULE)
            self._assets[file] = cached = (stamp, asset)
        return cached[1]


def respond(request: Request, asset: Asset) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": asset.cache, "ETag": asset.etag,
               "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body, headers["Content-Encoding"] = asset.gzipped, "gzip"
    if request.method == "HEAD":
        return Response(status_code=200, headers={**headers, "Content-Length": str(len(body))},
                        media_type=asset.content_type)
    return Response(body, headers=headers, media_type=asset.content_type)


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def page_for(files: Folder, path: str) -> Path:
    """The file answering GET `path`: a file of the folder, else the app's page (404 for a file)."""
    found = files.find(path)
    if found is None:
        if "." in path.rsplit("/", 1)[-1]:  # a file that is not there: no page answers for it
            raise not_found("file")
        found = files.root / INDEX
        if not found.is_file():
            raise not_found("dashboard")
    return found


def install_dashboard(app: FastAPI, folder: Path) -> None:
    """Serve the dashboard in `folder` for every GET or HEAD that no route answers, outside /api."""
    files = Folder(folder)
    fallback = app.router.default

    async def dashboard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or _is_api(scope["path"]):
            await fallback(scope, receive, send)
            return
        request = Request(scope, receive)
        response = respond(request, files.asset(page_for(files, scope["path"])))
        await response(scope, receive, send)

    app.router.default = dashboard
