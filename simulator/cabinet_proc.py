"""`vendd-sim cabinet`: the simulated cabinet in a process of its own, as real hardware is.

The acceptor (its pty and its event buffer), the spirals with their products, the cams where
they stopped, the buttons and the physical tally live here and outlive any daemon: a daemon
started with `vendd-sim daemon --cabinet DIR` reaches the serial peers through their ports
and the GPIO pins through `DIR/pins.sock` (simulator/pinwire.py); killing it leaves all of
this as it was. People (a test, a script) act on the cabinet through `DIR/cabinet.sock`
(simulator/rpc.py): coins, buttons, restocking the spirals, faults, and reading the tally."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from simulator.hardware import Cabinet
from simulator.pinwire import CabinetPins
from simulator.rpc import Server
from vendd.config import Config
from vendd.events import VendOutcome

FAULTS = {"jam": VendOutcome.JAMMED, "stuck_home": VendOutcome.STUCK_AT_HOME,
          "empty": VendOutcome.NO_DROP}


class CabinetProcess:
    def __init__(self, config: Config, folder: Path, tally: Path | None,
                 turn_time_s: float, dwell_s: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.cab = Cabinet(config, tally or folder / "tally.jsonl", turn_time_s, dwell_s,
                           state_path=folder / "spirals.json")
        self.cab.start_physics()
        refresh = self.cab.cabinet.step if self.cab.cabinet is not None else (lambda: None)
        self.pins = CabinetPins(self.cab.pins, str(folder / "pins.sock"), self.cab.lock,
                                refresh, self.cab.off_level, self.cab.driven_pins())
        self.server = Server(str(folder / "cabinet.sock"), self.handle)

    def handle(self, op: str, args: dict[str, Any]) -> Any:
        cab, acc, spirals = self.cab, self.cab.cctalk, self.cab.cabinet
        match op:
            case "ports":
                return cab.ports()
            case "coin_values":
                return cab.coin_values()
            case "insert":
                return cab.insert_physical(int(args["value"]))
            case "accepting":
                return cab.accepting_physical()
            case "press":
                return cab.hands is not None and cab.hands.press(args["slot"])
            case "cancel":
                return cab.hands is not None and cab.hands.cancel()
            case "service_key":
                return cab.hands is not None and cab.hands.service_key(bool(args["on"]))
            case "load":
                cab.load(args["slot"], int(args["count"]))
                return True
            case "in_spirals":
                return cab.in_spirals()
            case "inject":
                cab.inject(args["slot"], FAULTS[args["fault"]])
                return True
            case "hang":
                if spirals is not None:
                    spirals.faults.hang.add(args["slot"])
                return True
            case "repair":
                cab.repair(args["slot"])
                return True
            case "hold":
                if spirals is not None:
                    spirals.set_hold(args["slot"], args.get("at"))
                return spirals is not None
            case "holding":
                return sorted(spirals.holding) if spirals is not None else []
            case "at_home":
                return {s: spirals.at_home(s) for s in spirals.slots} if spirals else {}
            case "tally":
                with cab.tally._lock:
                    return {"coins": list(cab.tally.coins), "drops": list(cab.tally.drops)}
            case "attached":
                return {"now": self.pins.daemon_attached(), "count": self.pins.connections}
            case "heard":
                return len(acc.requests) if acc is not None else 0
            case "motors_on":
                return cab.motors_on()
        return self._acceptor(op, args)

    def _acceptor(self, op: str, args: dict[str, Any]) -> Any:
        acc = self.cab.cctalk
        if acc is None:
            return False
        match op:
            case "self_reset":
                acc.self_reset()
            case "bad_checksums" | "silence":
                getattr(acc, op)(int(args["n"]))
            case "fraud":
                acc.fraud(int(args["code"]))
            case "unplug":
                acc.unplug()
            case "replug":
                acc.replug()
            case "burst":
                position = next(p for p, (v, _) in acc.coins.items() if v == args["value"])
                return sum(acc.insert_burst([position] * int(args["n"])))
            case _:
                raise ValueError(f"no such cabinet operation: {op!r}")
        return True

    def close(self) -> None:
        self.server.close()
        self.pins.close()
        self.cab.stop_physics()


def run_cabinet(config: Config, folder: Path, tally: Path | None, turn_time_s: float,
                dwell_s: float) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    proc = CabinetProcess(config, folder, tally, turn_time_s, dwell_s)
    print(f"cabinet ready {folder}", flush=True)
    try:
        stop.wait()
    finally:
        proc.close()
    return 0
