"""Validation of the task schedule (``plano:activeHours/activeDays/scheduleTimezone``) and of the
usage profile the cost model prices (``plano:usage*``)."""

from __future__ import annotations

import re
import zoneinfo

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import Profile
from plano_pulumi.core.settings.model import RawConfig, ScheduleSettings, UsageProfile
from plano_pulumi.core.settings.reader import _Reader

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
ALWAYS = "always"


def parse_days(text: str) -> tuple[str, ...] | None:
    """``MON-FRI`` or ``MON,WED,FRI`` to the days in week order; None if it is neither."""
    text = text.strip().upper()
    if match := re.fullmatch(r"([A-Z]{3})-([A-Z]{3})", text):
        first, last = match.groups()
        if first in WEEKDAYS and last in WEEKDAYS and WEEKDAYS.index(first) <= WEEKDAYS.index(last):
            return WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last) + 1]
        return None
    days = [d.strip() for d in text.split(",")]
    if not days or any(d not in WEEKDAYS for d in days) or len(set(days)) != len(days):
        return None
    return tuple(d for d in WEEKDAYS if d in days)


def _schedule(read: _Reader, profile: Profile) -> ScheduleSettings | None:
    hours = read.string("activeHours")
    if hours.lower() == ALWAYS:
        return None
    match = re.fullmatch(r"([01]\d|2[0-3]):(00|30)-([01]\d|2[0-3]):(00|30)", hours)
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
    timezone = read.string("scheduleTimezone")
    try:
        zoneinfo.ZoneInfo(timezone)
        known = True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        raise ConfigError(
            "plano:scheduleTimezone",
            "is not an IANA time zone",
            value=timezone,
            allowed="e.g. UTC, Europe/Berlin, America/New_York",
            fix="pulumi config set plano:scheduleTimezone UTC",
        )
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
