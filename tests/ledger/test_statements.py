"""Statements on generated ledgers: totals equal the journal's money per period of LOCAL
days, the 23:59 / 00:01 boundary, and a split that adds up to the cent."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from accounts_data import SLOTS, TZ, Builder, local, setup_facts
from hypothesis import given
from hypothesis import strategies as st

from vendd.config import SharesConfig
from vendd.errors import VenddError
from vendd.ledger.ledger import open_readonly
from vendd.ledger.statements import Period, parse_period, split, statement

ZONE = ZoneInfo(TZ)
DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(9)]


@st.composite
def shares(draw: st.DrawFn) -> SharesConfig:
    maker = draw(st.integers(0, 100))
    collective = draw(st.integers(0, 100 - maker))
    return SharesConfig(maker=maker, collective=collective, museum=100 - maker - collective)


@given(st.integers(0, 10**9), shares())
def test_split_adds_up_to_the_cent_and_each_part_is_within_a_cent(gross: int,
                                                                   sh: SharesConfig) -> None:
    parts = split(gross, sh)
    assert parts.total == gross
    for part, percent in zip(parts.as_tuple(), (sh.maker, sh.collective, sh.museum),
                             strict=True):
        assert abs(part * 100 - gross * percent) < 100  # off by less than one cent
    assert split(gross, sh) == parts  # deterministic


@given(st.lists(st.integers(1, 50_000), min_size=1, max_size=40), shares())
def test_statement_lines_and_totals_add_up(prices: list[int], sh: SharesConfig) -> None:
    lines = [split(p, sh) for p in prices]
    totals = [sum(x.as_tuple()[i] for x in lines) for i in range(3)]
    assert sum(totals) == sum(prices)


def test_documented_tie_breaks() -> None:
    sh = SharesConfig(maker=70, collective=20, museum=10)
    assert split(1275, sh).as_tuple() == (893, 255, 127)  # .5 and .5: the maker first
    assert split(1, SharesConfig(maker=34, collective=33, museum=33)).as_tuple() == (1, 0, 0)
    assert split(2, SharesConfig(maker=0, collective=50, museum=50)).as_tuple() == (0, 1, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 300 vends over nine days, many right at local midnight, plus payouts and
    unclaimed credit; prices vary (price_set at the machine)."""
    path = tmp_path_factory.mktemp("gen") / "gen.db"
    rng = random.Random(9)
    b = Builder(path, local("2026-02-28 07:00"))
    b.at(local("2026-02-28 07:00"), *setup_facts(stock=20))
    moments: list[datetime] = []
    for day in DAYS:
        base = datetime.combine(day, datetime.min.time())
        moments += [base + timedelta(minutes=rng.randrange(0, 24 * 60)) for _ in range(25)]
        moments += [base + timedelta(hours=23, minutes=59), base + timedelta(minutes=1)]
    for moment in sorted(moments):
        when = local(moment.isoformat(sep=" "))
        slot = rng.choice(SLOTS)[0]
        if next(s for s in b.ledger.slots() if s.id == slot).stock == 0:
            b.fact(when, "stock_set", slot=slot, before=0, after=20, reason="restock",
                   by="rosa")
        roll = rng.random()
        if roll < 0.08:
            b.vend(when, slot, outcome="jammed")
            b.fact(when, "slot_fault_cleared", slot=slot, fault="jammed", by="rosa")
            b.fact(when, "payout", device="changer", amount=b.ledger.machine().credit,
                   paid=b.ledger.machine().credit - 5, owed=5)
        else:
            b.vend(when, slot, payment="card" if roll < 0.3 else "cash",
                   price=rng.randrange(25, 2000))
        if roll > 0.95:
            b.fact(when, "credit", device="coins", amount=100, label="$1", route="tubes")
            b.fact(when, "unclaimed", amount=100)
    b.close()
    return path


