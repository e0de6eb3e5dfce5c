"""What the controller reads for the service menu: each maker's sales from the ledger (through
the statements' own code, so the share shown is the share paid), what the journal says of wrong
PINs (a lock-out outlives a restart), and the links (network, broker). Kept in the daemon so
the menu itself stays pure."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.config import SharesConfig
from vendd.ledger.reports import sales_report
from vendd.ledger.statements import local_today, parse_period, split
from vendd.menu.state import MakerSales, PinRecord

Probe = Callable[[], bool | None]  # True up, False down, None unknown


def sales_by_maker(db: sqlite_utils.Database, tz: ZoneInfo, shares: SharesConfig,
                   makers: Mapping[str, str], now: datetime | None = None,
                   ) -> tuple[MakerSales, ...]:
    """Every maker's sales today and this month (local days) and her share of the month: the
    statements' own report and split, so the share shown is the share her statement pays."""
    today = local_today(tz, now)
    day, month = parse_period("today", today), parse_period("month", today)
    by_day = {r[0]: (r[-2], r[-1]) for r in sales_report(db, "maker", day.start, day.end).rows}
    by_month = {r[0]: (r[-2], r[-1])
                for r in sales_report(db, "maker", month.start, month.end).rows}
    ids = list(makers) + sorted((set(by_day) | set(by_month)) - set(makers))
    out = []
    for m in ids:
        count, gross = by_day.get(m, (0, 0))
        month_count, month_gross = by_month.get(m, (0, 0))
        out.append(MakerSales(maker=m, today=gross, month=month_gross,
                              share=split(month_gross, shares).maker_share,
                              today_count=count, month_count=month_count))
    return tuple(out)


def pin_record(db: sqlite_utils.Database, lock_s: float,
               now: datetime | None = None) -> PinRecord:
    """Wrong PINs and lock-outs since the last sign-in, as the journal has them."""
    last_in = db.conn.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM journal WHERE kind = 'signed_in'").fetchone()[0]
    rows = db.conn.execute(
        "SELECT ts, kind, fields FROM journal WHERE seq > ? AND kind IN (?, ?) ORDER BY seq",
        (last_in, "pin_failed", "pin_locked")).fetchall()
    tries = lockouts = 0
    until: datetime | None = None
    for ts, kind, fields in rows:
        if kind == "pin_failed":
            tries += 1
        else:
            lockouts += 1
            tries = 0
            seconds = json.loads(fields).get("seconds", lock_s)
            until = datetime.fromisoformat(ts) + timedelta(seconds=float(seconds))
    left = (until - (now or datetime.now(UTC))).total_seconds() if until else 0.0
    return PinRecord(tries=tries, lockouts=lockouts, locked_s=max(left, 0.0))


def network_up(sys_net: Path = Path("/sys/class/net")) -> bool | None:
    """Any interface but loopback with its link up; None where Linux does not tell us."""
    if not sys_net.is_dir():
        return None
    for iface in sys_net.iterdir():
        if iface.name == "lo":
            continue
        try:
            if (iface / "operstate").read_text().strip() == "up":
                return True
        except OSError:
            continue
    return False


def link_label(value: bool | None) -> str:
    return {True: "up", False: "down"}.get(value, "unknown")  # type: ignore[arg-type]
