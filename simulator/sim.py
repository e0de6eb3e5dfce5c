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

from simulator.cctalk_peer import SimCctalkAcceptor
from vendd.app import Daemon
from vendd.config import Config
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


class Simulation:
    """The cabinet: spirals with products, injected faults, and the daemon inside."""

    def __init__(self, config: Config, tally_path: Path | None = None,
                 on_display: Callable[[list[str]], None] | None = None) -> None:
        self.tally = Tally(tally_path)
        self.peers: list[Any] = []  # device peers on pseudo-terminals, started before the daemon
        self.cctalk: SimCctalkAcceptor | None = None
        self.config = self._attach_peers(config)
        self.daemon = Daemon(self.config)
        # The cabinet's own count of products, which can differ from the ledger's.
        self.products: dict[str, int] = {s.id: 0 for s in config.slots}
        self.faults: dict[str, VendOutcome] = {}  # slot -> injected outcome of its next turns
        self._wire(on_display)

    def _attach_peers(self, config: Config) -> Config:
        """Start a simulated peer for each serial device and point the config at its port."""
        ca = config.coin_acceptor
        if ca is None or ca.kind != "cctalk":
            return config
        coins = {c.position: (c.value, c.label) for c in ca.coins if c.position is not None}
        self.cctalk = SimCctalkAcceptor(coins, address=ca.address, checksum=ca.checksum,
                                        echo=ca.echo)
        self.cctalk.on_accept = lambda position: self.tally.record(coin=coins[position][0])
        self.peers.append(self.cctalk.start())
        data = config.model_dump()
        data["coin_acceptor"]["port"] = self.cctalk.port
        return Config(**data)

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
        self.daemon.start()
        self.daemon.wait_ready()

    def stop(self) -> None:
        self.daemon.stop()
        for peer in self.peers:
            peer.stop()
        self.tally.close()

    @property
    def state(self) -> State:
        assert self.daemon.controller is not None and self.daemon.controller.state is not None
        return self.daemon.controller.state

    # --- the buyer's and the seamstress's hands ------------------------------------------

    def insert_coin(self, value: int) -> bool:
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

    def load(self, slot: str, count: int) -> None:
        """Put products in a spiral (the physical side of a restock)."""
        self.products[slot] = count

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
