"""The background API server of the local stack: start a release, check it, swap, stop.

What keeps the port serving: one listening socket, created once and then passed from
each release's server to the next (SCM_RIGHTS over a Unix socket in the state folder). A
release's server is a supervisor and its worker processes (serve.py), all in one process
group; every worker accepts on that one socket. The new release's workers accept on the very
socket the old ones accept on; the old release is stopped only after every new worker answers
ready on its private port, and each old worker's graceful shutdown closes only its own
descriptor. No moment exists when nothing listens, and no connection queued on the socket is
lost (SO_REUSEPORT would drop the old listener's queue).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ops.pipeline.errors import PortBusy, ServerFailed
from ops.pipeline.local.releases import Release

_children: list[subprocess.Popen] = []


@dataclass(frozen=True)
class Worker:
    """One worker process of a release's server and its private readiness port."""

    pid: int
    private_port: int


@dataclass(frozen=True)
class Running:
    """The server of one release: its supervisor's pid and its workers."""

    release: str
    pid: int
    workers: tuple[Worker, ...]

    @classmethod
    def of(cls, release: str, state: dict) -> Running:
        return cls(release, state["pid"], tuple(Worker(w["pid"], w["private_port"])
                                                for w in state.get("workers", [])))


def _stat(pid: int) -> list[str]:
    # The fields after the command's name: state, ppid, process group, ...
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Whether `pid` runs and is one of our servers (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = _stat(pid)[0]
    except OSError:
        return False
    return b"serve.py" in cmdline and state != "Z"


def group(pgid: int) -> list[int]:
    """The live server processes of process group `pgid` (a supervisor and its workers)."""
    members = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.name.isdigit() and int(_stat(int(entry.name))[2]) == pgid and alive(int(entry.name)):
                members.append(int(entry.name))
    return members


class Server:
    """The server processes of the local stack, tracked by files under `run/`."""

    def __init__(self, home: Path, port: int, env: dict[str, str], workers: int = 1) -> None:
        self.run_dir, self.log_dir = home / "run", home / "logs"
        self.port, self.env, self.workers = port, env, workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> list[Running]:
        """Every server process still alive, by its state file (dead ones are forgotten)."""
        found = []
        for path in sorted(self.run_dir.glob("*.json")) if self.run_dir.exists() else []:
            state = json.loads(path.read_text() or "{}")
            if state.get("pid") and alive(state["pid"]):
                found.append(Running.of(path.stem, state))
            else:
                path.unlink(missing_ok=True)
                (self.run_dir / f"{path.stem}.sock").unlink(missing_ok=True)
        return found

    def start(self, release: Release, gate: str = "ready", timeout: float = 60) -> Running:
        """Start `release` on the shared socket; wait until every worker answers `gate` (ready|live)."""
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        public = self._public_socket()
        state = self.run_dir / f"{release.id}.json"
        state.unlink(missing_ok=True)
        log = self.log_dir / f"server-{release.id}.log"
        with open(log, "ab") as output, public:
            process = subprocess.Popen(
                [sys.executable, str(release.path / "serve.py"), "--fd", str(public.fileno()),
                 "--state", str(state), "--handoff", str(self.run_dir / f"{release.id}.sock"),
                 "--workers", str(self.workers)],
                cwd=release.path, env=self._env(release),
                pass_fds=[public.fileno()], stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True)
        _children.append(process)  # kept: the server outlives this object by design
        try:
            return self._await(release, process, state, log, gate, timeout)
        except BaseException:
            _terminate(process.pid)
            state.unlink(missing_ok=True)
            raise

    def stop(self, keep: str | None = None) -> list[str]:
        """Stop every server except release `keep`'s, gracefully; returns the stopped ones."""
        stopped = [r for r in self.running() if r.release != keep]
        for server in stopped:
            _terminate(server.pid)
            (self.run_dir / f"{server.release}.json").unlink(missing_ok=True)
            (self.run_dir / f"{server.release}.sock").unlink(missing_ok=True)
        return [s.release for s in stopped]

    def _env(self, release: Release) -> dict[str, str]:
        return {**self.env, "PYTHONPATH": str(release.path), "MIYABI_RELEASE": release.id,
                "MIYABI_MIGRATIONS_DIR": str(release.migrations)}

    def _public_socket(self) -> socket.socket:
        for server in self.running():
            with contextlib.suppress(OSError):
                return _receive_socket(self.run_dir / f"{server.release}.sock")
        public = socket.socket()
        public.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            public.bind(("127.0.0.1", self.port))
        except OSError as error:
            public.close()
            raise PortBusy(self.port) from error
        public.listen(2048)
        public.set_inheritable(True)
        return public

    def _await(self, release: Release, process: subprocess.Popen, state: Path, log: Path,
               gate: str, timeout: float) -> Running:
        path = "/api/health/ready" if gate == "ready" else "/api/health"
        deadline, last = time.monotonic() + timeout, "it did not answer"
        answered: set[int] = set()  # the workers (pids) that answered `gate`
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerFailed(release.id, f"it exited with code {process.returncode}", log)
            running = Running.of(release.id, json.loads(state.read_text())) if state.exists() else None
            for worker in running.workers if running else ():
                if worker.pid in answered:
                    continue
                try:
                    answer = httpx.get(f"http://127.0.0.1:{worker.private_port}{path}", timeout=2)
                    if answer.status_code == 200:
                        answered.add(worker.pid)
                        continue
                    last = f"worker {worker.pid}: {path} answered {answer.status_code}: {answer.text[:200]}"
                except httpx.HTTPError as error:
                    last = f"worker {worker.pid}: {path}: {error}"
                break
            if running and {w.pid for w in running.workers} <= answered:
                return running
            time.sleep(0.1)
        raise ServerFailed(release.id, f"not {gate} after {timeout:.0f} s ({last})", log)


def _receive_socket(handoff: Path) -> socket.socket:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
        channel.settimeout(5)
        channel.connect(str(handoff))
        _, fds, _, _ = socket.recv_fds(channel, 16, 1)
    if not fds:
        raise OSError(f"{handoff} handed over no socket")
    public = socket.socket(fileno=fds[0])
    public.set_inheritable(True)
    return public


def _terminate(pid: int, grace: float = 15) -> None:
    # The supervisor stops its workers, each draining its requests (uvicorn, on SIGTERM); what
    # is left of its process group after the grace is killed, so no worker outlives a stop.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group(pid):
        _reap(pid)
        time.sleep(0.05)
    for left in group(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(left, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
