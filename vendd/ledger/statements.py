"""Statements: sales per maker (or product, slot, day) over a period of LOCAL days, with the
split the config defines (maker's share, collective fund, museum commission), and the money
that did not become a sale: failed vends, change and refunds paid out, money owed to buyers,
unclaimed credit.

Rounding rule (documented, tested): the split is computed per statement line, never per sale.
Each part's exact value is `gross * percent / 100`; every part first gets the floor of its
exact value in cents, then the 0, 1 or 2 cents left over go one each to the parts with the
largest remainders (`gross * percent mod 100`), ties going to maker before collective before
museum. So each line's parts add up to its gross to the cent, and the totals (sums of the
lines) add up to the total gross. Summing daily statements can differ by a cent per part from
the monthly statement, since each is rounded on its own.

Periods are local days in the machine's time zone. Sales come from the `sales` table, whose
`day` was computed in that zone when the sale was journaled; the other money rows are read
from the journal and placed on the local day of their own UTC timestamp."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.config import SharesConfig
from vendd.errors import VenddError
from vendd.ledger.db import one_snapshot
from vendd.ledger.journal import row_from_db
from vendd.ledger.kinds import money_effect, money_kinds
from vendd.ledger.reports import (
    Format,
    GroupBy,
    JournalStamp,
    SalesReport,
    journal_stamp,
    sales_report,
    table,
    to_csv,
)
from vendd.money import Money

PARTS = ("maker_share", "collective", "museum")

# Money paid to a maker for her share (`vendd pay`), journaled on the machine.
PAID_KIND = "maker_paid"

# Journal kinds read row by row: those that move buyers' money, and the test vends counted.
# Sales themselves are summed from the `sales` table (by local day), not parsed row by row.
_MONEY_KINDS = tuple(sorted((money_kinds() - {"sale"}) | {"test_vend"}))


@dataclass(frozen=True)
class Split:
    maker_share: int
    collective: int
    museum: int

    @property
    def total(self) -> int:
        return self.maker_share + self.collective + self.museum

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.maker_share, self.collective, self.museum)


def split(gross: int, shares: SharesConfig) -> Split:
    """Largest-remainder split of `gross` cents by the shares' percentages (see module doc)."""
    if gross < 0:
        raise ValueError("cannot split a negative amount")
    percents = (shares.maker, shares.collective, shares.museum)
    floors = [gross * p // 100 for p in percents]
    remainders = [gross * p % 100 for p in percents]
    left = gross - sum(floors)
    # Stable sort: equal remainders keep the order maker, collective, museum.
    for i in sorted(range(3), key=lambda k: -remainders[k])[:left]:
        floors[i] += 1
    return Split(*floors)


@dataclass(frozen=True)
class Period:
    """Local days start..end, inclusive; None is open (the journal's first or last day)."""

    start: date | None
    end: date | None
    label: str = ""

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[first instant, first instant after] of the local days, as aware datetimes."""
        first = datetime.combine(self.start, time(), tz) if self.start else None
        after = (datetime.combine(self.end + timedelta(days=1), time(), tz)
                 if self.end else None)
        return first, after

    def describe(self) -> str:
        return f"{self.start or 'start'} .. {self.end or 'today'}"


def parse_period(text: str, today: date) -> Period:
    """`today`, `week` (Monday to Sunday of this week), `month` (this calendar month),
    `last-month` (the calendar month before), or `YYYY-MM-DD..YYYY-MM-DD` (inclusive).
    `today` is the local date in the machine's zone."""
    if text == "today":
        return Period(today, today, "today")
    if text == "week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday, monday + timedelta(days=6), "week")
    if text == "month":
        last = calendar.monthrange(today.year, today.month)[1]
        return Period(today.replace(day=1), today.replace(day=last), "month")
    if text == "last-month":
        end = today.replace(day=1) - timedelta(days=1)
        return Period(end.replace(day=1), end, "last-month")
    first_text, sep, last_text = text.partition("..")
    try:
        if not sep:
            raise ValueError
        start, end = date.fromisoformat(first_text), date.fromisoformat(last_text)
    except ValueError:
        raise VenddError(
            f"period {text!r}: use today, week, month, last-month or YYYY-MM-DD..YYYY-MM-DD"
        ) from None
    if start > end:
        raise VenddError(f"period {text!r}: {start} is after {end}")
    return Period(start, end, text)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(tz)).astimezone(tz).date()


