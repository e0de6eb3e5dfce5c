"""Ledgers with chosen timestamps, for the accounts tests (statements, DEX, charts, CLI)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vendd.commands import Fact
from vendd.ledger import Ledger

TZ = "America/Guayaquil"  # UTC-5 all year, no daylight saving
GYE = timedelta(hours=-5)
MAKERS = {"rosa": "Rosa Quishpe", "carmen": "Carmen Tituaña", "lucia": "Lucía Guamán"}
SLOTS = [("A1", "Monedero bordado", "rosa", 350), ("A2", "Llavero de lana", "carmen", 125),
         ("B1", "Bolso tejido", "lucia", 1275)]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> str:
        return self.now.astimezone(UTC).isoformat(timespec="microseconds")


def local(text: str) -> datetime:
    """A local (Quito) wall time, `YYYY-MM-DD HH:MM`."""
    naive = datetime.fromisoformat(text)
    return (naive - GYE).replace(tzinfo=UTC)


def setup_facts(stock: int = 10) -> list[Fact]:
    facts = [Fact("maker_added", {"maker": m, "name": n}) for m, n in MAKERS.items()]
    facts += [Fact("slot_configured", {"slot": s, "product": p, "maker": m, "price": price,
                                       "capacity": 20, "by": "config"})
              for s, p, m, price in SLOTS]
    facts += [Fact("stock_set", {"slot": s, "before": 0, "after": stock, "reason": "restock",
                                 "by": "rosa"}) for s, *_ in SLOTS]
    return facts


class Builder:
    """Appends facts at chosen times; `vend()` journals intent + outcome like the machine."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.clock = Clock(start)
        self.ledger = Ledger(path, TZ, clock=self.clock)
        self.vends = 0

    def at(self, when: datetime, *facts: Fact) -> None:
        self.clock.now = when
        self.ledger.append(list(facts))

    def fact(self, when: datetime, kind: str, **fields: Any) -> None:
        self.at(when, Fact(kind, fields))

    def vend(self, when: datetime, slot: str, payment: str = "cash",
             outcome: str = "delivered", price: int | None = None) -> None:
        _, product, maker, list_price = next(s for s in SLOTS if s[0] == slot)
        price = list_price if price is None else price
        self.vends += 1
        v = self.vends
        facts = []
        if payment == "cash":
            facts.append(Fact("credit", {"device": "coins", "amount": price, "label": "coins",
                                         "route": "cashbox"}))
        facts.append(Fact("vend_intent", {"vend": v, "slot": slot, "price": price,
                                          "payment": payment, "product": product,
                                          "maker": maker}))
        if outcome == "delivered":
            facts.append(Fact("sale", {"vend": v, "slot": slot, "product": product,
                                       "maker": maker, "price": price, "payment": payment,
                                       "turns": 1}))
        else:
            facts.append(Fact("vend_failed", {"vend": v, "slot": slot, "outcome": outcome,
                                              "price": price, "payment": payment}))
        self.at(when, *facts)

    def close(self) -> None:
        self.ledger.close()


def known_ledger(path: Path) -> Path:
    """The hand-checked ledger of tests/data/known.dex and the CLI tests (January 2026)."""
    b = Builder(path, local("2026-01-05 08:00"))
    b.at(local("2026-01-05 08:00"), *setup_facts())
    b.vend(local("2026-01-05 09:10"), "A1")  # $3.50 cash
    b.vend(local("2026-01-05 10:20"), "A2", payment="card")  # $1.25 card
    b.vend(local("2026-01-05 11:30"), "B1", outcome="jammed")  # failed, credit back
    b.fact(local("2026-01-05 11:31"), "payout", device="changer", amount=1275, paid=1250,
           owed=25)
    b.fact(local("2026-01-05 12:00"), "device_fault", device="coins", code="coin_jam",
           detail="", blocking=False)
    b.fact(local("2026-01-05 23:59"), "credit", device="bills", amount=500, label="$5",
           route="stacker")
    b.vend(local("2026-01-05 23:59"), "A1", payment="card")
    b.fact(local("2026-01-06 00:01"), "unclaimed", amount=500)
    b.fact(local("2026-01-06 08:00"), "cash_collected", expected=2125, counted=2100,
           difference=-25, by="carmen")
    b.fact(local("2026-01-06 08:05"), "dex_reset", through=b.ledger.head[0], file="x.dex",
           by="export-dex")
    b.vend(local("2026-01-06 09:00"), "A1")  # $3.50 cash
    b.vend(local("2026-01-06 09:05"), "B1")  # $12.75 cash
    b.fact(local("2026-01-06 09:06"), "credit", device="coins", amount=25, label="25c",
           route="tubes")
    b.fact(local("2026-01-06 09:07"), "payout", device="changer", amount=25, paid=25, owed=0)
    b.fact(local("2026-01-06 09:30"), "device_fault", device="changer", code="tube_jam",
           detail="tube 2", blocking=False)
    b.fact(local("2026-01-06 10:00"), "stock_set", slot="A2", before=9, after=20,
           reason="restock", by="carmen")
    b.vend(local("2026-01-07 00:01"), "A2")  # $1.25 cash
    b.close()
    return path


def add_all(b: Builder, events: Iterable[tuple[datetime, str, str]]) -> None:
    for when, slot, payment in events:
        b.vend(when, slot, payment)
