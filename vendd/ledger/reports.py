"""Sales reports over a range of local days, from the `sales` projection table, and the
pieces every report shares (the journal stamp, plain-text tables).

Every report states the journal range it covers and the chain head, so two people can check
they read the same, unedited history: same head seq and hash, same history."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import sqlite_utils

from vendd.ledger.db import one_snapshot
from vendd.money import Money

GroupBy = Literal["maker", "product", "day", "slot"]
Format = Literal["table", "csv", "json"]

_GROUPS: dict[str, list[str]] = {
    # by: the columns of the sales table it groups on
    "maker": ["maker"],
    "product": ["product", "maker"],
    "day": ["day"],
    "slot": ["slot"],
}


@dataclass
class SalesReport:
    by: str
    start: date | None
    end: date | None
    columns: list[str]
    rows: list[tuple[Any, ...]]
    items: int
    gross: int
    first_seq: int
    last_seq: int
    head: str
    extra: dict[str, Any] = field(default_factory=dict)
    head_seq: int = 0
    payments: dict[str, int] = field(default_factory=dict)  # gross by payment (cash, card)


@dataclass(frozen=True)
class JournalStamp:
    """The journal rows a report covers, and the chain head when it was read."""

    first_seq: int
    last_seq: int
    head_seq: int
    head: str

    def line(self) -> str:
        return (f"journal rows {self.first_seq}..{self.last_seq} of {self.head_seq}, "
                f"chain head {self.head or '-'}")

    def as_dict(self) -> dict[str, Any]:
        return {"first_seq": self.first_seq, "last_seq": self.last_seq,
                "head_seq": self.head_seq, "head": self.head}


def journal_stamp(db: sqlite_utils.Database, first: int | None = None,
                  last: int | None = None) -> JournalStamp:
    """The stamp of rows first..last (default: the whole journal) at the current head."""
    row = db.conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    head_seq, head = (row[0], row[1]) if row else (0, "")
    lo = first if first is not None else (1 if head_seq else 0)
    hi = last if last is not None else head_seq
    return JournalStamp(lo, hi, head_seq, head)


@one_snapshot
def sales_report(db: sqlite_utils.Database, by: GroupBy = "maker", start: date | None = None,
                 end: date | None = None) -> SalesReport:
    """Items and gross per key, and the gross paid in cash and by card, from ONE pass over
    the period's sales; a maker's name is looked up once per maker."""
    group = _GROUPS[by]
    where, params = _day_range(start, end)
    cols = ", ".join(group)
    sums: dict[tuple[Any, ...], list[int]] = {}
    cash = 0
    # The cash part as a conditional sum: one group per key, not per key and payment.
    for *key, items, gross, in_cash in db.conn.execute(
            f"SELECT {cols}, COUNT(*), SUM(price), "
            f"SUM(CASE WHEN payment = 'cash' THEN price ELSE 0 END) FROM sales s {where} "
            f"GROUP BY {cols}", params):
        sums[tuple(key)] = [items, gross]
        cash += in_cash
    total = sum(g for _, g in sums.values())
    payments = {"cash": cash, "card": total - cash} if sums else {}
    if by == "maker":
        # A maker who sold nothing in the period is still on her statement, with zero.
        names = dict(db.conn.execute("SELECT id, name FROM makers"))
        for maker in names:
            sums.setdefault((maker,), [0, 0])
        rows = [(k[0], names.get(k[0], k[0]), n, g) for k, (n, g) in sums.items()]
        columns = ["maker", "name", "items", "gross"]
    else:
        rows = [(*k, n, g) for k, (n, g) in sums.items()]
        columns = [*group, "items", "gross"]
    rows.sort(key=lambda r: tuple("" if v is None else v for v in r[:-2]))
    stamp = journal_stamp(db)
    return SalesReport(
        by=by, start=start, end=end, columns=columns, rows=rows,
        items=sum(r[-2] for r in rows), gross=sum(r[-1] for r in rows),
        first_seq=stamp.first_seq, last_seq=stamp.last_seq, head=stamp.head,
        head_seq=stamp.head_seq, payments=payments,
    )


def _day_range(start: date | None, end: date | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if start is not None:
        clauses.append("s.day >= ?")
        params.append(start.isoformat())
    if end is not None:
        clauses.append("s.day <= ?")
        params.append(end.isoformat())
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def render(report: SalesReport, fmt: Format, money: Money) -> str:
    if fmt == "json":
        return json.dumps({
            "by": report.by,
            "from": report.start.isoformat() if report.start else None,
            "to": report.end.isoformat() if report.end else None,
            "currency": money.currency,
            "rows": [dict(zip(report.columns, r, strict=True)) for r in report.rows],
            "items": report.items, "gross": report.gross,
            "journal": {"first_seq": report.first_seq, "last_seq": report.last_seq,
                        "head_seq": report.head_seq, "head": report.head},
        }, ensure_ascii=False, indent=2)
    if fmt == "csv":
        total = ["TOTAL", *[""] * (len(report.columns) - 3), report.items, report.gross]
        return to_csv(report.columns, report.rows, money, {"gross"}, total)
    return _table(report, money)


BOM = "\ufeff"


def amount(cents: int, decimals: int) -> str:
    """Cents as a plain decimal number for a spreadsheet: 350 -> 3.50, -25 -> -0.25."""
    if decimals == 0:
        return str(cents)
    whole, frac = divmod(abs(cents), 10**decimals)
    return f"{'-' if cents < 0 else ''}{whole}.{frac:0{decimals}d}"


def to_csv(columns: list[str], rows: Iterable[Sequence[Any]], money: Money | None = None,
           money_columns: set[str] | frozenset[str] = frozenset(),
           total: Sequence[Any] | None = None) -> str:
    """CSV for spreadsheets: a UTF-8 byte-order mark (so accents open right), a header line,
    one line per row and the TOTAL line. Money columns are in currency units (3.50), never
    floats on the way: formatted from integer cents; a `currency` column says which."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    priced = money is not None and bool(money_columns)
    writer.writerow([*columns, *(["currency"] if priced else [])])
    spots = [i for i, c in enumerate(columns) if c in money_columns]

    def line(row: Sequence[Any]) -> list[Any]:
        if not priced:
            return list(row)
        assert money is not None
        out = list(row)
        for i in spots:
            if isinstance(out[i], int):
                out[i] = amount(out[i], money.decimals)
        return [*out, money.currency]

    writer.writerows(line(r) for r in rows)
    if total is not None:
        writer.writerow(line(total))
    return BOM + buf.getvalue()


def _table(report: SalesReport, money: Money) -> str:
    cells = [[str(c) for c in r[:-1]] + [money(r[-1])] for r in report.rows]
    total = ["TOTAL"] + [""] * (len(report.columns) - 3) + [str(report.items), money(report.gross)]
    header = [c.upper() for c in report.columns]
    n = len(header)
    span = f"{report.start or 'start'} .. {report.end or 'today'}"
    stamp = JournalStamp(report.first_seq, report.last_seq, report.head_seq, report.head)
    return table([f"Sales by {report.by}, {span}"], header, cells, total,
                 right={n - 2, n - 1}, footer=[stamp.line()])


def table(title: list[str], header: list[str], rows: list[list[str]],
          total: list[str] | None = None, right: set[int] | None = None,
          footer: list[str] | None = None) -> str:
    """A plain-text table: columns in `right` are right-aligned (numbers, money)."""
    right = right or set()
    body = [header, *rows, *([total] if total else [])]
    widths = [max(len(x[i]) for x in body) for i in range(len(header))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    rule = "-" * (sum(widths) + 2 * len(widths))
    out = [*title, line(header), rule, *(line(r) for r in rows)]
    if total:
        out += [rule, line(total)]
    return "\n".join([*out, *(footer or [])])
