"""`invoke infra.capacity` for people: the limits and the monthly costs as rich tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from infra.capacity import Capacity


def print_capacity(capacity: Capacity, console: Console | None = None) -> None:
    """The capacity of the stack's config, its first limit, and its cost at each load."""
    console = console or Console()
    limits = capacity.limits
    table = Table(title=f"stack {capacity.stack}: capacity at {capacity.latency_ms:g} ms per request, "
                        f"{capacity.db_cpu_ms:g} ms database CPU per request")
    for column in ("limit", "requests/s", "from"):
        table.add_column(column)
    table.add_row("Lambda concurrency", f"{limits.lambda_rps:,.0f}",
                  f"reserved concurrency {capacity.concurrency}, less the seed's waiting long polls")
    table.add_row("proxy connections", f"{limits.proxy_rps:,.0f}",
                  f"{capacity.proxy_connections} of {capacity.max_connections} max_connections "
                  f"({capacity.instance})")
    table.add_row("database CPU", f"{limits.database_rps:,.0f}",
                  f"{capacity.instance}'s sustained vCPUs")
    table.add_row(f"[bold]largest rate: {limits.first_limit} first[/bold]",
                  f"[bold]{limits.max_rps:,.0f}[/bold]",
                  f"{capacity.connections_at_max:g} database connections in use at that rate")
    console.print(table)
    costs = Table(title=f"monthly cost, USD (prices as of {capacity.prices_as_of}, infra/prices.json)")
    costs.add_column("item")
    for cost in capacity.costs:
        costs.add_column(f"{cost.load.name}: {cost.load.requests_per_minute:,.0f} req/min, "
                         f"{cost.load.waiting_readers} long polls", justify="right")
    for item in capacity.costs[0].items:
        costs.add_row(item, *(f"{cost.items[item]:,.2f}" for cost in capacity.costs))
    costs.add_row("[bold]total[/bold]", *(f"[bold]{cost.total:,.2f}[/bold]" for cost in capacity.costs))
    costs.add_row("(GB-seconds used)", *(f"{cost.lambda_gb_seconds:,.0f}" for cost in capacity.costs))
    costs.add_row("carried by this config",
                  *("yes" if cost.fits else "[red]no: grow first (runbooks/rds-operations.md)[/red]"
                    for cost in capacity.costs))
    console.print(costs)
