"""Ventas: sales of one or all machines over local days, by day, week or month, by product,
by maker, by hour of the day and day of the week, from each machine's replica ledger (the
`sales` projection, whose `day` is the machine's local day, and the journal's UTC time of
each sale turned into the machine's local hour)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from vendd.hub.config import HubConfig
from vendd.hub.dashboard.data import maker_names, replica
from vendd.hub.store import Store


@dataclass
class SalesView:
    start: date
    end: date
    items: int = 0
    gross: int = 0
    by_day: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_product: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_maker: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_hour: list[list[int]] = field(default_factory=lambda: [[0, 0] for _ in range(24)])
    by_weekday: list[list[int]] = field(default_factory=lambda: [[0, 0] for _ in range(7)])
    last_seq: dict[str, int] = field(default_factory=dict)  # machine -> newest sale row

    def series(self, unit: str) -> list[tuple[str, int]]:
        """Gross per day, ISO week or month over the whole period, empty ones as zero."""
        out: dict[str, int] = {}
        day = self.start
        while day <= self.end:
            key = _bucket(day, unit)
            out[key] = out.get(key, 0) + self.by_day.get(day.isoformat(), [0, 0])[1]
            day += timedelta(days=1)
        if unit == "day" and self.start.year == self.end.year:
            return [(k[5:], v) for k, v in out.items()]  # MM-DD: the year is above the chart
        return list(out.items())


def _bucket(day: date, unit: str) -> str:
    if unit == "week":
        y, w, _ = day.isocalendar()
        return f"{y}-W{w:02d}"
    if unit == "month":
        return day.strftime("%Y-%m")
    return day.isoformat()


def add_machine(view: SalesView, config: HubConfig, store: Store, machine: str,
                maker: str | None) -> None:
    tz = ZoneInfo(config.accounts_of(machine).timezone)
    where = "WHERE s.day BETWEEN ? AND ?" + (" AND s.maker = ?" if maker else "")
    params: list[str] = [view.start.isoformat(), view.end.isoformat()]
    params += [maker] if maker else []
    with replica(config, store, machine) as db:
        names = maker_names(db)
        rows = db.conn.execute(
            f"SELECT s.day, substr(j.ts, 1, 13), s.product, s.maker, COUNT(*), SUM(s.price) "
            f"FROM sales s JOIN journal j ON j.seq = s.seq {where} GROUP BY 1, 2, 3, 4",
            params).fetchall()
        (last,) = db.conn.execute(f"SELECT COALESCE(MAX(s.seq), 0) FROM sales s {where}",
                                  params).fetchone()
    view.last_seq[machine] = int(last)
    for day, utc_hour, product, mk, n, gross in rows:
        local = datetime.fromisoformat(f"{utc_hour}:00:00+00:00").astimezone(tz)
        for bucket in (view.by_day[day], view.by_product[f"{product} · {names.get(mk, mk)}"],
                       view.by_maker[names.get(mk, mk)], view.by_hour[local.hour],
                       view.by_weekday[date.fromisoformat(day).weekday()]):
            bucket[0] += n
            bucket[1] += gross
        view.items += n
        view.gross += gross


def sales_view(config: HubConfig, store: Store, machines: list[str], start: date, end: date,
               maker: str | None = None) -> SalesView:
    view = SalesView(start, end)
    known = {m.id for m in store.machines() if m.head_seq > 0}
    for machine in machines:
        if machine in known:
            add_machine(view, config, store, machine, maker)
    return view


def ranked(groups: dict[str, list[int]]) -> list[tuple[str, int, int]]:
    return sorted(((k, v[0], v[1]) for k, v in groups.items()), key=lambda r: (-r[2], r[0]))
