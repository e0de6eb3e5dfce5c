"""Seeded random traffic at the simulated machine: buyers, seamstresses and faults.

    Traffic(sim, seed).start()              # buyers only (vendd-sim run --traffic SEED)
    Traffic(sim, seed, chaos=True).start()  # everything that goes wrong in a museum

Every step draws its action and all of its parameters from `random.Random(seed)` before it
touches the machine, and the number of draws per action is fixed, so the sequence of actions
is the same for the same seed whatever the timing (waits depend on the machine, draws do
not). Each step is logged and appended to the tally (`{"step", "seed", "do", "motors_on"}`)
before it runs, so a failure found by the chaos test can be traced to a seed and a step and
replayed.

Buyers: coins (waiting for each to be credited), cancels, selections of sold-out or faulted
slots, abandoned credit, a child pressing every button; cards where a reader is configured.
Seamstresses (admin events through `controller.submit`): restocks with repairs, price
changes, cash collections, test turns of a motor with the service key.
Faults: jams, motors stuck at home, hanging products, empty spirals, acceptor self-resets,
lost events (bursts of more than 5 coins between two polls), unplug and replug of the
acceptor, bad checksums, silence, fraud codes."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from simulator.scenarios import (
    buy,
    coin_values,
    coins_for,
    insert_and_wait,
    seamstress_prepares,
)
from simulator.sim import Simulation
from vendd.events import (
    ClearSlotFault,
    CollectCash,
    Event,
    ServiceKey,
    SetPrice,
    SetStock,
    TestVend,
    VendOutcome,
)
from vendd.machine import Mode, State

log = logging.getLogger(__name__)

WAIT_S = 8.0  # longest a step waits for the machine; a timeout is logged, not fatal
PRICES = (100, 150, 250, 350, 400, 500, 800, 900, 1200)

# action -> weight, for the chaos profile
CHAOS_ACTIONS: dict[str, int] = {
    "buy": 30,
    "buy_unavailable": 4,
    "cancel": 4,
    "walk_away": 4,
    "child": 2,
    "card": 2,
    "restock": 8,
    "price": 3,
    "collect": 2,
    "test_vend": 2,
    "jam": 3,
    "stuck_home": 1,
    "hang": 1,
    "empty_spiral": 3,
    "acceptor_reset": 2,
    "burst": 2,
    "unplug": 2,
    "bad_checksums": 2,
    "silence": 1,
    "fraud": 1,
}


class Traffic:
    """Seeded random buyers and seamstresses (and, with `chaos`, faults), on a thread."""

    def __init__(self, sim: Simulation, seed: int, jam_rate: float = 0.05,
                 chaos: bool = False, max_steps: int | None = None) -> None:
        self.sim = sim
        self.seed = seed
        self.rng = random.Random(seed)
        self.jam_rate = jam_rate
        self.chaos = chaos
        self.max_steps = max_steps
        self.step = 0
        self.timeouts = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=15)

    # --- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        if not self.chaos:
            self._run_buyers()
            return
        actions = list(CHAOS_ACTIONS)
        weights = list(CHAOS_ACTIONS.values())
        while not self.stopping.is_set():
            if self.max_steps is not None and self.step >= self.max_steps:
                return
            self.step += 1
            if self.step % 200 == 0:
                self._trim_histories()
            action = self.rng.choices(actions, weights)[0]
            params = self._draw(action)
            self._log(action, params)
            try:
                getattr(self, f"_do_{action}")(**params)
            except TimeoutError as exc:
                self.timeouts += 1
                log.warning("traffic seed %d step %d (%s): %s", self.seed, self.step, action,
                            exc)
                self.sim.tally.record(step=self.step, seed=self.seed, timeout=str(exc))

    def _trim_histories(self) -> None:
        """The simulator's own records (every pin change, every ccTalk header heard) grow
        without end; keep their tails so a soak measures the daemon, not the instruments."""
        for pin in list(self.sim.pins.pins.values()):
            if len(pin.states) > 100:
                del pin.states[:-100]
        if self.sim.cctalk is not None:
            for record in (self.sim.cctalk.requests, self.sim.cctalk.accepted):
                if len(record) > 1000:
                    del record[:-1000]
        if self.sim.cabinet is not None and len(self.sim.cabinet.drops) > 1000:
            del self.sim.cabinet.drops[:-1000]

    def _log(self, action: str, params: dict[str, Any]) -> None:
        self._settle()
        motors = self.sim.motors_on()
        desc = " ".join([action, *(f"{k}={v}" for k, v in params.items())])
        log.info("traffic seed %d step %d: %s", self.seed, self.step, desc)
        self.sim.tally.record(step=self.step, seed=self.seed, do=desc, motors_on=motors)

    def _settle(self) -> None:
        """Wait until no vend or payout is under way (and the motors have stopped)."""
        try:
            self.sim.wait_idle(WAIT_S)
        except TimeoutError as exc:
            self.timeouts += 1
            log.warning("traffic seed %d step %d: %s", self.seed, self.step, exc)

    def _draw(self, action: str) -> dict[str, Any]:
        """All of a step's random parameters, drawn before it starts (a fixed number)."""
        rng = self.rng
        slots = [s.id for s in self.sim.config.slots]
        coins = coin_values(self.sim)
        slot = rng.choice(slots)
        n = rng.randint(1, 8)
        coin = rng.choice(coins)
        match action:
            case "buy" | "buy_unavailable" | "card" | "jam" | "stuck_home" | "hang" \
                    | "empty_spiral" | "test_vend":
                return {"slot": slot}
            case "cancel" | "walk_away":
                return {"coins": [rng.choice(coins) for _ in range(max(1, n // 3))]}
            case "burst":
                return {"coins": [coin] * max(6, n)}
            case "unplug":
                return {"away_s": round(rng.uniform(0.1, 1.0), 2), "coin": coin}
            case "price":
                return {"slot": slot, "price": rng.choice(PRICES)}
            case "collect":
                return {"error": rng.choice([0, 0, 0, -coin, coin])}
            case "bad_checksums" | "silence":
                return {"n": max(1, n // 2)}
            case "fraud":
                return {"code": rng.choice([17, 20, 8])}
        return {}

    # --- helpers -------------------------------------------------------------------------------

    @property
    def actor(self) -> str:
        makers = self.sim.config.makers
        return makers[self.step % len(makers)].id

    def _submit(self, event: Event) -> bool:
        controller = self.sim.daemon.controller
        assert controller is not None
        reply = controller.submit(event).result(WAIT_S)
        return bool(reply.ok)

    def _wait(self, condition: Callable[[State], bool], what: str) -> State:
        try:
            return self.sim.wait(condition, WAIT_S)
        except TimeoutError as exc:
            raise TimeoutError(f"{what}: {exc}") from exc

    def _insert(self, value: int) -> bool:
        """One coin, then wait until the daemon credited it (so at most one coin is ever
        in flight). False when the acceptor refused it."""
        before = self._credits()
        if not self.sim.insert_coin(value):
            return False
        self._wait(lambda s: self._credits() > before, f"coin {value} credited")
        return True

    def _credits(self) -> int:
        """Coins credited so far in this run, from the machine's cash box (which only a
        collection empties, on this same thread)."""
        return self.sim.state.cash_box

    def _can_take_coins(self) -> bool:
        s = self.sim.state
        return self.sim.accepting() and s.mode in (Mode.IDLE, Mode.CREDIT)

    def _pay(self, price: int) -> bool:
        for value in coins_for(max(price - self.sim.state.credit, 0), coin_values(self.sim)):
            if not self._can_take_coins():
                return False
            self._insert(value)
        return self.sim.state.credit >= price

    # --- buyers --------------------------------------------------------------------------------

    def _do_buy(self, slot: str) -> None:
        s = self.sim.state.slots[slot]
        if not s.sellable:
            self._do_buy_unavailable(slot)
            return
        if not self._pay(s.price):
            return
        before = self.sim.state.last_vend_id
        self.sim.press(slot)
        self._wait(lambda st: st.last_vend_id > before and st.vend is None, f"vend of {slot}")

    def _do_buy_unavailable(self, slot: str) -> None:
        """Pressing a sold-out, disabled or faulted slot (with or without credit): nothing
        turns and the credit stays."""
        self.sim.press(slot)
        time.sleep(0.01)

    def _do_cancel(self, coins: list[int]) -> None:
        for value in coins:
            if self._can_take_coins():
                self._insert(value)
        self.sim.cancel()

    def _do_walk_away(self, coins: list[int]) -> None:
        for value in coins:
            if self._can_take_coins():
                self._insert(value)

    def _do_child(self) -> None:
        for slot in self.sim.config.slots:
            self.sim.press(slot.id)
        self.sim.cancel()

    def _do_card(self, slot: str) -> None:
        """A buyer taps a card (where a reader is configured) and picks `slot`; the card
        pays only a cash-free purchase, so coins already on the machine stay as credit."""
        sim = self.sim
        if sim.daemon.devices.card_reader is None or not sim.tap_card(2000):
            return  # no reader, or it is not ready for a session: the buyer walks on
        self._wait(lambda st: st.card_device is not None, "a card session")
        before = sim.state.last_vend_id
        sim.press(slot)
        if sim.state.slots[slot].sellable and sim.state.credit == 0:
            self._wait(lambda st: st.last_vend_id > before and st.vend is None,
                       f"card vend of {slot}")
        sim.cancel()  # ends the session if it is still open

    # --- seamstresses --------------------------------------------------------------------------

    def _do_restock(self) -> None:
        seamstress_prepares(self.sim, self.actor)

    def _do_price(self, slot: str, price: int) -> None:
        self._submit(SetPrice(self.actor, slot, price))

    def _do_collect(self, error: int) -> None:
        counted = max(self.sim.state.cash_box + error, 0)
        self._submit(CollectCash(self.actor, counted))

    def _do_test_vend(self, slot: str) -> None:
        controller = self.sim.daemon.controller
        assert controller is not None
        s = self.sim.state.slots[slot]
        if s.fault is not None:
            self.sim.repair(slot)
            self._submit(ClearSlotFault(self.actor, slot))
        controller.post(ServiceKey(True))
        try:
            self._wait(lambda st: st.mode is Mode.SERVICE, "service mode")
            before = self.sim.state.last_vend_id
            if self._submit(TestVend(self.actor, slot)):
                self._wait(lambda st: st.last_vend_id > before and st.vend is None,
                           f"test turn of {slot}")
        finally:
            controller.post(ServiceKey(False))
        left = self.sim.state.slots[slot]
        if left.stock == 0 and left.fault is None:
            self._submit(SetStock(self.actor, slot, left.capacity))
            self.sim.load(slot, left.capacity)

    # --- faults --------------------------------------------------------------------------------

    def _do_jam(self, slot: str) -> None:
        self.sim.inject(slot, VendOutcome.JAMMED)

    def _do_stuck_home(self, slot: str) -> None:
        self.sim.inject(slot, VendOutcome.STUCK_AT_HOME)

    def _do_hang(self, slot: str) -> None:
        if self.sim.cabinet is not None:
            self.sim.cabinet.faults.hang.add(slot)

    def _do_empty_spiral(self, slot: str) -> None:
        self.sim.inject(slot, VendOutcome.NO_DROP)

    def _do_acceptor_reset(self) -> None:
        if self.sim.cctalk is not None:
            self.sim.cctalk.self_reset()
            # A power glitch takes a while: the host polls the empty counter before anything
            # else happens (events right after a reset look like a counter wrap to the host).
            time.sleep(0.5)

    def _do_burst(self, coins: list[int]) -> None:
        """More than 5 coins between two polls: the oldest fall out of the acceptor's buffer
        and the daemon journals `lost_events`."""
        cctalk = self.sim.cctalk
        if cctalk is None or not self._can_take_coins():
            return
        position = next(p for p, (v, _) in cctalk.coins.items() if v == coins[0])
        before = self._credits()
        kept = sum(cctalk.insert_burst([position] * len(coins)))
        if kept:
            self._wait(lambda s: self._credits() > before, "burst credited")
            time.sleep(0.3)  # the rest of the buffer, on the next polls

    def _do_unplug(self, away_s: float, coin: int) -> None:
        cctalk = self.sim.cctalk
        if cctalk is None:
            return
        cctalk.unplug()
        time.sleep(away_s / 2)
        # A buyer who does not know: the acceptor (still powered) keeps the coin, and the
        # daemon credits it when the adapter comes back.
        position = next(p for p, (v, _) in cctalk.coins.items() if v == coin)
        before = self._credits()
        kept = cctalk.insert(position)
        time.sleep(away_s / 2)
        cctalk.replug()
        if kept:
            self._wait(lambda s: self._credits() > before, "coin credited after replug")

    def _do_bad_checksums(self, n: int) -> None:
        if self.sim.cctalk is not None:
            self.sim.cctalk.bad_checksums(n)

    def _do_silence(self, n: int) -> None:
        if self.sim.cctalk is not None:
            self.sim.cctalk.silence(n)

    def _do_fraud(self, code: int) -> None:
        if self.sim.cctalk is not None:
            self.sim.cctalk.fraud(code)

    # --- the buyers-only profile (vendd-sim run --traffic SEED) --------------------------------

    def _run_buyers(self) -> None:
        sim, rng = self.sim, self.rng
        actor = sim.config.makers[0].id
        while not self.stopping.is_set():
            sim.wait_idle()
            if any(s.stock == 0 or s.fault for s in sim.state.slots.values()):
                seamstress_prepares(sim, actor)
            slot = rng.choice(list(sim.state.slots.values()))
            if rng.random() < self.jam_rate:
                sim.inject(slot.id, rng.choice([VendOutcome.JAMMED, VendOutcome.NO_DROP]))
            if rng.random() < 0.1:
                insert_and_wait(sim, rng.choice(coin_values(sim)))  # a buyer who walks away
                continue
            buy(sim, slot.id)
