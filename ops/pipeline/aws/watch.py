"""Alarm-watched deploys: after the switch, the stack's alarms decide whether the release stays.

Like CodeDeploy's alarm rollback: an alarm that goes into ALARM during the window fails the
deploy's `watch` step, and the pipeline undoes the release, its schema included. Alarms that
were already firing before the switch do not count (the new release did not cause them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from ops.pipeline.errors import PipelineError

POLL_SECONDS = 15


class AlarmFired(PipelineError):
    def __init__(self, alarms: list[dict], seconds: float) -> None:
        self.alarms = [a["AlarmName"] for a in alarms]
        reasons = "; ".join(f"{a['AlarmName']}: {a.get('StateReason', 'in ALARM')}" for a in alarms)
        super().__init__(f"alarm {', '.join(self.alarms)} fired {seconds:.0f} s into the watch "
                         f"after the switch ({reasons})")


def stack_alarms(cloudwatch, names: list[str] | None, prefix: str) -> list[dict]:  # noqa: ANN001
    """The stack's metric alarms: by name when the stack exports them, else by name prefix."""
    query = {"AlarmNames": names} if names else {"AlarmNamePrefix": prefix}
    alarms: list[dict] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"], **query):
        alarms.extend(page["MetricAlarms"])
    return alarms


def watch(alarms: Callable[[], list[dict]], seconds: float, since: datetime,
          poll: float = POLL_SECONDS, progress: Callable[[str], None] = print,
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Watch for `seconds`; raise AlarmFired for alarms that went into ALARM after `since`.

    Returns how many alarms were watched.
    """
    started = time.monotonic()
    watched = alarms()
    progress(f"watching {len(watched)} alarms for {seconds:.0f} s")
    while True:
        firing = [a for a in watched
                  if a["StateValue"] == "ALARM" and a["StateUpdatedTimestamp"] >= since]
        if firing:
            raise AlarmFired(firing, time.monotonic() - started)
        left = seconds - (time.monotonic() - started)
        if left <= 0:
            return len(watched)
        sleep(min(poll, left))
        watched = alarms()
