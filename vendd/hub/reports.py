"""`vendd hub report`: the machine's own reports (statements with the split, cash, stock),
computed by the ledger's code over each machine's replica ledger (replica.py).

One machine: exactly what `vendd report` prints on that machine's ledger, for the rows the hub
verified. All machines: statements are summed line by line (same keys) and each summed line is
split with the ledger's own rule, so the collective sees one statement; cash and stock, which
belong to one cabinet each, are printed machine after machine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from vendd.errors import VenddError
from vendd.hub.config import HubConfig
from vendd.hub.replica import sync_replica
from vendd.hub.store import Store
from vendd.ledger.cash import cash_report, render_cash
from vendd.ledger.reports import Format, GroupBy, JournalStamp, SalesReport
from vendd.ledger.statements import (
    MoneyFlow,
    Period,
    Split,
    Statement,
    local_today,
    parse_period,
    render_statement,
    split,
    statement,
)
from vendd.ledger.stock import render_stock, stock_report
from vendd.money import Money

What = Literal["sales", "cash", "stock"]


@dataclass(frozen=True)
class ReportRequest:
    what: What = "sales"
    by: GroupBy = "maker"
    period: str | None = None
    start: date | None = None
    end: date | None = None
    fmt: Format = "table"
    machine: str | None = None
    chart: str | None = None  # also draw the statement as a PNG (sales only)


def period_of(req: ReportRequest, tz: ZoneInfo) -> Period:
    if req.start and req.end and req.start > req.end:
        raise VenddError(f"--from {req.start} is after --to {req.end}")
    if req.period and (req.start or req.end):
        raise VenddError("use --period or --from/--to, not both")
    return parse_period(req.period, local_today(tz)) if req.period else Period(req.start,
                                                                                 req.end)


def machine_statement(config: HubConfig, store: Store, machine: str, req: ReportRequest,
                      ) -> Statement:
    acc = config.accounts_of(machine)
    tz = ZoneInfo(acc.timezone)
    db = sync_replica(store, config.store.replicas, machine, tz)
    try:
        return statement(db, period_of(req, tz), acc.shares, tz, req.by)
    finally:
        db.close()


def report(config: HubConfig, store: Store, req: ReportRequest) -> str:
    if req.chart and req.what != "sales":
        raise VenddError(f"--chart draws sales, not `report {req.what}`")
    machines = _machines(store, req.machine)
    if req.what == "sales":
        if len(machines) == 1:
            st = machine_statement(config, store, machines[0], req)
            text = render_statement(st, req.fmt, _money(config, machines[0]))
        else:
            st, text = _combined(config, store, machines, req)
        if req.chart:
            from vendd.ledger.charts import write_chart

            write_chart(st, req.chart, _money(config, machines[0]))
            if req.fmt == "table":
                text = text.rstrip("\n") + f"\nchart: {req.chart}"
        return text
    parts: list[tuple[str, str]] = []
    for machine in machines:
        acc = config.accounts_of(machine)
        tz = ZoneInfo(acc.timezone)
        db = sync_replica(store, config.store.replicas, machine, tz)
        try:
            if req.what == "cash":
                text = render_cash(cash_report(db, tz), req.fmt, _money(config, machine))
            else:
                text = render_stock(stock_report(db, tz), req.fmt)
        finally:
            db.close()
        parts.append((machine, text))
    if len(parts) == 1:
        return parts[0][1]
    if req.fmt == "json":
        return json.dumps({m: json.loads(t) for m, t in parts}, ensure_ascii=False, indent=2)
    if req.fmt == "csv":
        raise VenddError(f"report {req.what} as CSV is one machine's: add --machine")
    return "\n\n".join(f"== {m} ==\n{t}" for m, t in parts)


def _machines(store: Store, machine: str | None) -> list[str]:
    known = [m.id for m in store.machines() if m.head_seq > 0]
    if machine is not None:
        if machine not in known:
            raise VenddError(f"--machine: the hub holds no verified rows of {machine!r} "
                             f"(known: {', '.join(known) or 'none'})")
        return [machine]
    if not known:
        raise VenddError("the hub holds no verified rows yet")
    return known


def _money(config: HubConfig, machine: str) -> Money:
    acc = config.accounts_of(machine)
    return Money(acc.currency, acc.decimals)


def _combined(config: HubConfig, store: Store, machines: list[str], req: ReportRequest,
              ) -> tuple[Statement, str]:
    accounts = [config.accounts_of(m) for m in machines]
    first = accounts[0]
    for m, acc in zip(machines, accounts, strict=True):
        if (acc.shares, acc.currency, acc.decimals) != (first.shares, first.currency,
                                                          first.decimals):
            raise VenddError(f"machine {m} has other shares or another currency: "
                             f"report it alone with --machine")
    sts = [machine_statement(config, store, m, req) for m in machines]
    merged = merge_statements(sts)
    text = render_statement(merged, req.fmt, _money(config, machines[0]))
    heads = {m: st.stamp for m, st in zip(machines, sts, strict=True)}
    if req.fmt == "json":
        data: dict[str, Any] = json.loads(text)
        data["journal"] = {m: s.as_dict() for m, s in heads.items()}
        data["machines"] = machines
        return merged, json.dumps(data, ensure_ascii=False, indent=2)
    if req.fmt == "table":
        lines = text.rstrip("\n").splitlines()[:-1]  # the merged stamp means nothing
        lines += [f"{m}: {s.line()}" for m, s in heads.items()]
        return merged, "\n".join(lines)
    return merged, text


def merge_statements(sts: list[Statement]) -> Statement:
    """Several machines' statements as one: lines with the same key summed, each summed line
    split again with the ledger's rule (not a sum of rounded splits)."""
    base = sts[0]
    sums: dict[tuple[Any, ...], list[int]] = {}
    for st in sts:
        for row in st.report.rows:
            acc = sums.setdefault(tuple(row[:-2]), [0, 0])
            acc[0] += row[-2]
            acc[1] += row[-1]
    rows = [(*key, items, gross) for key, (items, gross) in sorted(sums.items())]
    r = base.report
    payments: dict[str, int] = {}
    for st in sts:
        for payment, gross in st.report.payments.items():
            payments[payment] = payments.get(payment, 0) + gross
    report = SalesReport(r.by, r.start, r.end, r.columns, rows, sum(x[-2] for x in rows),
                         sum(x[-1] for x in rows), 0, 0, "", payments=payments)
    splits = [split(row[-1], base.shares) for row in rows]
    total = Split(*(sum(s.as_tuple()[i] for s in splits) for i in range(3)))
    flow = MoneyFlow()
    for st in sts:
        for name, value in st.money.as_dict().items():
            if name not in ("first_seq", "last_seq"):
                setattr(flow, name, getattr(flow, name) + value)
    paid: dict[str, int] = {}
    for st in sts:
        for maker, amount in st.paid.items():
            paid[maker] = paid.get(maker, 0) + amount
    return Statement(base.period, report, splits, total, flow, base.shares, base.timezone,
                     JournalStamp(0, 0, 0, ""), paid=paid)