def _journal_by_day(path: Path) -> dict[str, dict[str, int]]:
    """The independent count: every journal row placed on its local day by zoneinfo."""
    days: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    conn = sqlite3.connect(path)
    for ts, kind, fields in conn.execute("SELECT ts, kind, fields FROM journal"):
        day = datetime.fromisoformat(ts).astimezone(ZONE).date().isoformat()
        f, d = json.loads(fields), days[day]
        if kind == "sale":
            d["items"] += 1
            d["gross"] += f["price"]
            d[f"{f['payment']}_sales"] += f["price"]
            d[f"maker:{f['maker']}"] += f["price"]
        elif kind == "credit":
            d["cash_in"] += f["amount"]
        elif kind == "vend_failed":
            d["failed_vends"] += 1
        elif kind == "payout":
            d["owed"] += f["owed"]
            d["paid_out"] += f["amount"] - f["owed"]
        elif kind == "unclaimed":
            d["unclaimed"] += f["amount"]
    conn.close()
    return days


@pytest.mark.parametrize("span", [(0, 0), (1, 1), (0, 6), (2, 8), (8, 8), (0, 8)])
def test_statement_totals_equal_the_journal_per_period(generated: Path,
                                                       span: tuple[int, int]) -> None:
    start, end = DAYS[span[0]], DAYS[span[1]]
    sh = SharesConfig(maker=65, collective=25, museum=10)
    db = open_readonly(generated)
    try:
        s = statement(db, Period(start, end), sh, TZ)
    finally:
        db.close()
    days = _journal_by_day(generated)
    inside = [days[(start + timedelta(days=i)).isoformat()]
              for i in range((end - start).days + 1)]

    def total(key: str) -> int:
        return sum(d[key] for d in inside)

    assert total("items") > 0
    assert (s.report.items, s.report.gross) == (total("items"), total("gross"))
    assert {row[0]: row[-1] for row in s.report.rows} == {
        m: total(f"maker:{m}") for m in ("rosa", "carmen", "lucia") if total(f"maker:{m}")}
    m = s.money
    assert (m.cash_in, m.cash_sales, m.card_sales, m.failed_vends, m.paid_out, m.owed,
            m.unclaimed) == (total("cash_in"), total("cash_sales"), total("card_sales"),
                             total("failed_vends"), total("paid_out"), total("owed"),
                             total("unclaimed"))
    assert m.failed_vends > 0 or span[0] == span[1]
    assert s.total_split.total == s.report.gross
    assert all(sp.total == row[-1] for sp, row in zip(s.splits, s.report.rows, strict=True))
    # The stamp names rows that are all inside the period, and the chain head.
    assert s.stamp.first_seq <= s.stamp.last_seq <= s.stamp.head_seq and len(s.stamp.head) == 64


def test_a_sale_at_2359_and_one_at_0001_land_on_their_local_days(tmp_path: Path) -> None:
    b = Builder(tmp_path / "edge.db", local("2026-03-01 07:00"))
    b.at(local("2026-03-01 07:00"), *setup_facts())
    b.vend(local("2026-03-01 23:59"), "A1")  # 04:59 UTC on March 2nd
    b.vend(local("2026-03-02 00:01"), "A2")  # 05:01 UTC on March 2nd
    b.close()
    sh = SharesConfig()
    db = open_readonly(tmp_path / "edge.db")
    try:
        first = statement(db, Period(date(2026, 3, 1), date(2026, 3, 1)), sh, TZ, by="day")
        second = statement(db, Period(date(2026, 3, 2), date(2026, 3, 2)), sh, TZ, by="day")
    finally:
        db.close()
    assert first.report.rows == [("2026-03-01", 1, 350)]
    assert second.report.rows == [("2026-03-02", 1, 125)]
    assert (first.money.cash_in, second.money.cash_in) == (350, 125)


def test_periods() -> None:
    today = date(2026, 3, 12)  # a Thursday
    assert parse_period("today", today) == Period(today, today, "today")
    assert parse_period("week", today) == Period(date(2026, 3, 9), date(2026, 3, 15), "week")
    assert parse_period("month", date(2028, 2, 10)) == Period(date(2028, 2, 1),
                                                              date(2028, 2, 29), "month")
    got = parse_period("2026-01-01..2026-01-31", today)
    assert (got.start, got.end) == (date(2026, 1, 1), date(2026, 1, 31))
    for bad in ("yesterday", "2026-01-31..2026-01-01", "2026-01-01", "2026-13-01..2026-12-01"):
        with pytest.raises(VenddError):
            parse_period(bad, today)
