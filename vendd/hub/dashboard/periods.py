"""The period a page shows: `?period=today|week|month|last-month` or `?from=..&to=..` (local
days of the collective's default time zone), checked like `vendd report` checks them."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request

from vendd.errors import VenddError
from vendd.hub.config import HubConfig
from vendd.hub.dashboard.app import BadInput
from vendd.ledger.statements import Period, local_today, parse_period


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{name}={text!r} (YYYY-MM-DD)") from None


def period_of(request: Request, config: HubConfig, default: str) -> Period:
    today = local_today(ZoneInfo(config.accounts.timezone))
    q = request.query_params
    start, end = q.get("from"), q.get("to")
    if start or end:
        first = _day(start, "from") if start else today - timedelta(days=29)
        last = _day(end, "to") if end else today
        if first > last:
            raise BadInput(f"from={first} is after to={last}")
        return Period(first, last, f"{first}..{last}")
    try:
        return parse_period(q.get("period") or default, today)
    except VenddError as exc:
        raise BadInput(str(exc)) from exc


def last_days(config: HubConfig, days: int) -> Period:
    today = local_today(ZoneInfo(config.accounts.timezone))
    return Period(today - timedelta(days=days - 1), today, f"last {days} days")
