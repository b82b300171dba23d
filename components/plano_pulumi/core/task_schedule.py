"""Scheduled scaling to zero tasks, as plain values: the two cron actions, and the hours they leave on.

``scheduled_actions`` turns ``ScheduleSettings`` into Application Auto Scaling scheduled actions
(``cron(M H ? * DAYS *)`` in the schedule's time zone): at ``start`` the service's range becomes
``desired..desired``, at ``stop`` ``0..0``. ``running_hours_per_week`` reads such a pair back (the
cost model sees only the plan's resources), so the estimate prices exactly what was deployed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plano_pulumi.core.settings import ScheduleSettings
from plano_pulumi.core.settings.schedule import WEEKDAYS

_CRON = re.compile(r"cron\((\d{1,2}) (\d{1,2}) \? \* ([A-Z,-]+) \*\)")


@dataclass(frozen=True)
class ScheduledAction:
    name: str
    """wake or sleep."""
    cron: str
    """Application Auto Scaling schedule expression."""
    min_capacity: int
    max_capacity: int


def _cron(hhmm: str, days: tuple[str, ...]) -> str:
    hours, minutes = hhmm.split(":")
    return f"cron({int(minutes)} {int(hours)} ? * {','.join(days)} *)"


def scheduled_actions(schedule: ScheduleSettings, desired_count: int) -> tuple[ScheduledAction, ScheduledAction]:
    """Wake at ``start`` with ``desired_count`` tasks, sleep at ``stop`` with none, on the active days."""
    return (
        ScheduledAction("wake", _cron(schedule.start, schedule.days), desired_count, desired_count),
        ScheduledAction("sleep", _cron(schedule.stop, schedule.days), 0, 0),
    )


def _days(text: str) -> set[str]:
    days: set[str] = set()
    for part in text.split(","):
        if "-" in part:
            first, last = part.split("-")
            days |= set(WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last) + 1])
        else:
            days.add(part)
    return days


def running_hours_per_week(wake_cron: str, sleep_cron: str) -> tuple[float, int] | None:
    """Hours per active day and active days per week of a wake/sleep pair; None if it is not such a pair."""
    wake, sleep = _CRON.fullmatch(wake_cron), _CRON.fullmatch(sleep_cron)
    if not wake or not sleep or wake.group(3) != sleep.group(3):
        return None
    try:
        days = _days(wake.group(3))
    except ValueError:
        return None
    start = int(wake.group(2)) + int(wake.group(1)) / 60
    stop = int(sleep.group(2)) + int(sleep.group(1)) / 60
    if stop <= start or not days <= set(WEEKDAYS):
        return None
    return stop - start, len(days)
