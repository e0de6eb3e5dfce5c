"""Opening hours (a weekly schedule with holidays) and quiet hours, in a local time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from vendd.hub.alerts_config import WEEKDAYS, OpeningConfig, parse_span


def _spans_on(opening: OpeningConfig, day: date) -> list[tuple[time, time]]:
    if day in opening.holidays:
        return []
    return [parse_span(s) for s in getattr(opening, WEEKDAYS[day.weekday()])]


def is_open(opening: OpeningConfig, tz: ZoneInfo, t: float) -> bool:
    local = datetime.fromtimestamp(t, tz)
    return any(a <= local.time() < b for a, b in _spans_on(opening, local.date()))


def open_seconds(opening: OpeningConfig, tz: ZoneInfo, start: float, end: float) -> float:
    """Seconds of opening hours between two instants (each day's spans clipped to them)."""
    if end <= start:
        return 0.0
    total = 0.0
    day = datetime.fromtimestamp(start, tz).date()
    last = datetime.fromtimestamp(end, tz).date()
    while day <= last:
        for a, b in _spans_on(opening, day):
            lo = datetime.combine(day, a, tz).timestamp()
            hi = datetime.combine(day, b, tz).timestamp()
            total += max(0.0, min(hi, end) - max(lo, start))
        day += timedelta(days=1)
    return total


def quiet_until(span: str | None, tz: ZoneInfo, t: float) -> float | None:
    """The end of the quiet hours `span` ('22:00-07:00') holding `t`; None outside them."""
    if span is None:
        return None
    a, b = parse_span(span)
    local = datetime.fromtimestamp(t, tz)
    now = local.time()
    if a <= b:
        if a <= now < b:
            return datetime.combine(local.date(), b, tz).timestamp()
        return None
    if now >= a:  # late evening: quiet until tomorrow's end
        return datetime.combine(local.date() + timedelta(days=1), b, tz).timestamp()
    if now < b:  # small hours
        return datetime.combine(local.date(), b, tz).timestamp()
    return None
