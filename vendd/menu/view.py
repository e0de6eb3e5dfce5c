"""What the controller reads for the service menu: sales per maker from the ledger, and the
links (network, broker). Only the controller calls it: the rest of the menu stays pure."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from vendd.menu.state import MakerSales

Probe = Callable[[], bool | None]  # True up, False down, None unknown


def sales_by_maker(conn: sqlite3.Connection, tz: ZoneInfo, names: Mapping[str, str],
                   now: datetime | None = None) -> tuple[MakerSales, ...]:
    """Every maker's sales today (local day) and since the last cash collection."""
    day = (now or datetime.now(tz)).astimezone(tz).date().isoformat()
    last = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM journal WHERE kind = 'cash_collected'"
    ).fetchone()[0]
    today = {m: (n, c) for m, n, c in conn.execute(
        "SELECT maker, COUNT(*), SUM(price) FROM sales WHERE day = ? GROUP BY maker", (day,))}
    since = {m: (n, c) for m, n, c in conn.execute(
        "SELECT maker, COUNT(*), SUM(price) FROM sales WHERE seq > ? GROUP BY maker", (last,))}
    makers = list(names) + sorted((set(today) | set(since)) - set(names))
    return tuple(
        MakerSales(maker=names.get(m, m), today=today.get(m, (0, 0))[1],
                   since=since.get(m, (0, 0))[1], today_count=today.get(m, (0, 0))[0],
                   since_count=since.get(m, (0, 0))[0])
        for m in makers
    )


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
