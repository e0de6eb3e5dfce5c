"""The service menu end to end on the daemon: virtual buttons and display, a real ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import restock_all, sim_config, wait_for

from vendd.config import Config
from vendd.daemon.app import Daemon
from vendd.events import ServiceKey, VendOutcome
from vendd.ledger.ledger import open_readonly
from vendd.ledger.statements import local_today, parse_period, split, statement
from vendd.ledger.verify import verify
from vendd.machine import Mode
from vendd.menu.pins import key_of_digit

KEYS = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]
CLOSE = ["Cierre la puerta", "y gire la llave"]


def start(config: Config) -> Daemon:
    d = Daemon(config)
    d.start()
    d.wait_ready()
    return d


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Daemon]:
    d = start(sim_config(tmp_path))
    yield d
    d.stop()


def type_pin(d: Daemon, pin: str) -> None:
    buttons = d.devices.inputs[0]
    for digit in pin:
        buttons.press(KEYS[key_of_digit(digit, len(KEYS))])
    buttons.cancel()  # the coin-return button is OK


def settled(d: Daemon) -> None:
    """Every press posted so far has been handled (the queue is first in, first out)."""
    assert d.controller is not None
    d.controller.submit(ServiceKey(True)).result(5)  # the key is on already: no change


def journal(d: Daemon, kind: str) -> list[str]:
    assert d.controller is not None
    return [f for (f,) in d.controller.ledger.db.conn.execute(
        "SELECT fields FROM journal WHERE kind = ? ORDER BY seq", (kind,))]


def test_leaving_with_the_key_on_keeps_the_machine_from_selling(running: Daemon) -> None:
    buttons, display = running.devices.inputs[0], running.devices.display
    acceptor = running.devices.acceptors[0]
    ctl = running.controller
    assert ctl is not None
    buttons.service_key(True)
    wait_for(lambda: display.lines == ["PIN ", "y Devolución=OK"], what="the PIN screen")
    type_pin(running, "3579")  # Lucía: A3 B1 B3 A1, OK
    wait_for(lambda: display.lines[0] == "Hola Lucía", what="signed in")
    for key in ("B4", "B3", "B4"):
        buttons.press(key)
    wait_for(lambda: ctl.state.slots["B3"].stock == 12, what="B3 restocked")
    assert '"by":"lucia"' in journal(running, "stock_set")[-1]
    buttons.cancel()  # back to the main menu
    buttons.cancel()  # back at the top: she is done, the key still on
    wait_for(lambda: display.lines == CLOSE, what="close the door, turn the key")
    assert ctl.state.mode is Mode.SERVICE and not acceptor.accepting
    assert not acceptor.insert(100)  # no money goes in
    assert journal(running, "signed_in") == ['{"by":"lucia"}']
    assert journal(running, "signed_out") == ['{"by":"lucia","reason":"exit"}']
    assert journal(running, "service_key") == ['{"on":true}']  # not off: it is not
    buttons.service_key(False)
    wait_for(lambda: display.lines == ["Pague exacto", "No da cambio"], what="sale")
    assert acceptor.accepting
    assert journal(running, "service_key") == ['{"on":true}', '{"on":false}']
    buttons.press("B3")  # a buyer again: the machine answers with the price
    wait_for(lambda: display.lines == ["B3 cuesta", "$1.00"], what="the price")


def test_brute_force_of_mixed_pin_lengths_is_locked_out_across_a_restart(
        tmp_path: Path) -> None:
    base = sim_config(tmp_path)
    pins = {"rosa": "1357", "carmen": "246802", "lucia": "3571357", "maria": "46802468"}
    makers = [mk.model_dump() | {"pin": pins[mk.id]} for mk in base.makers]
    service = base.service.model_dump() | {"pin_tries": 3, "lock_s": 600.0}
    config = Config(**base.model_dump() | {"makers": makers, "service": service})
    d = start(config)
    try:
        buttons, display = d.devices.inputs[0], d.devices.display
        buttons.service_key(True)
        wait_for(lambda: display.lines[0] == "PIN ", what="the PIN screen")
        guesses = ["0000", "12345", "999999", "1357135", "24682468", "1111", "2468024"]
        tried = 0
        for guess in guesses:
            if display.lines[0] == "Menú bloqueado":
                break
            type_pin(d, guess)
            tried += 1
            wait_for(lambda n=tried: len(journal(d, "pin_failed")) == n
                     and display.lines[0] in ("PIN incorrecto", "Menú bloqueado"),
                     what="the answer to the try")
        wait_for(lambda: display.lines == ["Menú bloqueado", "Espere 10 min"], what="locked")
        assert tried == 3  # every length counted: locked within the configured tries
        assert len(journal(d, "pin_locked")) == 1
        type_pin(d, "1357")  # the right PIN now changes nothing
        settled(d)
        assert display.lines[0] == "Menú bloqueado" and not journal(d, "signed_in")
        everything = " ".join(f for kind in ("pin_failed", "pin_locked") for f in journal(d, kind))
        assert not any(g in everything for g in guesses)  # no PIN or guess in the journal
    finally:
        d.stop()
    d = start(config)  # a restart does not lift it
    try:
        buttons, display = d.devices.inputs[0], d.devices.display
        buttons.service_key(True)
        wait_for(lambda: display.lines[0] == "Menú bloqueado", what="still locked")
        type_pin(d, "1357")
        settled(d)
        assert display.lines[0] == "Menú bloqueado" and not journal(d, "signed_in")
    finally:
        d.stop()
    # The menu's own facts replay like any other: the journal verifies.
    db = open_readonly(config.ledger.path)
    try:
        assert verify(db).ok
    finally:
        db.close()


def test_probar_motor_on_the_jammed_slot_clears_it_under_her_name(running: Daemon) -> None:
    ctl, buttons, display = running.controller, running.devices.inputs[0], running.devices.display
    assert ctl is not None
    restock_all(running)
    outcomes = iter([VendOutcome.JAMMED])
    running.devices.dispenser.outcome_for = lambda slot: next(outcomes, VendOutcome.DELIVERED)
    for _ in range(4):
        running.devices.acceptors[0].insert(100)
    buttons.press("A1")
    wait_for(lambda: ctl.state.slots["A1"].fault == "jammed", what="the jam")
    buttons.service_key(True)
    type_pin(running, "1357")
    wait_for(lambda: display.lines[0] == "Hola Rosa", what="signed in")
    for key in ("A1", "A1", "B4"):  # Estado: the jam is the first page
        buttons.press(key)
    wait_for(lambda: display.lines == ["A1 atascada", "B4=borrar falla"], what="faults first")
    buttons.cancel()
    for key in ("A1", "A1", "B4", "A1"):  # back to Probar motor, then the jammed slot
        buttons.press(key)
    wait_for(lambda: display.lines == ["A1 funciona", "Falla borrada"], what="cleared")
    assert ctl.state.slots["A1"].fault is None
    assert journal(running, "slot_fault_cleared") == [
        '{"by":"rosa","fault":"jammed","slot":"A1"}']


def test_ventas_shows_her_sales_and_share_as_the_statement_splits_them(running: Daemon) -> None:
    ctl, buttons, display = running.controller, running.devices.inputs[0], running.devices.display
    assert ctl is not None
    restock_all(running)
    for _ in range(4):
        running.devices.acceptors[0].insert(100)
    buttons.press("A1")  # Rosa's $3.50
    wait_for(lambda: ctl.state.slots["A1"].stock == 7, what="a sale")
    buttons.service_key(True)
    type_pin(running, "1357")
    wait_for(lambda: display.lines[0] == "Hola Rosa", what="signed in")
    for key in ("A2", "A2", "B4"):
        buttons.press(key)
    wait_for(lambda: display.lines == ["Hoy $3.50", "Mes $3.50"], what="her sales")
    buttons.press("A2")
    share = split(350, running.config.shares).maker_share
    month = statement(ctl.ledger.db, parse_period("month", local_today(ctl.ledger.tz)),
                      running.config.shares, ctl.ledger.tz)
    # Every maker has a line (with zero too): take Rosa's.
    rosa = next(sp for row, sp in zip(month.report.rows, month.splits, strict=True)
                if row[0] == "rosa")
    assert share == rosa.maker_share == 245
    wait_for(lambda: display.lines == ["Su parte del mes", "$2.45"], what="her share")


def test_buyer_told_no_change_then_recaudar_and_a_faulted_restock(running: Daemon) -> None:
    ctl, buttons, display = running.controller, running.devices.inputs[0], running.devices.display
    acceptor = running.devices.acceptors[0]
    assert ctl is not None
    restock_all(running)
    wait_for(lambda: display.lines == ["Pague exacto", "No da cambio"], what="no change said")
    outcomes = iter([VendOutcome.JAMMED])
    running.devices.dispenser.outcome_for = lambda slot: next(outcomes, VendOutcome.DELIVERED)
    for _ in range(2):
        acceptor.insert(100)
    wait_for(lambda: display.lines == ["Crédito $2.00", "Úselo en 5 min"], what="how long")
    buttons.cancel()
    wait_for(lambda: display.lines == ["No da cambio", "Sobra: colectivo"], what="the policy")
    acceptor.insert(100)
    acceptor.insert(50)  # $3.50: A1's price; its turn jams and the credit comes back
    buttons.press("A1")
    wait_for(lambda: ctl.state.slots["A1"].fault == "jammed", what="the jam")
    buttons.service_key(True)
    type_pin(running, "4680")  # María
    wait_for(lambda: display.lines[0] == "Hola María", what="signed in")
    for key in ("B4", "A1", "B4"):  # Reponer A1: it has a fault, so she is asked
        buttons.press(key)
    wait_for(lambda: display.lines == ["¿A1 arreglada?", "B4=sí A1=no"], what="fixed?")
    buttons.press("B4")
    wait_for(lambda: ctl.state.slots["A1"].fault is None, what="cleared")
    assert journal(running, "slot_fault_cleared") == [
        '{"by":"maria","fault":"jammed","slot":"A1"}']
    buttons.cancel()  # to the main menu: the cursor is on Precio
    for key in ("A2", "A2", "B4"):  # Recaudar
        buttons.press(key)
    wait_for(lambda: display.lines == ["Contado $0.00", "A1- A2+ B4=OK"], what="blank count")
    for key in ("A4", "A4", "A4", "B4"):
        buttons.press(key)
    expected = ctl.state.cash_box
    wait_for(lambda: display.lines == [f"$3.00 de ${expected // 100}.{expected % 100:02d}",
                                       "¿Bien? B4=sí"], what="the confirmation")
    assert not journal(running, "cash_collected")
    buttons.press("B4")
    wait_for(lambda: journal(running, "cash_collected"), what="saved")
    assert '"by":"maria"' in journal(running, "cash_collected")[0]
