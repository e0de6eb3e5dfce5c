"""Buyers, seamstresses and faults at the cabinet, drawn from a seeded random generator, with
the moment of each kill chosen by a condition (a coin in the acceptor, a cam held between the
drop and home, the daemon's first words to the acceptor), never by a sleep.

Buyers touch only the cabinet (coins into the acceptor, GPIO buttons); seamstresses fill the
spirals with their hands and tell the daemon through its window what the menu would journal."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from chaos_machine import ChaosFailure, Machine, wait_until
from chaos_referee import Referee

from simulator.scenarios import coins_for

BEFORE_DROP = 0.15  # where a cam is held, just off home (0.125), well before the drop (0.5)
AFTER_DROP = 0.8  # where a cam is held after it (home at 1.0)

# kill point -> weight. "startup_*" kill a daemon that is not ready yet.
KILL_POINTS: dict[str, int] = {
    "startup_pins": 3,
    "startup_acceptor": 5,
    "ready": 2,
    "coin": 6,
    "before_drop": 5,
    "after_drop": 8,
    "after_vend": 4,
    "test_turn": 2,
    "idle": 2,
}
FILLERS: dict[str, int] = {
    "buy": 10, "walk_away": 3, "cancel": 2, "restock": 2, "price": 1, "collect": 1,
    "test_turn": 1, "jam": 2, "hang": 1, "acceptor_noise": 2, "acceptor_reset": 1,
}
PRICES = (100, 150, 200, 250, 300, 350)
CREDIT_WAIT_S = 8.0  # a poll is 0.1 s; after this a kept coin is taken as not credited


class People:
    def __init__(self, m: Machine, rng: random.Random, referee: Referee,
                 say: Callable[[str], None]) -> None:
        self.m = m
        self.cab = m.cab
        self.rng = rng
        self.referee = referee
        self.say = say
        self.coins: list[int] = self.cab.call("coin_values")
        self.makers = ["rosa", "carmen", "lucia", "maria"]

    # --- helpers -----------------------------------------------------------------------------

    def win(self, op: str, **args: Any) -> Any:
        assert self.m.win is not None
        return self.m.win.call(op, **args)

    def drops(self) -> int:
        return len(self.cab.call("tally")["drops"])

    def insert(self, value: int, wait: bool = True) -> bool:
        """One coin; with `wait`, until the daemon has credited it."""
        before = self.m.state()["cash_box"]
        if not self.cab.call("insert", value=value):
            return False
        if wait:
            # A coin the daemon never credits is a loss the referee counts at the end (it
            # holds the acceptor's tally against the journal), not a reason to stop here.
            try:
                wait_until(lambda: self.m.state()["cash_box"] > before,
                           f"coin {value} credited", CREDIT_WAIT_S)
            except ChaosFailure:
                self.say(f"coin {value} kept by the acceptor, not credited within "
                         f"{CREDIT_WAIT_S:.0f}s")
        return True

    def can_take_coins(self) -> bool:
        s = self.m.state()
        return bool(self.cab.call("accepting")) and s["mode"] in ("idle", "credit")

    def pay(self, price: int, kill_after: int | None = None) -> bool:
        """Coins until the credit covers `price`. `kill_after`: the daemon is killed right
        after that many coins went in (the last still in the acceptor's buffer)."""
        todo = coins_for(max(price - self.m.state()["credit"], 0), self.coins)
        for i, value in enumerate(todo, 1):
            if not self.can_take_coins():
                return False
            if kill_after is not None and i >= kill_after:
                if self.rng.random() < 0.5:
                    # A noisy line: the acceptor misses the next two polls, so the coin is
                    # surely still in its buffer, unread, when the daemon dies.
                    self.cab.call("silence", n=2)  # fewer than the driver's retries
                if self.insert(value, wait=False):
                    self.m.kill()
                    return False
                continue
            self.insert(value)
        return self.m.state()["credit"] >= price

    def sellable_slot(self) -> str:
        slots = self.m.state()["slots"]
        ok = [k for k, v in slots.items() if v["sellable"]]
        if not ok:
            self.restock()
            ok = list(slots)
        return self.rng.choice(sorted(ok))

    def press(self, slot: str) -> int:
        before = self.m.state()["last_vend_id"]
        self.referee.selection(self.drops())
        self.cab.call("press", slot=slot)
        return int(before)

    def vend_done(self, before: int) -> Callable[[dict[str, Any]], bool]:
        return lambda s: s["last_vend_id"] > before and s["vend"] is None

    # --- buyers ------------------------------------------------------------------------------

    def buy(self, slot: str | None = None, hold: float | None = None) -> None:
        slot = slot or self.sellable_slot()
        price = self.m.state()["slots"][slot]["price"]
        if not self.pay(price):
            return
        if hold is not None:
            self.cab.call("hold", slot=slot, at=hold)
        before = self.press(slot)
        if hold is None:
            self.m.wait_state(self.vend_done(before), f"the vend of {slot}")
            return
        # Held mid-turn, or the vend ended another way (a cam not at home is refused).
        wait_until(lambda: slot in self.cab.call("holding")
                   or self.vend_done(before)(self.m.state()), f"{slot} held at {hold}")
        self.m.kill()
        self.cab.call("hold", slot=slot, at=None)  # the motor is off now anyway

    def walk_away(self) -> None:
        for _ in range(self.rng.randint(1, 3)):
            if self.can_take_coins():
                self.insert(self.rng.choice(self.coins))

    def cancel(self) -> None:
        self.walk_away()
        self.cab.call("cancel")

    # --- seamstresses ------------------------------------------------------------------------

    def restock(self) -> None:
        """She frees jammed spirals, fills every spiral and enters what she did."""
        actor = self.rng.choice(self.makers)
        for slot, v in self.m.state()["slots"].items():
            if v["fault"] is not None:
                self.cab.call("repair", slot=slot)
                self.win("clear_fault", actor=actor, slot=slot)
            if v["stock"] < v["capacity"]:
                self.win("set_stock", actor=actor, slot=slot, count=v["capacity"])
                self.cab.call("load", slot=slot, count=v["capacity"])

    def price(self) -> None:
        slot = self.rng.choice(sorted(self.m.state()["slots"]))
        self.win("set_price", actor=self.rng.choice(self.makers), slot=slot,
                 price=self.rng.choice(PRICES))

    def collect(self) -> None:
        self.win("collect", actor=self.rng.choice(self.makers),
                 counted=self.m.state()["cash_box"])

    def test_turn(self, kill: bool = False) -> None:
        """A seamstress turns a motor once with the service key on (a product falls)."""
        slot = self.sellable_slot()
        self.cab.call("service_key", on=True)
        try:
            self.m.wait_state(lambda s: s["mode"] == "service", "service mode")
            if kill:
                self.cab.call("hold", slot=slot, at=AFTER_DROP)
            before = self.m.state()["last_vend_id"]
            self.referee.selection(self.drops())
            answer = self.win("test_vend", actor=self.rng.choice(self.makers), slot=slot)
            if kill:
                wait_until(lambda: slot in self.cab.call("holding")
                           or not answer["ok"], f"test turn of {slot} held")
                self.m.kill()
                self.cab.call("hold", slot=slot, at=None)
                return
            if answer["ok"]:
                self.m.wait_state(self.vend_done(before), f"test turn of {slot}")
        finally:
            self.cab.call("service_key", on=False)
        self.m.wait_state(lambda s: s["mode"] != "service", "service mode left")

    # --- faults ------------------------------------------------------------------------------

    def jam(self) -> None:
        slot = self.sellable_slot()
        self.cab.call("inject", slot=slot, fault=self.rng.choice(["jam", "stuck_home"]))
        self.buy(slot)

    def hang(self) -> None:
        slot = self.sellable_slot()
        self.cab.call("hang", slot=slot)
        self.buy(slot)

    def acceptor_noise(self) -> None:
        self.cab.call(self.rng.choice(["bad_checksums", "silence"]), n=self.rng.randint(1, 3))
        self.walk_away()

    def acceptor_reset(self) -> None:
        """A power glitch resets the acceptor; the buyer's coins come after it is back up
        (the host has polled it a few times), as a glitch takes a while."""
        heard = self.cab.call("heard")
        self.cab.call("self_reset")
        wait_until(lambda: self.cab.call("heard") >= heard + 3, "the acceptor polled again")
        self.walk_away()

    # --- one life of the daemon --------------------------------------------------------------

    def filler(self) -> None:
        action = self.rng.choices(list(FILLERS), list(FILLERS.values()))[0]
        getattr(self, action)()

    def startup_marks(self) -> tuple[int, int]:
        """(daemons that opened the GPIO, requests the acceptor heard) so far."""
        return self.cab.call("attached")["count"], self.cab.call("heard")

    def startup_kill(self, point: str, before: tuple[int, int], words: int) -> None:
        """Kill the daemon while it starts: once it has opened its GPIO, or once it has said
        `words` things to the acceptor (`before`: `startup_marks()` before it started)."""
        attached, heard = before
        if point == "startup_pins":
            wait_until(lambda: self.cab.call("attached")["count"] > attached
                       or not self.m.alive(), "the daemon to open its GPIO")
        else:
            wait_until(lambda: self.cab.call("heard") >= heard + words
                       or not self.m.alive(), "the daemon to talk to the acceptor")
        self.m.kill()

    def kill_at(self, point: str) -> None:
        """Run the life's last action, which ends with the daemon killed at `point`."""
        match point:
            case "ready" | "idle":
                self.m.kill()
            case "coin":
                slot = self.sellable_slot()
                price = self.m.state()["slots"][slot]["price"]
                if not self.pay(price, kill_after=self.rng.randint(1, 3)):
                    if self.m.alive():
                        self.m.kill()
                    return
                self.m.kill()  # paid in full: killed with the credit held
            case "before_drop" | "after_drop":
                self.buy(hold=BEFORE_DROP if point == "before_drop" else AFTER_DROP)
                if self.m.alive():
                    self.m.kill()
            case "after_vend":
                self.buy()
                self.m.kill()
            case "test_turn":
                self.test_turn(kill=True)
                if self.m.alive():
                    self.m.kill()