@dataclass
class MoneyFlow:
    """Buyers' money in a period, from the journal rows timestamped in it."""

    cash_in: int = 0  # coins and bills inserted
    cash_sales: int = 0
    card_sales: int = 0
    failed_vends: int = 0
    failed_value: int = 0  # price of the vends that failed
    refunded_to_credit: int = 0  # cash failed vends: the credit was given back
    paid_out: int = 0  # change and refunds actually paid
    owed: int = 0  # payouts that came out short: still owed to buyers
    unclaimed: int = 0  # credit left on the machine and never asked back
    test_vends: int = 0
    first_seq: int = 0  # journal rows of the period
    last_seq: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Statement:
    period: Period
    report: SalesReport
    splits: list[Split]
    total_split: Split
    money: MoneyFlow
    shares: SharesConfig
    timezone: str
    stamp: JournalStamp
    extra: dict[str, Any] = field(default_factory=dict)
    paid: dict[str, int] = field(default_factory=dict)  # by maker: paid to her in the period

    @property
    def keys(self) -> list[str]:
        return self.report.columns[:-2]

    @property
    def by_maker(self) -> bool:
        return self.report.by == "maker"

    def paid_of(self, row: tuple[Any, ...]) -> int:
        return self.paid.get(row[0], 0) if self.by_maker else 0


@one_snapshot
def statement(db: sqlite_utils.Database, period: Period, shares: SharesConfig,
              tz: ZoneInfo | str, by: GroupBy = "maker") -> Statement:
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    report = sales_report(db, by, period.start, period.end)
    splits = [split(row[-1], shares) for row in report.rows]
    total = Split(*(sum(s.as_tuple()[i] for s in splits) for i in range(3)))
    paid: dict[str, int] = {}
    flow = money_flow(db, period, tz, payments=report.payments,
                      paid=paid if by == "maker" else None)
    stamp = journal_stamp(db, flow.first_seq, flow.last_seq)
    return Statement(period, report, splits, total, flow, shares, tz.key, stamp, paid=paid)


def money_flow(db: sqlite_utils.Database, period: Period, tz: ZoneInfo,
               payments: dict[str, int] | None = None,
               paid: dict[str, int] | None = None) -> MoneyFlow:
    """`payments`: the period's sales by payment when the caller already summed them (the
    statement's sales report does, in the same pass as its lines). `paid`: when given, what
    each maker was paid in the period (`maker_paid` rows) is added to it, in the same pass
    over the journal as the money rows."""
    first, after = period.utc_bounds(tz)
    lo, hi = _seq_window(db, first, after)
    flow = MoneyFlow()
    if payments is None:
        where = ["day >= ?"] * bool(period.start) + ["day <= ?"] * bool(period.end)
        days = [d.isoformat() for d in (period.start, period.end) if d]
        payments = dict(db.conn.execute(
            "SELECT payment, SUM(price) FROM sales "
            + ("WHERE " + " AND ".join(where) if where else "") + " GROUP BY payment", days))
    for payment, total in payments.items():
        if payment == "cash":
            flow.cash_sales += total
        else:
            flow.card_sales += total
    if lo > hi:
        return flow  # no journal row in the period: range 0..0
    kinds = (*_MONEY_KINDS, PAID_KIND) if paid is not None else _MONEY_KINDS
    marks = ",".join("?" * len(kinds))
    cur = db.conn.execute(
        f"SELECT seq, ts, kind, fields, hash FROM journal WHERE seq BETWEEN ? AND ? "
        f"AND kind IN ({marks}) ORDER BY seq", (lo, hi, *kinds))
    for raw in cur:
        row = row_from_db(*raw)
        when = datetime.fromisoformat(row.ts)
        if (first is not None and when < first) or (after is not None and when >= after):
            continue
        if row.kind == PAID_KIND:
            assert paid is not None
            paid[row.fields["maker"]] = paid.get(row.fields["maker"], 0) + row.fields["amount"]
            continue
        effect = money_effect(row)  # sales are summed from the sales table above
        flow.cash_in += effect.cash_in
        flow.refunded_to_credit += effect.refunded
        flow.paid_out += effect.paid_out
        flow.owed += effect.owed
        flow.unclaimed += effect.unclaimed
        if row.kind == "vend_failed":
            flow.failed_vends += 1
            flow.failed_value += row.fields["price"]
        elif row.kind == "test_vend":
            flow.test_vends += 1
    flow.first_seq, flow.last_seq = lo, hi
    return flow


def _seq_window(db: sqlite_utils.Database, first: datetime | None,
                after: datetime | None) -> tuple[int, int]:
    """The journal rows timestamped in [first, after): found by bisection on seq, since one
    writer appends them in time order. The caller still checks each row's own timestamp."""
    conn = db.conn
    top = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]

    def ts_at(seq: int) -> datetime:
        row = conn.execute("SELECT ts FROM journal WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
                           (seq,)).fetchone()
        return datetime.fromisoformat(row[0])

    def lower_bound(instant: datetime) -> int:
        """The first seq whose time is >= instant (top + 1 if none)."""
        lo, hi = 1, top + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if ts_at(mid) < instant:
                lo = mid + 1
            else:
                hi = mid
        return lo

    if top == 0:
        return 1, 0
    lo = lower_bound(first) if first is not None else 1
    hi = lower_bound(after) - 1 if after is not None else top
    return lo, hi


