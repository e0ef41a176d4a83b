"""Serve the release in this folder: uvicorn on an inherited listening socket.

Copied into every release and run from it, so it imports only the standard library,
uvicorn and the release's own `app`. It serves two sockets: the public one it was handed
(`--fd`) and a private port only the pipeline uses to check this very process's readiness.
It also hands its public socket to whoever connects to `--handoff` (a Unix socket in the
state folder, mode 0600): the next release takes the same socket, so the port is never
closed while releases change.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
from pathlib import Path

import uvicorn


def _hand_off(public: socket.socket, path: Path) -> None:
    # Connecting to a Unix socket needs search rights on its folder: with the folder 0700 before
    # the bind, nobody else can reach the socket even in the instant before its own chmod.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent.stat().st_mode & 0o077:
        path.parent.chmod(0o700)
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    path.chmod(0o600)
    listener.listen(4)
    while True:
        connection, _ = listener.accept()
        with connection:
            socket.send_fds(connection, [b"fd"], [public.fileno()])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--handoff", type=Path, required=True)
    args = parser.parse_args()
    public = socket.socket(fileno=args.fd)
    private = socket.socket()
    private.bind(("127.0.0.1", 0))
    private.listen(64)
    args.state.write_text(json.dumps({"pid": os.getpid(), "private_port": private.getsockname()[1]}))
    threading.Thread(target=_hand_off, args=(public, args.handoff), daemon=True).start()
    config = uvicorn.Config("app.main:app", access_log=False, timeout_graceful_shutdown=10,
                            log_level="info", backlog=2048)
    uvicorn.Server(config).run(sockets=[public, private])


if __name__ == "__main__":
    main()
