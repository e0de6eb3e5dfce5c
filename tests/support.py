"""Helpers the tests import (`from support import ...`): paths, the sim config pointed at a
temp ledger, and `wait_for`, which waits on a condition instead of sleeping a fixed time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vendd.commands import Fact
from vendd.config import Config, load_config
from vendd.daemon.app import Daemon
from vendd.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
SIM_CONFIG = ROOT / "config" / "sim.toml"
EXAMPLE_CONFIG = ROOT / "config" / "vendd.example.toml"


# A wait ends as soon as its condition holds; its timeout only bounds a failure. On a machine whose
# cores are busy with other work everything takes several times longer, so every timeout is
# stretched by this factor (VENDD_TEST_SLOWDOWN overrides it).
SLOWDOWN = float(os.environ.get("VENDD_TEST_SLOWDOWN", "6"))


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` (times
    SLOWDOWN)."""
    timeout *= SLOWDOWN
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def sim_config(tmp_path: Path, **overrides: Any) -> Config:
    """config/sim.toml with the ledger in tmp_path; `overrides` replace whole sections."""
    base = load_config(SIM_CONFIG)
    data = base.model_dump()
    data["ledger"] = {"path": tmp_path / "vendd.db"}
    data["mqtt"]["enabled"] = False
    data["dispenser"] = {"kind": "virtual", "turn_time_s": 0.0}
    # In-memory acceptor by default: these tests drive the controller, not the wire.
    data["coin_acceptor"] = {"kind": "virtual",
                             "coins": [{"value": c["value"], "label": c["label"]}
                                       for c in data["coin_acceptor"]["coins"]]}
    for section, value in overrides.items():
        data[section] = value
    return Config(**data)



def restock_all(daemon: Daemon) -> None:
    from vendd.events import SetStock

    assert daemon.controller is not None
    for slot in daemon.config.slots:
        reply = daemon.controller.submit(SetStock("rosa", slot.id, slot.capacity)).result(5)
        assert reply.ok, reply.error


def pay(daemon: Daemon, *coins: int) -> None:
    """Coins into the daemon's virtual acceptor once it takes them; wait until they are credit."""
    from vendd.hw.virtual import VirtualCoinAcceptor

    acceptor = daemon.devices.acceptors[0]
    assert isinstance(acceptor, VirtualCoinAcceptor) and daemon.controller is not None
    controller = daemon.controller
    wait_for(lambda: acceptor.accepting, what="the acceptor to open")
    before = controller.state.credit
    for coin in coins:
        assert acceptor.insert(coin)
    wait_for(lambda: controller.state.credit == before + sum(coins), what="the credit")


def press(daemon: Daemon, slot: str) -> None:
    """A buyer presses a selection on the daemon's virtual buttons."""
    from vendd.hw.virtual import VirtualButtons

    buttons = daemon.devices.inputs[0]
    assert isinstance(buttons, VirtualButtons)
    buttons.press(slot)


def stocked_ledger(path: Path, stock: int, tz: str | None = None) -> Ledger:
    """A ledger with Rosa's monedero in slot A1 at 3.50, `stock` of them loaded."""
    ledger = Ledger(path) if tz is None else Ledger(path, tz)
    ledger.append([
        Fact("maker_added", {"maker": "rosa", "name": "Rosa"}),
        Fact("slot_configured", {"slot": "A1", "product": "Monedero", "maker": "rosa",
                                 "price": 350, "capacity": stock, "by": "config"}),
        Fact("stock_set", {"slot": "A1", "before": 0, "after": stock, "reason": "restock",
                           "by": "rosa"}),
    ])
    return ledger


def sell_monedero(ledger: Ledger, vend: int, coins: list[int]) -> None:
    """Journal a cash sale of Rosa's 3.50 monedero from slot A1, paid with `coins` (cents)."""
    ledger.append([Fact("credit", {"device": "coin", "amount": c, "label": f"{c}c"})
                   for c in coins])
    ledger.append([Fact("vend_intent", {"vend": vend, "slot": "A1", "price": 350,
                                        "payment": "cash", "product": "Monedero",
                                        "maker": "rosa"})])
    ledger.append([Fact("sale", {"vend": vend, "slot": "A1", "product": "Monedero",
                                 "maker": "rosa", "price": 350, "payment": "cash"})])
