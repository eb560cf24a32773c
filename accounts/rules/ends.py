"""Ends on access: what an end may be, how one is written by people, and its words. Pure rules, no I/O.

An end is a date-time or a duration from now ("30 days"). A date alone means the end of that day; a date-time
without an offset is read in the configured time zone (DJANGO_TIME_ZONE). Ends are stored in UTC.
"""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

END_MALFORMED = (
    "Enter the end as a date (2026-12-31: the end of that day), a date and time (2026-12-31 18:00, in {zone}) "
    "or a duration (90 minutes, 12 hours, 30 days, 2 weeks). Nothing was changed."
)
END_IN_PAST = "The end {when} is not in the future. Nothing was changed."
END_TOO_FAR = "The end {when} is more than {days} days away; leave it empty for access that does not end."
END_ON_STAFF = "{group} is a staff group: staff access is permanent and takes no end. Nothing was changed."
END_NOT_GRANTED = "An end is given for {names}, which this line does not grant. Nothing was applied."
END_NOT_HELD = "This user does not hold {application}, so it has no end to change. Nothing was changed."
END_NONE = "{application} has no end to remove. Nothing was changed."
RAISE_SAME = "A temporary raise must change the role: the user holds {role} already. Nothing was changed."
MAX_DAYS = 3660  # ten years: anything longer is meant to be permanent

UNITS = {
    "minute": 60,
    "minutes": 60,
    "min": 60,
    "mins": 60,
    "hour": 3600,
    "hours": 3600,
    "h": 3600,
    "day": 86400,
    "days": 86400,
    "d": 86400,
    "week": 604800,
    "weeks": 604800,
    "w": 604800,
}
DURATION = re.compile(r"^(\d{1,6})\s*([a-z]+)$")
DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


class EndError(ValueError):
    """An end the portal refuses; the message says why."""


def zone() -> ZoneInfo:
    """Return the configured display time zone."""
    return ZoneInfo(settings.TIME_ZONE)


def _parsed(text: str) -> datetime | timedelta | None:
    """Return the text as a duration, an aware date-time, or None when it is neither."""
    if match := DURATION.match(text.lower()):
        count, unit = match.groups()
        return timedelta(seconds=int(count) * UNITS[unit]) if unit in UNITS else None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            return None
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone())
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text or "+" in text else None
    except ValueError:
        value = None
    for form in DATE_FORMATS if value is None else ():
        try:
            value = datetime.strptime(text, form)
            break
        except ValueError:
            continue
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=zone())


def end_parse(text: str, *, now: datetime) -> datetime | None:
    """Return the end written as text (None for no end), in UTC; raise EndError for one the portal refuses."""
    text = (text or "").strip()
    if not text:
        return None
    value = _parsed(text)
    if value is None:
        raise EndError(END_MALFORMED.format(zone=settings.TIME_ZONE))
    return end_check(now + value if isinstance(value, timedelta) else value, now=now)


def end_check(end: datetime, *, now: datetime) -> datetime:
    """Return the end in UTC; raise EndError when it is not in the future or too far."""
    end = end.astimezone(ZoneInfo("UTC"))
    if end <= now:
        raise EndError(END_IN_PAST.format(when=end_label(end)))
    if end - now > timedelta(days=MAX_DAYS):
        raise EndError(END_TOO_FAR.format(when=end_label(end), days=MAX_DAYS))
    return end


def end_label(end: datetime) -> str:
    """Return an end for people, in the configured zone, saying the zone."""
    return f"{end.astimezone(zone()):%Y-%m-%d %H:%M} {settings.TIME_ZONE}"


def staff_group_named(name: str) -> str:
    """Return the staff group this name is (as written or as an application's group), or ''."""
    staff = {settings.PORTAL_ADMIN_GROUP, settings.PORTAL_HELPDESK_GROUP}
    for candidate in (name, f"{settings.PORTAL_APPLICATION_GROUP_PREFIX}{name}"):
        if candidate in staff:
            return candidate
    return ""