ROUNDING = ("each line's split is rounded on its own: floors, then the leftover cents to the "
            "largest remainders (ties: maker, collective, museum)")


def render_statement(st: Statement, fmt: Format, money: Money) -> str:
    r, sh = st.report, st.shares
    if fmt == "json":
        return json.dumps({
            "by": r.by, "period": st.period.label or None,
            "from": st.period.start.isoformat() if st.period.start else None,
            "to": st.period.end.isoformat() if st.period.end else None,
            "timezone": st.timezone, "currency": money.currency, "decimals": money.decimals,
            "shares": {"maker": sh.maker, "collective": sh.collective, "museum": sh.museum},
            "rounding": ROUNDING,
            "rows": [{**dict(zip(r.columns, row, strict=True)),
                      **dict(zip(PARTS, sp.as_tuple(), strict=True)),
                      **({"paid": st.paid_of(row), "to_pay": sp.maker_share - st.paid_of(row)}
                         if st.by_maker else {})}
                     for row, sp in zip(r.rows, st.splits, strict=True)],
            "items": r.items, "gross": r.gross,
            "split": dict(zip(PARTS, st.total_split.as_tuple(), strict=True)),
            "money": st.money.as_dict() | {"first_seq": st.stamp.first_seq,
                                           "last_seq": st.stamp.last_seq},
            "journal": st.stamp.as_dict(),
        }, ensure_ascii=False, indent=2)
    if fmt == "csv":
        # items,gross stay the last columns before the currency, as in the sales report.
        pay = ["paid", "to_pay"] if st.by_maker else []

        def paid(row: tuple[Any, ...], share: int) -> list[int]:
            return [st.paid_of(row), share - st.paid_of(row)] if st.by_maker else []

        total_paid = sum(st.paid_of(row) for row in r.rows)
        total = (["TOTAL", *[""] * (len(st.keys) - 1), *st.total_split.as_tuple(),
                  *([total_paid, st.total_split.maker_share - total_paid] if pay else []),
                  r.items, r.gross])
        return to_csv([*st.keys, *PARTS, *pay, "items", "gross"],
                      ([*row[:-2], *sp.as_tuple(), *paid(row, sp.maker_share), row[-2], row[-1]]
                       for row, sp in zip(r.rows, st.splits, strict=True)),
                      money, {*PARTS, *pay, "gross"}, total)
    return _statement_table(st, money)


def _statement_table(st: Statement, money: Money) -> str:
    r, sh, m = st.report, st.shares, st.money
    keys = st.keys
    header = [k.upper() for k in keys] + ["ITEMS", "GROSS", f"MAKER {sh.maker}%",
                                          f"COLLECTIVE {sh.collective}%", f"MUSEUM {sh.museum}%"]
    header += ["PAID", "TO PAY"] if st.by_maker else []

    def paid(row: tuple[Any, ...], share: int) -> list[str]:
        return [money(st.paid_of(row)), money(share - st.paid_of(row))] if st.by_maker else []

    rows = [[str(c) for c in row[:-2]] + [str(row[-2]), money(row[-1])]
            + [money(x) for x in sp.as_tuple()] + paid(row, sp.maker_share)
            for row, sp in zip(r.rows, st.splits, strict=True)]
    total_paid = sum(st.paid_of(row) for row in r.rows)
    total = (["TOTAL"] + [""] * (len(keys) - 1) + [str(r.items), money(r.gross)]
             + [money(x) for x in st.total_split.as_tuple()]
             + ([money(total_paid), money(st.total_split.maker_share - total_paid)]
                if st.by_maker else []))
    title = [f"Statement by {r.by}, {st.period.describe()} ({st.timezone})"]
    footer = [
        f"payments: cash {money(m.cash_sales)}, card {money(m.card_sales)}; "
        f"cash inserted {money(m.cash_in)}",
        f"failed vends: {m.failed_vends} ({money(m.failed_value)}), cash credit given back "
        f"{money(m.refunded_to_credit)}; test vends: {m.test_vends}",
        f"change and refunds paid out {money(m.paid_out)}; owed to buyers {money(m.owed)}; "
        f"unclaimed credit {money(m.unclaimed)}",
        f"rounding: {ROUNDING}",
        st.stamp.line(),
    ]
    return table(title, header, rows, total, right=set(range(len(keys), len(header))),
                 footer=footer)
