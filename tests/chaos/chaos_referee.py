"""The referee of a chaos run: what physically happened in the cabinet (its tally of coins the
acceptor kept and products that fell through the beam, and what is in the spirals) held
against what the daemon journaled.

- cents lost: cents the acceptor kept that were never credited, plus the price of every sale
  journaled for a product that never fell;
- goods given away: products that fell with no sale (or delivered test turn) journaled;
- double credits: credits journaled for coins the acceptor never kept (each coin counted once);
- double vends: products beyond the one a selection asked for (two fell for one selection, or
  one fell with no selection at all), and vends journaled as a sale twice;
- stock differed: restarts after which a spiral held a different number of products than the
  ledger's stock for it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vendd.ledger.journal import JournalRow


@dataclass
class Counts:
    cents_lost: int = 0
    goods_given_away: int = 0
    double_credits: int = 0
    double_vends: int = 0
    stock_differed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def zero(self) -> bool:
        return not (self.cents_lost or self.goods_given_away or self.double_credits
                    or self.double_vends or self.stock_differed)

    def line(self) -> str:
        return (f"{self.cents_lost} cents lost, {self.goods_given_away} goods given away, "
                f"{self.double_credits} double credits, {self.double_vends} double vends, "
                f"stock differed after {self.stock_differed} restarts")


class Referee:
    def __init__(self) -> None:
        self.extra_drops = 0
        self.stock_differed = 0
        self.notes: list[str] = []
        self._mark = 0  # products fallen when the last selection was made
        self._selected = False

    def selection(self, drops_now: int) -> None:
        """A selection (a buyer's press or a test turn) is about to be made: the products
        fallen since the last one belong to it."""
        self._close(drops_now)
        self._selected = True

    def _close(self, drops_now: int) -> None:
        fallen = drops_now - self._mark
        extra = fallen - (1 if self._selected else 0)
        if extra > 0:
            self.extra_drops += extra
            self.notes.append(f"{fallen} products fell for one selection"
                              if self._selected else f"{fallen} fell with no selection")
        self._mark, self._selected = drops_now, False

    def stock_after_restart(self, spirals: dict[str, int], state: dict[str, Any],
                            life: int) -> None:
        ledger = {k: v["stock"] for k, v in state["slots"].items()}
        differ = {k: (spirals.get(k), n) for k, n in ledger.items() if spirals.get(k) != n}
        if differ:
            self.stock_differed += 1
            self.notes.append(f"after start {life}: spiral/ledger {differ}")

    def final(self, rows: list[JournalRow], tally: dict[str, list[Any]]) -> Counts:
        self._close(len(tally["drops"]))
        counts = Counts(stock_differed=self.stock_differed, notes=self.notes)
        kept = Counter(int(v) for v in tally["coins"])
        credited = Counter(int(r.fields["amount"]) for r in rows if r.kind == "credit")
        missing, invented = kept - credited, credited - kept
        counts.cents_lost = sum(v * n for v, n in missing.items())
        counts.double_credits = sum(invented.values())
        if missing:
            counts.notes.append(f"kept but never credited: {dict(missing)}")
        if invented:
            counts.notes.append(f"credited but never kept: {dict(invented)}")

        sales = [r for r in rows if r.kind == "sale"]
        sold = Counter(r.fields["slot"] for r in sales)
        sold += Counter(r.fields["slot"] for r in rows
                        if r.kind == "test_vend" and r.fields.get("outcome") == "delivered")
        fell = Counter(tally["drops"])
        price = {r.fields["slot"]: int(r.fields.get("price", 0)) for r in sales}
        for slot, n in (sold - fell).items():
            counts.cents_lost += n * price.get(slot, 0)
            counts.notes.append(f"{n} sales of {slot} journaled, no product fell")
        given = fell - sold
        counts.goods_given_away = sum(given.values())
        if given:
            counts.notes.append(f"fell with no sale journaled: {dict(given)}")
        twice = [v for v, n in Counter(r.fields["vend"] for r in sales).items() if n > 1]
        counts.double_vends = self.extra_drops + len(twice)
        if twice:
            counts.notes.append(f"vends journaled as a sale twice: {twice}")
        return counts
