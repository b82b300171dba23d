"""Validation of the task schedule (``plano:activeHours/activeDays/scheduleTimezone``) and of the
usage profile the cost model prices (``plano:usage*``)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import Profile
from plano_pulumi.core.settings.model import RawConfig, ScheduleSettings, UsageProfile
from plano_pulumi.core.settings.reader import _Reader

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
ALWAYS = "always"
TIMEZONES_FILE = Path(__file__).with_name("timezones.txt")


@cache
def iana_timezones() -> frozenset[str]:
    """The IANA time zone names shipped with the package (timezones.txt), not the machine's files."""
    lines = TIMEZONES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _timezone(read: _Reader) -> str:
    timezone = read.string("scheduleTimezone")
    if timezone not in iana_timezones():
        raise ConfigError(
            "plano:scheduleTimezone",
            "is not an IANA time zone name (names are case-sensitive)",
            value=timezone,
            allowed="e.g. UTC, Europe/Berlin, America/New_York",
            fix="pulumi config set plano:scheduleTimezone UTC",
        )
    return timezone


def _days(read: _Reader) -> tuple[str, ...]:
    days_text = read.string("activeDays")
    days = parse_days(days_text)
    if days is None:
        raise ConfigError(
            "plano:activeDays",
            "is not a day range or list",
            value=days_text,
            allowed="MON-FRI, MON-SUN, or a comma list of " + ", ".join(WEEKDAYS),
            fix="pulumi config set plano:activeDays MON-FRI",
        )
    return days


def parse_days(text: str) -> tuple[str, ...] | None:
    """``MON-FRI`` or ``MON,WED,FRI`` to the days in week order; None if it is neither."""
    text = text.strip().upper()
    if match := re.fullmatch(r"([A-Z]{3})-([A-Z]{3})", text, re.ASCII):
        first, last = match.groups()
        if first in WEEKDAYS and last in WEEKDAYS and WEEKDAYS.index(first) <= WEEKDAYS.index(last):
            return WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last) + 1]
        return None
    days = [d.strip() for d in text.split(",")]
    if not days or any(d not in WEEKDAYS for d in days) or len(set(days)) != len(days):
        return None
    return tuple(d for d in WEEKDAYS if d in days)


def _schedule(read: _Reader, profile: Profile, warnings: list[str] | None = None) -> ScheduleSettings | None:
    hours = read.string("activeHours")
    if hours.lower() == ALWAYS:
        # Days and time zone have no effect without a schedule, but a value set is still checked
        # (it takes effect the day a schedule is set) and said to be ignored.
        _days(read)
        _timezone(read)
        for key in ("activeDays", "scheduleTimezone"):
            if read.is_set(key) and warnings is not None:
                warnings.append(
                    f"plano:{key} has no effect while plano:activeHours is always ({profile.value} profile)"
                )
        return None
    match = re.fullmatch(r"([01][0-9]|2[0-3]):(00|30)-([01][0-9]|2[0-3]):(00|30)", hours, re.ASCII)
    if not match or f"{match.group(3)}:{match.group(4)}" <= f"{match.group(1)}:{match.group(2)}":
        raise ConfigError(
            "plano:activeHours",
            "is not a start-end range of the same day",
            value=hours,
            allowed="HH:MM-HH:MM on whole or half hours, 00:00 to 23:30, start before end (08:00-20:00), or always",
            fix="pulumi config set plano:activeHours 08:00-20:00   (or always)",
        )
    if profile is Profile.PROD:
        raise ConfigError(
            "plano:activeHours",
            "must be always in prod: scaling prod to zero tasks would take it offline every night",
            value=hours,
            fix="pulumi config set plano:activeHours always   (schedules are for dev and review stacks)",
        )
    days, timezone = _days(read), _timezone(read)
    start, stop = hours.split("-")
    return ScheduleSettings(start=start, stop=stop, days=days, timezone=timezone)


def _usage(read: _Reader) -> UsageProfile:
    return UsageProfile(
        active_hours_per_day=read.integer("usageActiveHoursPerDay", minimum=1, maximum=24),
        active_days_per_week=read.integer("usageActiveDaysPerWeek", minimum=1, maximum=7),
        requests_per_hour=read.integer("usageRequestsPerHour", minimum=0, maximum=10_000_000),
    )


def usage_profile(raw: RawConfig) -> UsageProfile:
    """The usage profile of a stack's raw config (for the offline plan, which prices a recorded run)."""
    profile = _Reader(raw, None).choice("profile", Profile)
    return _usage(_Reader(raw, profile))


def schedule_of(raw: RawConfig) -> ScheduleSettings | None:
    """The task schedule of a stack's raw config (for the offline plan, which shows it first)."""
    profile = _Reader(raw, None).choice("profile", Profile)
    return _schedule(_Reader(raw, profile), profile)
