"""The simulated cabinet around the real daemon.

`Simulation` builds the daemon from a config exactly as `vendd run` would, then plays the
other side of every device: coins into the acceptor, buttons, what falls out of a spiral.
It keeps a physical tally (coins the acceptor kept, products that fell) in a JSON-lines file,
written before the daemon hears of the event, so tests can hold the ledger against it."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from simulator.cabinet import SimCabinet
from simulator.cctalk_peer import SimCctalkAcceptor
from simulator.mdb_peer import SimMdbBus
from vendd.config import Config
from vendd.daemon.app import Daemon
from vendd.events import VendOutcome
from vendd.hw.virtual import VirtualButtons, VirtualCoinAcceptor, VirtualDispenser
from vendd.machine import Mode, State

log = logging.getLogger(__name__)


class Tally:
    """What physically happened, appended and flushed to disk before the daemon is told."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.coins: list[int] = []
        self.drops: list[str] = []
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8") if path else None

    def record(self, **entry: Any) -> None:
        with self._lock:
            if "coin" in entry:
                self.coins.append(entry["coin"])
            if "drop" in entry:
                self.drops.append(entry["drop"])
            if self._file is not None:
                self._file.write(json.dumps(entry) + "\n")
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    @staticmethod
    def read_cctalk(path: Path | None) -> list[tuple[int, int, int]]:
        """The ccTalk acceptor's events, as `SimCctalkAcceptor.restore` takes them."""
        events: list[tuple[int, int, int]] = []
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "cctalk" in entry:
                    counter, a, b = entry["cctalk"]
                    events.append((counter, a, b))
        return events

    @staticmethod
    def read(path: Path) -> tuple[list[int], list[str]]:
        coins, drops = [], []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by SIGKILL
                if "coin" in entry:
                    coins.append(entry["coin"])
                if "drop" in entry:
                    drops.append(entry["drop"])
        return coins, drops


class Cabinet:
    """The physical side: device peers on pseudo-terminals, GPIO pins and the spirals'
    physics. `config` is the given one with each simulated port filled in."""

    def __init__(self, config: Config, tally_path: Path | None = None,
                 turn_time_s: float = 0.3) -> None:
        self.tally = Tally(tally_path)
        self.peers: list[Any] = []  # device peers on pseudo-terminals, started before the daemon
        self.cctalk: SimCctalkAcceptor | None = None
        self.mdb: SimMdbBus | None = None
        self.config = self._attach_peers(config)
        self.pins = MockFactory()  # the daemon's GPIO, as lgpio would give it on a Pi
        self.cabinet: SimCabinet | None = None
        if self.config.dispenser.kind == "gpio":
            self.cabinet = SimCabinet(self.config.dispenser, self.pins, turn_time_s,
                                      products={s.id: 0 for s in self.config.slots})
            self.cabinet.on_drop = lambda slot: self.tally.record(drop=slot)
        # The cabinet's own count of products, which can differ from the ledger's.
        self.products: dict[str, int] = {s.id: 0 for s in config.slots}
        self.faults: dict[str, VendOutcome] = {}  # slot -> injected outcome of its next turns

    def _attach_peers(self, config: Config) -> Config:
        """Start a simulated peer for each serial device and point the config at its port."""
        config = self._attach_mdb(config)
        ca = config.coin_acceptor
        if ca is None or ca.kind != "cctalk":
            return config
        coins = {c.position: (c.value, c.label) for c in ca.coins if c.position is not None}
        self.cctalk = SimCctalkAcceptor(coins, address=ca.address, checksum=ca.checksum,
                                        echo=ca.echo)
        # A coin and the acceptor's event are one tally line: the acceptor of the next run
        # (after a kill) holds exactly the buffer this one had, as powered hardware does.
        self.cctalk.restore(Tally.read_cctalk(self.tally.path))

        def record(counter: int, a: int, b: int) -> None:
            coin = {"coin": coins[a][0]} if a in coins else {}
            self.tally.record(cctalk=[counter, a, b], **coin)

        self.cctalk.on_event = record
        self.peers.append(self.cctalk.start())
        data = config.model_dump()
        data["coin_acceptor"]["port"] = self.cctalk.port
        return Config(**data)

    def _attach_mdb(self, config: Config) -> Config:
        """`mdb.link = "sim"`: the simulated changer, bill validator and reader on one pty."""
        m = config.mdb
        if m is None or m.link != "sim":
            return config
        self.mdb = SimMdbBus(changer=m.changer is not None, bills=m.bill_validator is not None,
                             reader=m.cashless is not None)
        if self.mdb.changer is not None:
            self.mdb.changer.on_coin = lambda value: self.tally.record(coin=value)
        if self.mdb.bills is not None:
            self.mdb.bills.on_stack = lambda value: self.tally.record(coin=value)
        self.peers.append(self.mdb.start())
        data = config.model_dump()
        data["mdb"]["port"] = self.mdb.port
        return Config(**data)

    def load(self, slot: str, count: int) -> None:
        """Put products in a spiral (the physical side of a restock)."""
        if self.cabinet is not None:
            self.cabinet.products[slot] = count
        self.products[slot] = count

    def inject(self, slot: str, fault: VendOutcome) -> None:
        """Make the next turns of `slot` fail: JAMMED (never comes home), STUCK_AT_HOME,
        NO_DROP (the spiral is empty)."""
        if self.cabinet is None:
            self.faults[slot] = fault
        elif fault is VendOutcome.JAMMED:
            self.cabinet.faults.jam.add(slot)
        elif fault is VendOutcome.STUCK_AT_HOME:
            self.cabinet.faults.stuck_home.add(slot)
        else:
            self.cabinet.products[slot] = 0
        if fault is VendOutcome.NO_DROP:
            self.products[slot] = 0

    def repair(self, slot: str) -> None:
        """What a seamstress does at the open door before clearing a slot's fault."""
        self.faults.pop(slot, None)
        if self.cabinet is not None:
            self.cabinet.repair(slot)

    def tap_card(self, balance: int = 2000) -> bool:
        """A buyer taps a card with `balance` on the simulated MDB reader; False when there
        is no reader or it is not ready for a session."""
        reader = self.mdb.reader if self.mdb is not None else None
        return reader is not None and bool(reader.tap(balance))

    def start_physics(self) -> None:
        if self.cabinet is not None:
            self.cabinet.step()  # home switches closed, beam clear, before a driver looks
            self.cabinet.start()

    def motors_on(self) -> list[int]:
        """The motor output pins (rows, columns or motors) that are energised right now."""
        d = self.config.dispenser
        if d.kind != "gpio":
            return []
        pins = [*d.rows.values(), *d.columns.values(), *d.motors.values()]
        return sorted(p for p in pins if bool(self.pins.pin(p).state) == d.active_high)

    def stop_physics(self) -> None:
        if self.cabinet is not None:
            self.cabinet.stop()
        for peer in self.peers:
            peer.stop()
        self.pins.close()
        self.tally.close()


