"""Benchmark (not a test): the cold import of the Lambda API handler, `app.lambda_handler`.

    python -m benchmarks.cold_start [--runs 5] [--module app.lambda_handler] [--top 15]

Each run is a fresh interpreter, `python -X importtime -c "import app.lambda_handler"`, as
Lambda's init phase starts one: the figure is the module's cumulative import time that
`-X importtime` reports (its median over the runs, and the fastest), next to the modules that cost
the most on their own in the fastest run, and next to its peer: `import fastapi` alone in the same
way (the framework's floor: no application on it imports in less). Target: under 300 ms. On a
machine shared with other work, the fastest run is the fairest figure; the median says how noisy
the machine was.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from app.settings import REPOSITORY_ROOT

TARGET_MS = 300
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


@dataclass(frozen=True)
class Imported:
    """One module of an `-X importtime` report: its own and its cumulative time (microseconds)."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters to import in")
    parser.add_argument("--module", default="app.lambda_handler", help="the module to import")
    parser.add_argument("--top", type=int, default=15, help="modules listed by their own time")
    args = parser.parse_args()
    console = Console()
    import_once(args.module)  # the first run may write bytecode caches; it is not counted
    timed = [timed_import(args.module) for _ in range(args.runs)]
    runs, cpu = [run for run, _ in timed], [ms for _, ms in timed]
    times = [cumulative_ms(run, args.module) for run in runs]
    fastest = runs[times.index(min(times))]
    peer = [timed_import("fastapi") for _ in range(args.runs)]
    floor, floor_cpu = [cumulative_ms(run, "fastapi") for run, _ in peer], [ms for _, ms in peer]

    table = Table(title=f"cold import of {args.module}, {args.runs} fresh interpreters "
                        f"(python -X importtime)")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    table.add_row("import time, fastest run", f"{min(times):.0f} ms", f"< {TARGET_MS} ms")
    table.add_row("import time, median", f"{statistics.median(times):.0f} ms", "")
    table.add_row("CPU of the whole interpreter, fastest / median",
                  f"{min(cpu):.0f} / {statistics.median(cpu):.0f} ms", "")
    table.add_row("peer: import fastapi alone, fastest / median",
                  f"{min(floor):.0f} / {statistics.median(floor):.0f} ms", "")
    table.add_row("peer: CPU of an interpreter importing fastapi, fastest / median",
                  f"{min(floor_cpu):.0f} / {statistics.median(floor_cpu):.0f} ms", "")
    table.add_row("modules imported", str(len(fastest)), "")
    for heavy in ("boto3", "botocore", "sentry_sdk", "yoyo", "sqlparse"):
        table.add_row(f"imports {heavy}", "yes" if any(m.module == heavy for m in fastest) else "no", "")
    console.print(table)

    own = Table(title=f"the {args.top} modules costing most on their own (fastest run)")
    for column in ("module", "own ms", "cumulative ms"):
        own.add_column(column)
    for m in sorted(fastest, key=lambda m: m.self_us, reverse=True)[: args.top]:
        own.add_row(m.module, f"{m.self_us / 1000:.1f}", f"{m.cumulative_us / 1000:.1f}")
    console.print(own)


if __name__ == "__main__":
    main()
