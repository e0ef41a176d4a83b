"""The capacity and cost model on paper: what a stack's config carries, and what it costs a month.

Inputs: the stack's config (reserved concurrency, memory, proxy share, instance class, storage,
Multi-AZ, NAT), a per-request latency and the database CPU per request (`benchmarks.api_tasks`
measures both), and the price table `infra/prices.json` with its date.

- Lambda: by Little's law the largest request rate is (concurrency − waiting readers) ÷ latency.
  On Lambda a waiting long poll (an open dashboard) holds an instance for its whole wait.
- Proxy: each API instance holds CONNECTIONS_PER_INSTANCE connection(s) for the whole request (an
  upper bound: the proxy gives a connection back between transactions), so the proxy carries
  its connections ÷ latency.
- Database CPU: the class's sustained vCPUs (the burst baseline of t3/t4g) ÷ CPU per request,
  less what the readers' polls cost (one short read per poll interval each).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.capacity_tables import CONNECTIONS_PER_INSTANCE, instance_class, proxy_connections
from infra.config import StackConfig
from infra.errors import InfraError

PRICES = Path(__file__).resolve().parent / "prices.json"
POLL_SECONDS = 0.3  # MIYABI_EVENTS_POLL_MS on Lambda (app/settings.py's default)
# Without a benchmark's figure: a page of tasks under RLS, about what pgbench measures here.
DEFAULT_DB_CPU_MS = 2.0


class NoPrice(InfraError):
    """The price table has no figure for something the stack uses (add it, with the date)."""


@dataclass(frozen=True)
class Load:
    name: str
    requests_per_minute: float
    waiting_readers: int  # long polls waiting at any moment (open dashboards)


@dataclass(frozen=True)
class Limits:
    lambda_rps: float
    proxy_rps: float
    database_rps: float

    @property
    def max_rps(self) -> float:
        return min(self.lambda_rps, self.proxy_rps, self.database_rps)

    @property
    def first_limit(self) -> str:
        figures = {"Lambda concurrency": self.lambda_rps, "proxy connections": self.proxy_rps,
                   "database CPU": self.database_rps}
        return min(figures, key=figures.__getitem__)


@dataclass(frozen=True)
class MonthlyCost:
    load: Load
    requests: float
    lambda_gb_seconds: float
    items: dict[str, float]
    fits: bool

    @property
    def total(self) -> float:
        return sum(self.items.values())


@dataclass(frozen=True)
class Capacity:
    stack: str
    latency_ms: float
    db_cpu_ms: float
    concurrency: int
    proxy_connections: int
    max_connections: int
    instance: str
    limits: Limits
    connections_at_max: float
    costs: list[MonthlyCost]
    prices_as_of: str

    def to_dict(self) -> dict:
        """The `--json` document."""
        return {
            "stack": self.stack, "latency_ms": self.latency_ms, "db_cpu_ms": self.db_cpu_ms,
            "reserved_concurrency": self.concurrency, "instance_class": self.instance,
            "max_connections": self.max_connections, "proxy_connections": self.proxy_connections,
            "limits": {**asdict(self.limits), "max_rps": self.limits.max_rps,
                       "first_limit": self.limits.first_limit},
            "connections_at_max": self.connections_at_max,
            "costs": [{"load": asdict(c.load), "requests": c.requests, "fits": c.fits,
                       "lambda_gb_seconds": c.lambda_gb_seconds, "items": c.items,
                       "total": round(c.total, 2)} for c in self.costs],
            "prices_as_of": self.prices_as_of,
        }


def read_prices(path: Path = PRICES) -> dict:
    return json.loads(path.read_text())


def loads(prices: dict) -> list[Load]:
    """The seed's load and `growth_factor` times it."""
    seed, factor = prices["assumptions"]["seed"], prices["assumptions"]["growth_factor"]
    return [Load("seed", seed["requests_per_minute"], seed["waiting_readers"]),
            Load(f"{factor}× seed", seed["requests_per_minute"] * factor,
                 seed["waiting_readers"] * factor)]


