"""infra/capacity.py: the capacity and cost model's arithmetic on a fixed configuration."""

from __future__ import annotations

import json

import pytest
from invoke import Context
from rich.console import Console

from infra.capacity import model, read_prices
from infra.capacity_report import print_capacity
from infra.config import StackConfig
from ops.tasks import infra as infra_tasks

PRICES = {
    "as_of": "2026-01-01", "hours_per_month": 730,
    "lambda": {"gb_second_x86": 0.00001, "per_million_requests": 0.2},
    "http_api": {"per_million_requests": 1.0},
    "rds_postgres_instance_hour_single_az": {"db.t3.small": 0.04},
    "rds_multi_az_factor": 2, "rds_gp3_gb_month": 0.1,
    "rds_proxy": {"vcpu_hour": 0.02, "minimum_vcpus": 2},
    "nat_gateway": {"hour": 0.05, "gb_processed": 0.05},
    "cloudfront": {"gb_out_europe": 0.1, "per_10k_https_requests_europe": 0.01},
    "assumptions": {"response_kb": 1024, "growth_factor": 100, "long_poll_wait_seconds": 20,
                    "seed": {"users": 100, "requests_per_minute": 600, "waiting_readers": 0}},
}
CONFIG = StackConfig(stack="prod", db_instance_class="db.t3.small", db_multi_az=True,
                     db_allocated_storage_gb=50, lambda_memory_mb=1024, nat_gateway=True,
                     api_reserved_concurrency=100, proxy_max_connections_percent=80)


def test_limits_on_a_fixed_configuration() -> None:
    capacity = model(CONFIG, latency_ms=50, db_cpu_ms=2, prices=PRICES)
    assert capacity.limits.lambda_rps == pytest.approx(100 / 0.05)  # 2,000
    assert capacity.proxy_connections == 180  # 80% of 225
    assert capacity.limits.proxy_rps == pytest.approx(180 / 0.05)  # 3,600
    assert capacity.limits.database_rps == pytest.approx(0.4 * 1000 / 2)  # 2 vCPU × 20 % ÷ 2 ms
    assert capacity.limits.max_rps == pytest.approx(200)
    assert capacity.limits.first_limit == "database CPU"
    assert capacity.connections_at_max == pytest.approx(10)  # 200/s × 0.05 s


def test_monthly_cost_at_the_seed_and_at_100x() -> None:
    seed, grown = model(CONFIG, latency_ms=50, db_cpu_ms=2, prices=PRICES).costs
    requests = 600 * 60 * 730  # 26,280,000
    assert seed.requests == requests and grown.requests == requests * 100
    assert seed.lambda_gb_seconds == round(requests * 0.05 * 1)
    assert seed.items == {
        "Lambda GB-seconds": round(requests * 0.05 * 0.00001, 2),
        "Lambda requests": round(requests / 1e6 * 0.2, 2),
        "HTTP API requests": round(requests / 1e6 * 1.0, 2),
        "RDS instance": round(0.04 * 730 * 2, 2),
        "RDS storage": round(50 * 0.1 * 2, 2),
        "RDS Proxy": round(2 * 0.02 * 730, 2),
        "NAT gateway": round(0.05 * 730, 2),
        "CloudFront": round(requests * 1024 / 1024**2 * 0.1 + requests / 1e4 * 0.01, 2),
    }
    assert seed.fits and not grown.fits  # 1,000 req/s is beyond the database's 200
    assert grown.items["RDS instance"] == seed.items["RDS instance"]


def test_waiting_long_polls_take_concurrency_and_gb_seconds() -> None:
    quiet = model(CONFIG, latency_ms=50, db_cpu_ms=2, prices=PRICES)
    busy = model(CONFIG, latency_ms=50, db_cpu_ms=2, prices=PRICES, readers=40)
    assert busy.limits.lambda_rps == pytest.approx((100 - 40) / 0.05)
    assert busy.limits.database_rps == pytest.approx(200 - 40 / 0.3)
    # Each waiting reader holds an instance (1 GB here) the whole month.
    extra = busy.costs[0].lambda_gb_seconds - quiet.costs[0].lambda_gb_seconds
    assert extra == pytest.approx(40 * 730 * 3600, rel=1e-6)


def test_the_price_table_is_dated_and_names_its_sources() -> None:
    prices = read_prices()
    assert prices["as_of"] and prices["sources"] and prices["region"] == "eu-west-1"
    for stack in ("dev", "staging", "prod"):
        from infra.config import load_stack_config

        assert load_stack_config(stack).db_instance_class in prices["rds_postgres_instance_hour_single_az"]


def test_the_task_prints_json_and_tables(capsys) -> None:
    infra_tasks.capacity.body(Context(), stack="prod", latency_ms=40, db_cpu_ms=2, json=True)
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "prod" and document["limits"]["first_limit"]
    assert [c["load"]["name"] for c in document["costs"]] == ["seed", "100× seed"]
    console = Console(record=True, width=200)
    print_capacity(model(CONFIG, latency_ms=50, db_cpu_ms=2, prices=PRICES), console)
    text = console.export_text()
    assert "largest rate: database CPU first" in text and "prices as of 2026-01-01" in text


def test_the_task_reads_the_latest_benchmark_figures(tmp_path, monkeypatch, capsys) -> None:
    import argparse

    from benchmarks.api_tasks import Measured, latest_figures, write_figures

    monkeypatch.setenv("MIYABI_HOME", str(tmp_path))
    args = argparse.Namespace(clients=50, tasks=10_000)
    write_figures(tmp_path, args, Measured(rps=900, p50=20, p95=45.5, p99=80, errors=0, client="wrk"),
                  ceiling=2000)
    figures = latest_figures(tmp_path)
    assert figures["p95_ms"] == 45.5 and figures["db_cpu_ms_per_request"] == pytest.approx(
        figures["cpus"] * 1000 / 2000)
    infra_tasks.capacity.body(Context(), stack="staging", json=True)
    document = json.loads(capsys.readouterr().out)
    assert document["latency_ms"] == 45.5 and document["db_cpu_ms"] == figures["db_cpu_ms_per_request"]
    infra_tasks.capacity.body(Context(), stack="staging", latency_ms=10, json=True)
    assert json.loads(capsys.readouterr().out)["latency_ms"] == 10  # --latency-ms overrides
