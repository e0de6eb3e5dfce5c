"""A coordinator's signed request through the pure machine: the change rows name her and the
request, and one `request` row closes it in the same step, accepted or refused."""

from __future__ import annotations

from vendd import events as ev
from vendd.commands import Fact
from vendd.ledger import kinds
from vendd.machine import Reply, Settings, Slot, State, handle

ORIGIN = ev.RequestOrigin("set_price", "ana", 1733100000123, "r-1")


def state() -> State:
    settings = Settings(max_credit=500, message_s=4.0, unclaimed_credit_s=300.0,
                        has_changer=False, payment_devices=frozenset({"coins"}))
    slots = {"A1": Slot("A1", "Monedero", "rosa", 125, capacity=5, stock=3)}
    return handle(State(settings=settings, slots=slots), ev.Started()).state


def facts(step_commands: list[object]) -> list[Fact]:
    return [c for c in step_commands if isinstance(c, Fact)]


def test_an_accepted_request_names_its_signer_and_closes_in_the_same_step() -> None:
    step = handle(state(), ev.SetPrice("coordinator", "A1", 150, request=ORIGIN))
    rows = facts(step.commands)
    assert [f.kind for f in rows] == ["price_set", "request"]
    assert rows[0].fields == {"slot": "A1", "price": 150, "before": 125, "by": "coordinator",
                              "coordinator": "ana", "request_id": "r-1"}
    assert rows[1].fields == {"action": "set_price", "coordinator": "ana",
                              "counter": 1733100000123, "request_id": "r-1", "ok": True}
    assert Reply(True) in step.commands
    for f in rows:
        kinds.validate(f.kind, f.fields)


def test_a_refused_request_is_closed_with_its_answer_and_changes_nothing_else() -> None:
    before = state()
    step = handle(before, ev.SetPrice("coordinator", "Z9", 150, request=ORIGIN))
    rows = facts(step.commands)
    assert [f.kind for f in rows] == ["request"]
    assert rows[0].fields["ok"] is False and "unknown slot" in rows[0].fields["error"]
    kinds.validate("request", rows[0].fields)
    assert step.state.slots == before.slots


def test_a_request_that_finds_nothing_to_change_still_uses_its_counter() -> None:
    origin = ev.RequestOrigin("enable_slot", "ana", 7, "r-2")
    step = handle(state(), ev.SetSlotEnabled("coordinator", "A1", True, request=origin))
    assert [f.kind for f in facts(step.commands)] == ["request"]


def test_a_change_from_the_service_menu_is_as_before() -> None:
    step = handle(state(), ev.SetPrice("rosa", "A1", 150))
    rows = facts(step.commands)
    assert [f.kind for f in rows] == ["price_set"]
    assert rows[0].fields["by"] == "rosa" and "coordinator" not in rows[0].fields