def model(config: StackConfig, latency_ms: float, db_cpu_ms: float, prices: dict,
          readers: int | None = None) -> Capacity:
    """The capacity and the monthly cost of `config` at the seed's load and at its growth."""
    figures = instance_class(config.db_instance_class)
    seed_readers = prices["assumptions"]["seed"]["waiting_readers"] if readers is None else readers
    latency = latency_ms / 1000
    allowed = proxy_connections(figures, config.proxy_max_connections_percent)
    limits = Limits(
        lambda_rps=max(config.api_reserved_concurrency - seed_readers, 0) / latency,
        proxy_rps=allowed / CONNECTIONS_PER_INSTANCE / latency,
        database_rps=max(figures.sustained_vcpus * 1000 / db_cpu_ms - seed_readers / POLL_SECONDS, 0),
    )
    at_max = min(limits.max_rps * latency * CONNECTIONS_PER_INSTANCE, allowed)
    growth = loads(prices)
    if readers is not None:
        growth = [Load(g.name, g.requests_per_minute, readers * (g.requests_per_minute //
                       growth[0].requests_per_minute)) for g in growth]
    costs = [monthly_cost(config, load, latency_ms, db_cpu_ms, prices) for load in growth]
    return Capacity(config.stack, latency_ms, db_cpu_ms, config.api_reserved_concurrency, allowed,
                    figures.max_connections, figures.name, limits, round(at_max, 1), costs,
                    prices["as_of"])


def monthly_cost(config: StackConfig, load: Load, latency_ms: float, db_cpu_ms: float,
                 prices: dict) -> MonthlyCost:
    """Each item's monthly cost at `load` (USD), and whether the config carries that load."""
    hours = prices["hours_per_month"]
    seconds = hours * 3600
    wait = prices["assumptions"]["long_poll_wait_seconds"]
    requests = load.requests_per_minute * 60 * hours
    polls = load.waiting_readers * seconds / wait  # each reader asks again after every wait
    memory_gb = config.lambda_memory_mb / 1024
    gb_seconds = requests * latency_ms / 1000 * memory_gb + load.waiting_readers * seconds * memory_gb
    figures = instance_class(config.db_instance_class)
    hourly = prices["rds_postgres_instance_hour_single_az"].get(config.db_instance_class)
    if hourly is None:
        raise NoPrice(f"infra/prices.json has no hourly price for {config.db_instance_class}")
    multi_az = prices["rds_multi_az_factor"] if config.db_multi_az else 1
    proxy = prices["rds_proxy"]
    response_gb = (requests + polls) * prices["assumptions"]["response_kb"] / 1024**2
    items = {
        "Lambda GB-seconds": gb_seconds * prices["lambda"]["gb_second_x86"],
        "Lambda requests": (requests + polls) / 1e6 * prices["lambda"]["per_million_requests"],
        "HTTP API requests": (requests + polls) / 1e6 * prices["http_api"]["per_million_requests"],
        "RDS instance": hourly * hours * multi_az,
        "RDS storage": config.db_allocated_storage_gb * prices["rds_gp3_gb_month"] * multi_az,
        "RDS Proxy": max(figures.vcpus, proxy["minimum_vcpus"]) * proxy["vcpu_hour"] * hours,
        "NAT gateway": prices["nat_gateway"]["hour"] * hours if config.nat_gateway else 0.0,
        "CloudFront": response_gb * prices["cloudfront"]["gb_out_europe"]
                      + (requests + polls) / 1e4 * prices["cloudfront"]["per_10k_https_requests_europe"],
    }
    rate = load.requests_per_minute / 60
    limits_fit = (
        load.waiting_readers < config.api_reserved_concurrency
        and rate <= (config.api_reserved_concurrency - load.waiting_readers) / (latency_ms / 1000)
        and rate * db_cpu_ms / 1000 + load.waiting_readers / POLL_SECONDS * db_cpu_ms / 1000
        <= figures.sustained_vcpus
        and math.ceil(rate * latency_ms / 1000) * CONNECTIONS_PER_INSTANCE
        <= proxy_connections(figures, config.proxy_max_connections_percent)
    )
    return MonthlyCost(load, requests, round(gb_seconds), {k: round(v, 2) for k, v in items.items()},
                       limits_fit)
