"""benchmarks/cold_start.py reads `-X importtime` reports right."""

from __future__ import annotations

from benchmarks.cold_start import cumulative_ms, first_request, import_once, parse_importtime, timed_import

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
