"""The chaos referee counts each kind of loss exactly, from a tally and a journal written by
hand: a coin never credited, a coin credited twice, a product that fell unsold, a sale with no
product, two products for one selection, and spirals that differ from the ledger."""

from __future__ import annotations

from typing import Any

from chaos_referee import Referee

from vendd.ledger.journal import JournalRow


def rows(*facts: tuple[str, dict[str, Any]]) -> list[JournalRow]:
    return [JournalRow(i, "2026-12-02T00:00:00Z", kind, fields, f"h{i}")
            for i, (kind, fields) in enumerate(facts, 1)]


def credit(amount: int) -> tuple[str, dict[str, Any]]:
    return "credit", {"device": "coin_acceptor", "amount": amount}


def sale(vend: int, slot: str, price: int = 150) -> tuple[str, dict[str, Any]]:
    return "sale", {"vend": vend, "slot": slot, "price": price}


def test_all_square_is_zero() -> None:
    ref = Referee()
    ref.selection(0)
    counts = ref.final(rows(credit(100), credit(50), sale(1, "A1")),
                       {"coins": [100, 50], "drops": ["A1"]})
    assert counts.zero, counts.line()


def test_each_loss_is_counted_once() -> None:
    ref = Referee()
    ref.selection(0)  # vend 1 of A1: two products fall
    ref.selection(2)  # vend 2 of B1: journaled, nothing fell
    journal = rows(credit(100), credit(25), credit(25), sale(1, "A1"), sale(2, "B1", 300))
    tally = {"coins": [100, 25, 10], "drops": ["A1", "A1"]}
    counts = ref.final(journal, tally)
    assert counts.cents_lost == 10 + 300  # a dime never credited; B1 paid, never fell
    assert counts.double_credits == 1  # a second quarter that never went in
    assert counts.goods_given_away == 1  # the second A1
    assert counts.double_vends == 1  # two products for one selection
    assert counts.line() == ("310 cents lost, 1 goods given away, 1 double credits, "
                             "1 double vends, stock differed after 0 restarts")


def test_a_product_with_no_selection_and_a_sale_twice_are_double_vends() -> None:
    ref = Referee()
    counts = ref.final(rows(sale(1, "A1"), sale(1, "A1")), {"coins": [], "drops": ["A1"]})
    assert counts.double_vends == 2  # it fell unasked, and vend 1 was sold twice
    assert counts.cents_lost == 150  # two sales, one product


def test_spirals_against_the_ledger_after_a_restart() -> None:
    ref = Referee()
    state = {"slots": {"A1": {"stock": 5}, "B1": {"stock": 3}}}
    ref.stock_after_restart({"A1": 5, "B1": 3}, state, 1)
    ref.stock_after_restart({"A1": 4, "B1": 3}, state, 2)
    assert ref.final([], {"coins": [], "drops": []}).stock_differed == 1
    assert "after start 2: spiral/ledger {'A1': (4, 5)}" in ref.notes
