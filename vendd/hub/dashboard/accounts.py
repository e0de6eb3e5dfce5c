"""Cuentas: the statement by maker with the split, for a period and one machine or all, by
the hub's own report code (`vendd.hub.reports`: the ledger's statement over each replica,
machines merged line by line and split again). A maker sees her line only."""

from __future__ import annotations

from dataclasses import dataclass, replace

from vendd.errors import VenddError
from vendd.hub.config import HubConfig
from vendd.hub.reports import ReportRequest, machine_statement, merge_statements
from vendd.hub.store import Store
from vendd.ledger.reports import JournalStamp, SalesReport
from vendd.ledger.statements import Period, Split, Statement


@dataclass
class Accounts:
    statement: Statement
    machines: list[str]
    stamps: dict[str, JournalStamp]  # machine -> the rows and chain head it covers
    by_product: Statement | None = None  # the same period by product (for a maker's sheet)


class SharesDiffer(VenddError):
    """Machines with other shares or currencies cannot be summed into one statement."""


def only_maker(st: Statement, maker: str) -> Statement:
    """The statement restricted to one maker's lines (by maker: her line; by product: her
    products), totals recomputed from those lines."""
    col = 0 if st.report.by == "maker" else st.report.columns.index("maker")
    keep = [(row, sp) for row, sp in zip(st.report.rows, st.splits, strict=True)
            if row[col] == maker]
    rows = [r for r, _ in keep]
    splits = [s for _, s in keep]
    total = Split(*(sum(s.as_tuple()[i] for s in splits) for i in range(3)))
    r = st.report
    report = SalesReport(r.by, r.start, r.end, r.columns, rows, sum(x[-2] for x in rows),
                         sum(x[-1] for x in rows), r.first_seq, r.last_seq, r.head,
                         head_seq=r.head_seq)
    paid = {maker: st.paid[maker]} if maker in st.paid else {}
    return replace(st, report=report, splits=splits, total_split=total, paid=paid)


def accounts(config: HubConfig, store: Store, machines: list[str], period: Period,
             maker: str | None = None, with_products: bool = False) -> Accounts:
    known = [m.id for m in store.machines() if m.head_seq > 0]
    chosen = [m for m in machines if m in known]
    if not chosen:
        raise VenddError("the hub holds no verified rows yet")
    first = config.accounts_of(chosen[0])
    for m in chosen[1:]:
        acc = config.accounts_of(m)
        if (acc.shares, acc.currency, acc.decimals) != (first.shares, first.currency,
                                                          first.decimals):
            raise SharesDiffer(f"machine {m} has other shares or another currency")
    req = ReportRequest("sales", "maker", start=period.start, end=period.end)
    sts = [machine_statement(config, store, m, req) for m in chosen]
    st = sts[0] if len(sts) == 1 else merge_statements(sts)
    st.period = period
    stamps = {m: s.stamp for m, s in zip(chosen, sts, strict=True)}
    by_product = None
    if with_products:
        preq = ReportRequest("sales", "product", start=period.start, end=period.end)
        psts = [machine_statement(config, store, m, preq) for m in chosen]
        by_product = psts[0] if len(psts) == 1 else merge_statements(psts)
    if maker is not None:
        st = only_maker(st, maker)
        by_product = only_maker(by_product, maker) if by_product else None
    return Accounts(st, chosen, stamps, by_product)
