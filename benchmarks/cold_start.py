"""Benchmark (not a test): the cold start of the Lambda API handler, `app.lambda_handler`.

    python -m benchmarks.cold_start [--runs 5] [--module app.lambda_handler] [--top 15]

Each run is a fresh interpreter, as Lambda's init phase starts one, and measures two figures:

- the import: `python -X importtime -c "import app.lambda_handler"`, the module's cumulative
  import time (the issue's figure; target under 300 ms);
- the import and the first request: in another fresh interpreter, the import and then one
  API Gateway event (`GET /api/health`, which needs no database) through `handler`, in wall
  time and in the CPU time of the interpreter. Work moved out of the import into the first
  request shows here: a cold start is only faster when this figure drops.

Next to them, their peer: `import fastapi` alone (the framework's floor: no application on it
imports in less), and the modules that cost the most on their own. On a machine shared with
other work, the fastest run is the fairest figure; the median says how noisy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from app.settings import REPOSITORY_ROOT

TARGET_MS = 300
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
# Imported only where they are installed: the Lambda package carries none of them.
NOT_ON_LAMBDA = ("cryptography",)

# Run in a fresh interpreter: the import, then one liveness request through the handler.
FIRST_REQUEST = """
import json, sys, time
from types import SimpleNamespace
started, cpu = time.perf_counter(), time.process_time()
import {module} as handler
imported = time.perf_counter()
event = {{"version": "2.0", "routeKey": "$default", "rawPath": "/api/health", "rawQueryString": "",
          "headers": {{"host": "api.example.com"}}, "body": None, "isBase64Encoded": False,
          "requestContext": {{"accountId": "1", "apiId": "api", "domainName": "api.example.com",
                             "domainPrefix": "api", "requestId": "cold", "routeKey": "$default",
                             "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
                             "http": {{"method": "GET", "path": "/api/health", "protocol": "HTTP/1.1",
                                      "sourceIp": "203.0.113.7", "userAgent": "cold-start"}}}}}}
answer = handler.handler(event, SimpleNamespace(function_name="miyabi-api", aws_request_id="cold"))
done = time.perf_counter()
print(json.dumps({{"status": answer["statusCode"], "import_ms": (imported - started) * 1000,
                  "total_ms": (done - started) * 1000, "cpu_ms": (time.process_time() - cpu) * 1000,
                  "modules": len(sys.modules)}}))
"""


@dataclass(frozen=True)
class Imported:
    """One module of an `-X importtime` report: its own and its cumulative time (microseconds)."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int


@dataclass(frozen=True)
class FirstRequest:
    """One cold start: import, then the first request (ms of wall time; CPU of the interpreter)."""

    import_ms: float
    total_ms: float
    cpu_ms: float
    modules: int


def parse_importtime(report: str) -> list[Imported]:
    """The modules of an `-X importtime` report (stderr), in the order it lists them."""
    modules = []
    for line in report.splitlines():
        if match := LINE.match(line):
            own, cumulative, indent, name = match.groups()
            modules.append(Imported(name, int(own), int(cumulative), len(indent) // 2))
    return modules


def import_once(module: str) -> list[Imported]:
    """Import `module` in a fresh interpreter with `-X importtime`; its report."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          cwd=REPOSITORY_ROOT, capture_output=True, text=True, check=True)
    return parse_importtime(done.stderr)


def timed_import(module: str) -> tuple[list[Imported], float]:
    """`import_once`, and the CPU milliseconds its interpreter used (start-up included).

    CPU time, unlike the wall-clock times of `-X importtime`, barely moves when other work
    shares the machine.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    modules = import_once(module)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return modules, cpu * 1000


def cumulative_ms(modules: list[Imported], module: str) -> float:
    """The cumulative import time of `module` in one report, in milliseconds."""
    return next(m.cumulative_us for m in modules if m.module == module) / 1000


def first_request(module: str = "app.lambda_handler") -> FirstRequest:
    """Import `module` and send its `handler` one `GET /api/health` event, in a fresh interpreter.

    The settings are local ones (a throwaway state folder and JWT secret): the liveness route
    answers without a database, so the figure is the application's own start.
    """
    with tempfile.TemporaryDirectory(prefix="miyabi-cold-") as home:
        env = {**os.environ, "MIYABI_HOME": home, "MIYABI_JWT_SECRET": "cold-start-" + "x" * 40,
               "MIYABI_LOG_JSON": "false"}
        done = subprocess.run([sys.executable, "-c", FIRST_REQUEST.format(module=module)],
                              cwd=REPOSITORY_ROOT, env=env, capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.splitlines()[-1])
    if figures["status"] != 200:
        raise RuntimeError(f"the first request answered {figures['status']}: {done.stderr[-500:]}")
    return FirstRequest(figures["import_ms"], figures["total_ms"], figures["cpu_ms"], figures["modules"])


def fastest_and_median(values: list[float]) -> str:
    return f"{min(values):.0f} / {statistics.median(values):.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per figure")
    parser.add_argument("--module", default="app.lambda_handler", help="the module to import")
    parser.add_argument("--top", type=int, default=15, help="modules listed by their own time")
    args = parser.parse_args()
    console = Console()
    import_once(args.module)  # the first run may write bytecode caches; it is not counted
    timed = [timed_import(args.module) for _ in range(args.runs)]
    runs, cpu = [run for run, _ in timed], [ms for _, ms in timed]
    times = [cumulative_ms(run, args.module) for run in runs]
    fastest = runs[times.index(min(times))]
    cold = [first_request(args.module) for _ in range(args.runs)]
    peer = [timed_import("fastapi") for _ in range(args.runs)]
    floor, floor_cpu = [cumulative_ms(run, "fastapi") for run, _ in peer], [ms for _, ms in peer]

    table = Table(title=f"cold start of {args.module}, {args.runs} fresh interpreters per figure "
                        f"(fastest / median)")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    table.add_row("import time (python -X importtime)", fastest_and_median(times), f"< {TARGET_MS} ms")
    table.add_row("CPU of the interpreter that imports", fastest_and_median(cpu), "")
    table.add_row("import + first request (GET /api/health), wall",
                  fastest_and_median([c.total_ms for c in cold]), "")
    table.add_row("import + first request, CPU of the interpreter",
                  fastest_and_median([c.cpu_ms for c in cold]), "")
    table.add_row("peer: import fastapi alone (python -X importtime)", fastest_and_median(floor), "")
    table.add_row("peer: CPU of an interpreter importing fastapi", fastest_and_median(floor_cpu), "")
    table.add_row("modules imported: by the import / after the first request",
                  f"{len(fastest)} / {cold[0].modules}", "")
    for heavy in ("fastapi", "boto3", "botocore", "sentry_sdk", "yoyo", "sqlparse", *NOT_ON_LAMBDA):
        note = " (installed here, not in the Lambda package)" if heavy in NOT_ON_LAMBDA else ""
        table.add_row(f"the import imports {heavy}{note}",
                      "yes" if any(m.module == heavy for m in fastest) else "no", "")
    console.print(table)

    own = Table(title=f"the {args.top} modules costing most on their own (fastest import)")
    for column in ("module", "own ms", "cumulative ms"):
        own.add_column(column)
    for m in sorted(fastest, key=lambda m: m.self_us, reverse=True)[: args.top]:
        own.add_row(m.module, f"{m.self_us / 1000:.1f}", f"{m.cumulative_us / 1000:.1f}")
    console.print(own)


if __name__ == "__main__":
    main()