class Simulation(Cabinet):
    """The cabinet with the real daemon inside, built exactly as `vendd run` builds it."""

    def __init__(self, config: Config, tally_path: Path | None = None,
                 on_display: Callable[[list[str]], None] | None = None,
                 turn_time_s: float = 0.3) -> None:
        super().__init__(config, tally_path, turn_time_s)
        self.daemon = Daemon(self.config, pin_factory=self.pins)
        self._wire(on_display)

    def _wire(self, on_display: Callable[[list[str]], None] | None) -> None:
        devices = self.daemon.devices
        for acceptor in devices.acceptors:
            if isinstance(acceptor, VirtualCoinAcceptor):
                acceptor.on_accept = lambda value: self.tally.record(coin=value)
        if isinstance(devices.dispenser, VirtualDispenser):
            devices.dispenser.outcome_for = self._turn
        if on_display is not None and hasattr(devices.display, "on_show"):
            devices.display.on_show = on_display

    def _turn(self, slot: str) -> VendOutcome:
        fault = self.faults.get(slot)
        if fault is not None:
            return fault
        if self.products.get(slot, 0) <= 0:
            return VendOutcome.NO_DROP
        self.products[slot] -= 1
        self.tally.record(drop=slot)
        return VendOutcome.DELIVERED

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.start_physics()
        self.daemon.start()
        self.daemon.wait_ready()
        # The spirals hold what the ledger says they hold when the simulation begins; only
        # later (an empty spiral injected, a product that hangs) may the two differ.
        for slot in self.state.slots.values():
            self.load(slot.id, slot.stock)

    def stop(self) -> None:
        self.daemon.stop()
        self.tally.record(final_motors_on=self.motors_on())  # the chaos test checks them off
        self.stop_physics()

    @property
    def state(self) -> State:
        assert self.daemon.controller is not None and self.daemon.controller.state is not None
        return self.daemon.controller.state

    # --- the buyer's and the seamstress's hands ------------------------------------------

    def insert_coin(self, value: int) -> bool:
        if self.mdb is not None and self.mdb.changer is not None:
            with self.mdb.lock:
                return self.mdb.changer.insert(value)
        if self.cctalk is not None:
            position = next(p for p, (v, _) in self.cctalk.coins.items() if v == value)
            return self.cctalk.insert(position)
        acceptor = self.daemon.devices.acceptors[0]
        assert isinstance(acceptor, VirtualCoinAcceptor)
        return acceptor.insert(value)

    def accepting(self) -> bool:
        """Whether the acceptor takes coins right now (its inhibits are released)."""
        if self.cctalk is not None:
            return self.cctalk.accepting
        if self.mdb is not None and self.mdb.changer is not None:
            return bool(self.mdb.changer.enabled)
        acceptor = self.daemon.devices.acceptors[0]
        return bool(getattr(acceptor, "accepting", False))

    def _buttons(self) -> VirtualButtons:
        buttons = self.daemon.devices.inputs[0]
        assert isinstance(buttons, VirtualButtons)
        return buttons

    def press(self, slot: str) -> None:
        self._buttons().press(slot)

    def cancel(self) -> None:
        self._buttons().cancel()

    def display(self) -> list[str]:
        return list(getattr(self.daemon.devices.display, "lines", []))

    def wait(self, condition: Callable[[State], bool], timeout: float = 10.0) -> State:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state
            if condition(state):
                return state
            time.sleep(0.002)
        raise TimeoutError(f"the machine did not get there in {timeout}s (mode {self.state.mode})")

    def wait_idle(self, timeout: float = 10.0) -> State:
        """Wait until no vend or payout is under way."""
        return self.wait(lambda s: s.vend is None and not s.payout
                         and s.mode is not Mode.STARTING, timeout)
