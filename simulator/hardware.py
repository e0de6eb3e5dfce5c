"""The simulated cabinet's hardware without a daemon: device peers on pseudo-terminals, GPIO
pins with the spirals' physics, a buyer's hands on the buttons, the LCD, and the physical tally
(coins the acceptor kept, products that fell) written to disk before the daemon hears of them,
so tests can hold the ledger against it. `Simulation` (simulator/sim.py) puts the daemon in
the same process; `vendd-sim cabinet` (simulator/cabinet_proc.py) runs it alone."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from simulator.cabinet import SimCabinet
from simulator.cctalk_peer import SimCctalkAcceptor
from simulator.hands import Hands
from simulator.hd44780 import SimLcdFactory
from simulator.mdb_peer import SimMdbBus
from simulator.pinwire import WatchedPin
from simulator.pulse_peer import PulsePeer, PulseShape
from vendd.config import Config
from vendd.events import VendOutcome
from vendd.hw.display import LcdDisplay

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
                    continue  # a line cut by SIGKILL
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
    physics, the buyer's hands. `config` is the given one with each simulated port filled in.
    Nothing here reads the ledger: the spirals hold what was physically put in them."""

    def __init__(self, config: Config, tally_path: Path | None = None,
                 turn_time_s: float = 0.3, dwell_s: float = 0.05,
                 state_path: Path | None = None) -> None:
        self.tally = Tally(tally_path)
        self.state_path = state_path  # where the spirals' contents outlive this process
        self.peers: list[Any] = []  # device peers on pseudo-terminals, started before the daemon
        self.cctalk: SimCctalkAcceptor | None = None
        self.mdb: SimMdbBus | None = None
        self.config = self._attach_peers(config)
        # The daemon's GPIO, as lgpio would give it on a Pi; contacts follow the scanned rows.
        self.pins = MockFactory(pin_class=WatchedPin)
        self.pins.on_output = lambda pin: self._outputs_changed()
        self.cabinet: SimCabinet | None = None
        self.lock: Any = threading.RLock()
        if self.config.dispenser.kind == "gpio":
            self.cabinet = SimCabinet(self.config.dispenser, self.pins, turn_time_s,
                                      products={s.id: 0 for s in self.config.slots},
                                      dwell_s=dwell_s)
            self.cabinet.on_drop = self._dropped
            self.lock = self.cabinet._lock
        self.hands = (Hands(self.config.buttons, self.pins, self.lock)
                      if self.config.buttons.kind == "gpio" else None)
        self.pulse = self._attach_pulse(self.config)
        # An HD44780 on the I2C backpack, in place of RPLCD, when the config has an LCD.
        self.lcd = SimLcdFactory() if self.config.display.kind == "lcd" else None
        # The cabinet's own count of products (virtual dispenser), which can differ from the
        # ledger's.
        self.products: dict[str, int] = {s.id: 0 for s in config.slots}
        self.faults: dict[str, VendOutcome] = {}  # slot -> injected outcome of its next turns
        self._restore()

    def _dropped(self, slot: str) -> None:
        self.tally.record(drop=slot)
        self._save()

    def _restore(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        try:
            spirals = json.loads(self.state_path.read_text(encoding="utf-8"))["spirals"]
        except (ValueError, KeyError, TypeError):
            log.warning("sim: %s is unreadable; the spirals start empty", self.state_path)
            return
        for slot, count in spirals.items():
            if slot in self.products:
                self.load(slot, int(count))

    def _save(self) -> None:
        """Write the spirals' contents (atomically: a kill leaves the old or the new file)."""
        if self.state_path is None:
            return
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"spirals": self.in_spirals()}), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _attach_peers(self, config: Config) -> Config:
        """Start a simulated peer for each serial device and point the config at its port."""
        config = self._attach_mdb(config)
        ca = config.coin_acceptor
        if ca is None or ca.kind != "cctalk":
            return config
        coins = {c.position: (c.value, c.label) for c in ca.coins if c.position is not None}
        self.cctalk = SimCctalkAcceptor(coins, address=ca.address, checksum=ca.checksum,
                                        echo=ca.echo)
        # A coin and the acceptor's event are one tally line, written before any poll can see
        # the event: a cabinet started again on the same tally (after `vendd-sim run` was
        # killed) holds exactly the buffer the last one had, as a powered acceptor does.
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

    def _attach_pulse(self, config: Config) -> PulsePeer | None:
        ca = config.coin_acceptor
        if ca is None or ca.kind != "pulse":
            return None
        return PulsePeer(self.pins, ca.pin, inhibit_pin=ca.inhibit_pin,
                         inhibit_active_high=ca.inhibit_active_high,
                         shape=PulseShape(pulse_s=ca.pulse_ms / 1000))

    def simulated_devices(self) -> dict[str, Any]:
        """Devices that stand in for a library the simulator replaces (section -> device)."""
        if self.lcd is None:
            return {}
        return {"display": LcdDisplay("display", self.config.display, lcd_factory=self.lcd)}

    def _outputs_changed(self) -> None:
        if self.hands is not None:
            self.hands.refresh()

    def ports(self) -> dict[str, str]:
        """The serial ports of the simulated devices, as an installer writes them in the
        config: section -> port."""
        out = {}
        if self.cctalk is not None:
            out["coin_acceptor"] = self.cctalk.port
        if self.mdb is not None:
            out["mdb"] = self.mdb.port
        return out

    def driven_pins(self) -> set[str]:
        """Input pins something physical drives (switches, the beam, hands, the acceptor's
        output): a pull resistor set by the daemon does not move them."""
        names: set[str] = set()
        d = self.config.dispenser
        if d.kind == "gpio":
            pins = [*d.home_pins.values(), d.home_pin, d.drop_sensor_pin]
            names |= {self.pins.pin(p).info.name for p in pins if p is not None}
        if self.hands is not None:
            names |= self.hands.driven()
        if self.pulse is not None:
            names.add(self.pins.pin(self.pulse.pin).info.name)
        return names

    def off_level(self, name: str) -> bool | None:
        """The level an output pin falls to when the daemon lets go of it: motors off (the
        driver board's pulls), keypad rows idle, a pulse acceptor inhibited."""
        d, b, ca = self.config.dispenser, self.config.buttons, self.config.coin_acceptor
        number = self.pins.pin(name).info
        if d.kind == "gpio":
            motors = [*d.rows.values(), *d.columns.values(), *d.motors.values()]
            if any(self.pins.pin(p).info == number for p in motors):
                return not d.active_high
        if any(self.pins.pin(p).info == number for p in b.rows.values()):
            return True
        if ca is not None and ca.kind == "pulse" and ca.inhibit_pin is not None \
                and self.pins.pin(ca.inhibit_pin).info == number:
            return ca.inhibit_active_high
        return None

    def load(self, slot: str, count: int) -> None:
        """Put products in a spiral (the physical side of a restock)."""
        if self.cabinet is not None:
            with self.lock:
                self.cabinet.products[slot] = count
        self.products[slot] = count
        self._save()

    def in_spirals(self) -> dict[str, int]:
        """What is physically in each spiral now."""
        if self.cabinet is not None:
            with self.lock:
                return {s.id: self.cabinet.products.get(s.id, 0) for s in self.config.slots}
        return dict(self.products)

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
            self._save()

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

    # --- the buyer's hands on the physical devices ---------------------------------------

    def coin_values(self) -> list[int]:
        """The coins a buyer can put in: the acceptor's table, or the MDB changer's."""
        if self.mdb is not None and self.mdb.changer is not None:
            return sorted(set(self.mdb.changer.coins.values()))
        ca = self.config.coin_acceptor
        return [c.value for c in ca.coins] if ca is not None else []

    def insert_physical(self, value: int) -> bool | None:
        """A coin into a simulated physical acceptor; None when the acceptor is virtual (it
        lives in the daemon)."""
        if self.mdb is not None and self.mdb.changer is not None:
            with self.mdb.lock:
                return self.mdb.changer.insert(value)
        if self.cctalk is not None:
            position = next(p for p, (v, _) in self.cctalk.coins.items() if v == value)
            return self.cctalk.insert(position)
        ca = self.config.coin_acceptor
        if self.pulse is not None and ca is not None:
            pulses = next(c.pulses for c in ca.coins if c.value == value)
            kept = self.pulse.insert(pulses or 1)
            if kept:
                self.tally.record(coin=value)
            return kept
        return None

    def accepting_physical(self) -> bool | None:
        if self.cctalk is not None:
            return self.cctalk.accepting
        if self.mdb is not None and self.mdb.changer is not None:
            return bool(self.mdb.changer.enabled)
        if self.pulse is not None:
            return not self.pulse.inhibited()
        return None

    def start_physics(self) -> None:
        if self.hands is not None:
            self.hands.idle()
        if self.pulse is not None:
            self.pulse.start()
        if self.cabinet is not None:
            self.cabinet.step()  # home switches closed, beam clear, before a driver looks
            self.cabinet.start()

    def motors_on(self) -> list[int]:
        """The motor output pins (rows, columns or motors) that are energised right now."""
        d = self.config.dispenser
        if d.kind != "gpio":
            return []
        pins = [*d.rows.values(), *d.columns.values(), *d.motors.values()]
        return sorted(p for p in pins if self.pins.pin(p).function == "output"
                      and bool(self.pins.pin(p).state) == d.active_high)

    def stop_physics(self) -> None:
        if self.cabinet is not None:
            self.cabinet.stop()
        if self.pulse is not None:
            self.pulse.stop()
        for peer in self.peers:
            peer.stop()
        self.pins.close()
        self.tally.close()
