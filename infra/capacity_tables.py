"""The figures the connection budget and the capacity model stand on, and how they are derived.

RDS for PostgreSQL's default `max_connections` is `LEAST({DBInstanceClassMemory/9531392}, 5000)`
(the default parameter group's formula). Taking DBInstanceClassMemory as the class's memory:

| class | memory | vCPU | sustained CPU (burst baseline) | default max_connections |
| --- | --- | --- | --- | --- |
| db.t3.micro / db.t4g.micro | 1 GiB | 2 | 10 % per vCPU | 1073741824 / 9531392 = 112 |
| db.t3.small / db.t4g.small | 2 GiB | 2 | 20 % | 225 |
| db.t3.medium / db.t4g.medium | 4 GiB | 2 | 20 % | 450 |
| db.t3.large / db.t4g.large | 8 GiB | 2 | 30 % | 901 |
| db.m*.large (4 GiB per vCPU) | 8 GiB | 2 | 100 % | 901 |
| db.r*.large (8 GiB per vCPU) | 16 GiB | 2 | 100 % | 1802 |

RDS reserves part of the memory for itself, so the real DBInstanceClassMemory (and the figure the
instance reports as `SHOW max_connections`) is a little lower: a budget sized against these
figures leaves its remaining share as the margin, never 0. The burstable classes (t3, t4g) run
above their baseline only while they have CPU credits; the capacity model takes the baseline as
what they sustain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CONNECTIONS_DIVISOR = 9_531_392
MAX_CONNECTIONS_CAP = 5_000
GIB = 1024**3
# The API function's pool on Lambda: one instance serves one request at a time, and its long poll
# reads the feed on that same connection (no LISTEN connection behind RDS Proxy).
CONNECTIONS_PER_INSTANCE = 1

_BURSTABLE = {  # size: (GiB, vCPU, baseline share of each vCPU)
    "micro": (1, 2, 0.10), "small": (2, 2, 0.20), "medium": (4, 2, 0.20),
    "large": (8, 2, 0.30), "xlarge": (16, 4, 0.40), "2xlarge": (32, 8, 0.40),
}
_SIZES = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48,
          "16xlarge": 64, "24xlarge": 96}
_GIB_PER_VCPU = {"m": 4, "r": 8}


class UnknownInstanceClass(ValueError):
    """An instance class missing from the table (add it with its memory and vCPUs)."""


@dataclass(frozen=True)
class InstanceClass:
    name: str
    memory_gib: int
    vcpus: int
    baseline: float  # the share of each vCPU it sustains (1.0 unless burstable)

    @property
    def max_connections(self) -> int:
        """RDS's default: LEAST({DBInstanceClassMemory/9531392}, 5000)."""
        return min(self.memory_gib * GIB // MAX_CONNECTIONS_DIVISOR, MAX_CONNECTIONS_CAP)

    @property
    def sustained_vcpus(self) -> float:
        return self.vcpus * self.baseline


def instance_class(name: str) -> InstanceClass:
    """The figures of an RDS instance class such as db.t3.small or db.m7g.large."""
    match = re.fullmatch(r"db\.([a-z])(\d+)([a-z]*)\.(\w+)", name)
    if match is None:
        raise UnknownInstanceClass(name)
    letter, _, _, size = match.groups()
    if letter == "t" and size in _BURSTABLE:
        memory, vcpus, baseline = _BURSTABLE[size]
        return InstanceClass(name, memory, vcpus, baseline)
    if letter in _GIB_PER_VCPU and size in _SIZES:
        vcpus = _SIZES[size]
        return InstanceClass(name, vcpus * _GIB_PER_VCPU[letter], vcpus, 1.0)
    raise UnknownInstanceClass(name)


def proxy_connections(instance: InstanceClass, max_connections_percent: int) -> int:
    """How many database connections RDS Proxy may open: its share of max_connections."""
    return instance.max_connections * max_connections_percent // 100
