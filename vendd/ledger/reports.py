"""Sales reports over a range of local days, from the `sales` projection table.

Every report states the journal range it covers and the chain head, so two people can check
they read the same, unedited history."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import sqlite_utils

from vendd.money import Money

GroupBy = Literal["maker", "product", "day", "slot"]
Format = Literal["table", "csv", "json"]

_GROUPS: dict[str, tuple[list[str], str]] = {
    # by: (columns, SQL grouping expression)
    "maker": (["maker", "name"], "s.maker, COALESCE(m.name, s.maker)"),
    "product": (["product", "maker"], "s.product, s.maker"),
    "day": (["day"], "s.day"),
    "slot": (["slot"], "s.slot"),
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


def sales_report(db: sqlite_utils.Database, by: GroupBy = "maker", start: date | None = None,
                 end: date | None = None) -> SalesReport:
    keys, group = _GROUPS[by]
    where, params = _day_range(start, end)
    sql = (
        f"SELECT {group}, COUNT(*), SUM(s.price) FROM sales s "
        f"LEFT JOIN makers m ON m.id = s.maker {where} GROUP BY {group} ORDER BY 1"
    )
    rows = [tuple(r) for r in db.conn.execute(sql, params)]
    first, last, head = db.conn.execute(
        "SELECT MIN(seq), MAX(seq), (SELECT hash FROM journal ORDER BY seq DESC LIMIT 1) "
        "FROM journal"
    ).fetchone()
    return SalesReport(
        by=by, start=start, end=end, columns=[*keys, "items", "gross"], rows=rows,
        items=sum(r[-2] for r in rows), gross=sum(r[-1] for r in rows),
        first_seq=first or 0, last_seq=last or 0, head=head or "",
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
                        "head": report.head},
        }, ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(report.columns)
        writer.writerows(report.rows)
        return buf.getvalue()
    return _table(report, money)


def _table(report: SalesReport, money: Money) -> str:
    cells = [[str(c) for c in r[:-1]] + [money(r[-1])] for r in report.rows]
    total = ["TOTAL"] + [""] * (len(report.columns) - 3) + [str(report.items), money(report.gross)]
    header = [c.upper() for c in report.columns]
    widths = [max(len(x[i]) for x in [header, total, *cells]) for i in range(len(header))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if i >= len(values) - 2 else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    span = f"{report.start or 'start'} .. {report.end or 'today'}"
    out = [f"Sales by {report.by}, {span}", line(header), "-" * (sum(widths) + 2 * len(widths))]
    out += [line(c) for c in cells]
    out += ["-" * (sum(widths) + 2 * len(widths)), line(total),
            f"journal rows {report.first_seq}..{report.last_seq}, head {report.head[:16]}"]
    return "\n".join(out)
