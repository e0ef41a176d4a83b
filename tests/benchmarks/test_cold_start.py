"""benchmarks/cold_start.py reads `-X importtime` reports right and times fresh interpreters,
of this checkout and of Lambda's Python on an unpacked package."""

from __future__ import annotations

from pathlib import Path

from benchmarks.cold_start import (
    cumulative_ms,
    first_request,
    import_once,
    on_lambda,
    parse_importtime,
    timed_import,
)
from benchmarks.lambda_package import bytecode_files

REPORT = """import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      2000 |       2500 |     json.decoder
import time:       500 |       3000 |   json
import time:      1000 |       4000 | app.lambda_handler
"""


def test_parse_reads_own_and_cumulative_times_and_depth() -> None:
    modules = parse_importtime(REPORT)
    assert [(m.module, m.self_us, m.cumulative_us, m.depth) for m in modules] == [
        ("_io", 120, 120, 1), ("json.decoder", 2000, 2500, 2), ("json", 500, 3000, 1),
        ("app.lambda_handler", 1000, 4000, 0)]
    assert cumulative_ms(modules, "app.lambda_handler") == 4.0


def test_a_real_import_is_measured_in_a_fresh_interpreter() -> None:
    modules = import_once("json")
    assert cumulative_ms(modules, "json") > 0


def test_the_interpreter_cpu_is_counted() -> None:
    modules, cpu_ms = timed_import("json")
    assert cumulative_ms(modules, "json") > 0 and cpu_ms > 0


def test_the_first_request_is_timed_after_the_import():
    cold = first_request()  # raises unless GET /api/health answered 200
    assert 0 < cold.import_ms < cold.total_ms and cold.cpu_ms > 0
    assert cold.modules > 100  # the application was built: FastAPI and the routes are in


STUB_HANDLER = """
import sys
def handler(event, context):  # answers as Mangum does; says whether site-packages were on the path
    return {"statusCode": 200 if "site" not in sys.modules else 500, "body": event["rawPath"]}
"""


def test_lambdas_python_runs_the_package_alone_and_writes_no_bytecode(tmp_path: Path, lambda_python: Path):
    (tmp_path / "stub_handler.py").write_text(STUB_HANDLER)
    runtime = on_lambda(lambda_python, tmp_path)
    cold = first_request("stub_handler", runtime)  # raises unless the stub answered 200: no site
    assert 0 < cold.import_ms < cold.total_ms and cold.cpu_ms > 0
    assert cumulative_ms(import_once("stub_handler", runtime), "stub_handler") > 0
    assert bytecode_files(tmp_path) == 0  # every run compiles the sources, as on a read-only /var/task
