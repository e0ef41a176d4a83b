"""Serve the release in this folder: uvicorn workers on an inherited listening socket.

Copied into every release and run from it, so it imports only the standard library,
uvicorn and the release's own `app`. Started by the pipeline (`--fd`, `--state`, `--handoff`,
`--workers`), it is a supervisor that accepts nothing itself: it starts `--workers` copies of
itself as workers (`--worker`), pre-fork style. Every worker accepts on the public socket it was
handed and on a private port of its own, which only the pipeline uses to check that very
worker's readiness; the supervisor binds those private ports, so a worker that replaces a dead
one answers on the same port. The supervisor writes its pid and its workers to `--state`,
replaces a worker that dies, stops all of them gracefully on SIGTERM, and hands its public
socket to whoever connects to `--handoff` (a Unix socket in the state folder, mode 0600): the
next release takes the same socket, so the port is never closed while releases change. A
worker whose supervisor is gone stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

# A worker's exit code when the release's app did not start (uvicorn's own code for it).
STARTUP_FAILURE = 3
# A worker drains its requests for up to uvicorn's graceful timeout (10 s); then it is killed.
WORKER_GRACE_SECONDS = 12
# A stopping worker reads, for this long, the requests of connections it accepted just before it
# stopped accepting, before uvicorn closes every connection that has no request in progress.
ACCEPTED_READ_SECONDS = 0.5
# A worker that dies this soon after its start is replaced only after RESTART_PAUSE_SECONDS,
# so a worker that cannot stay up (its database gone, say) is not restarted in a hot loop.
SHORT_LIFE_SECONDS, RESTART_PAUSE_SECONDS = 10, 1


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


def _log(message: str) -> None:
    print(f"supervisor [{os.getpid()}]: {message}", file=sys.stderr, flush=True)


class _Worker:
    """One worker slot: its private readiness socket and the process serving it now."""

    def __init__(self, public: socket.socket) -> None:
        self.public = public
        self.private = socket.socket()
        self.private.bind(("127.0.0.1", 0))
        self.private.listen(64)
        self.replacements = 0
        self.process = self._start()

    @property
    def private_port(self) -> int:
        return self.private.getsockname()[1]

    def _start(self) -> subprocess.Popen:
        self.started = time.monotonic()
        fds = [self.public.fileno(), self.private.fileno()]
        return subprocess.Popen([sys.executable, __file__, "--worker", "--fd", str(fds[0]),
                                 "--private-fd", str(fds[1])], pass_fds=fds)

    def replace(self) -> None:
        self.replacements += 1
        self.process = self._start()

    @property
    def short_lived(self) -> bool:
        return time.monotonic() - self.started < SHORT_LIFE_SECONDS


class Supervisor:
    """`count` workers on the public socket, kept up until SIGTERM or SIGINT."""

    def __init__(self, public: socket.socket, count: int, state: Path) -> None:
        self.public, self.count, self.state = public, count, state
        self.stopping = False  # a plain flag: a signal handler must not take locks (Event.set does)

    def _stop_soon(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> int:
        """Serve until told to stop; 0, or STARTUP_FAILURE when a first worker could not start."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop_soon)
        workers = [_Worker(self.public) for _ in range(self.count)]
        self._write_state(workers)
        code = 0
        while not self.stopping:
            time.sleep(0.2)
            code = self._keep_up(workers)
            if code:
                break
        self._stop(workers)
        return code

    def _keep_up(self, workers: list[_Worker]) -> int:
        for index, worker in enumerate(workers):
            returncode = worker.process.poll()
            if returncode is None:
                continue
            if returncode == STARTUP_FAILURE and not worker.replacements:
                _log(f"worker {index} (pid {worker.process.pid}) failed to start; stopping all")
                return STARTUP_FAILURE
            _log(f"worker {index} (pid {worker.process.pid}) exited with code {returncode}; "
                 "starting another")
            if worker.short_lived:
                time.sleep(RESTART_PAUSE_SECONDS)
            if self.stopping:
                return 0
            worker.replace()
            self._write_state(workers)
        return 0

    def _write_state(self, workers: list[_Worker]) -> None:
        state = {"pid": os.getpid(), "workers": [
            {"pid": w.process.pid, "private_port": w.private_port} for w in workers]}
        partial = self.state.with_name(self.state.name + ".tmp")
        partial.write_text(json.dumps(state))
        partial.replace(self.state)  # readers never see half a file

    @staticmethod
    def _stop(workers: list[_Worker]) -> None:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        deadline = time.monotonic() + WORKER_GRACE_SECONDS
        for worker in workers:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


def _stop_when_orphaned(server: uvicorn.Server, supervisor: int) -> None:
    while os.getppid() == supervisor:
        time.sleep(1)
    server.should_exit = True


def draining_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server whose graceful shutdown loses no request already sent to it.

    uvicorn stops accepting and at once closes each connection with no request in progress; one
    it accepted an instant before may hold a request its event loop has not read yet, and that
    client would see the connection closed without an answer (during every swap of releases,
    whose workers share the listening socket). This server stops accepting first, so new
    connections go to the workers that stay, reads for ACCEPTED_READ_SECONDS, and only then
    shuts down as uvicorn does: what it read by then is answered.
    """
    import asyncio

    import uvicorn

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            await asyncio.sleep(ACCEPTED_READ_SECONDS)
            await super().shutdown(sockets)

    return DrainingServer(config)


def work(public: socket.socket, private: socket.socket) -> int:
    """Serve the release's app on both sockets until SIGTERM; the exit code."""
    import uvicorn  # in the workers only: the supervisor stays small

    config = uvicorn.Config("app.main:app", access_log=False, timeout_graceful_shutdown=10,
                            log_level="info", backlog=2048)
    server = draining_server(config)
    threading.Thread(target=_stop_when_orphaned, args=(server, os.getppid()), daemon=True).start()
    try:
        server.run(sockets=[public, private])
    except (Exception, SystemExit):
        if server.started:
            raise
        traceback.print_exc()  # the app does not import: a broken release, not a crash
    return 0 if server.started else STARTUP_FAILURE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--handoff", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help="serve, as one of the workers")
    parser.add_argument("--private-fd", type=int)
    args = parser.parse_args()
    public = socket.socket(fileno=args.fd)
    if args.worker:
        sys.exit(work(public, socket.socket(fileno=args.private_fd)))
    threading.Thread(target=_hand_off, args=(public, args.handoff), daemon=True).start()
    sys.exit(Supervisor(public, args.workers, args.state).run())


if __name__ == "__main__":
    main()
