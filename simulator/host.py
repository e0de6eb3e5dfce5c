"""`vendd-sim daemon --cabinet DIR`: the real daemon, as `vendd run` runs it, on a cabinet that
lives in another process (`vendd-sim cabinet`).

Only the config and the pin factory differ from a Raspberry Pi: the serial ports are the
cabinet's ptys (filled in as an installer writes /dev/serial/by-id paths), and the GPIO pins
are a `RemotePinFactory` mirroring the cabinet's pins. Once the daemon is ready, `DIR/daemon.sock`
is a window for tests and scripts: the machine's state as the display and the feed show it,
the seamstress's menu actions (journaled under her id, as the menu journals them), and the
virtual buttons when the config has no GPIO buttons. Kill this process and the cabinet stays."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from simulator.pinwire import RemotePinFactory
from simulator.rpc import Client, Server
from vendd.config import Config, load_config, pin_table
from vendd.daemon.app import Daemon
from vendd.daemon.systemd import run_service
from vendd.events import (
    ClearSlotFault,
    CollectCash,
    Event,
    ServiceKey,
    SetPrice,
    SetStock,
    TestVend,
)
from vendd.hw.virtual import VirtualButtons

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 30.0


def state_snapshot(daemon: Daemon) -> dict[str, Any]:
    controller = daemon.controller
    assert controller is not None and controller.state is not None
    s = controller.state
    return {
        "mode": s.mode.value, "credit": s.credit, "cash_box": s.cash_box,
        "last_vend_id": s.last_vend_id, "payout": s.payout, "accepting": s.accepting,
        "vend": None if s.vend is None else s.vend.slot, "faults": sorted(s.faults),
        "slots": {k: {"stock": v.stock, "price": v.price, "capacity": v.capacity,
                      "fault": v.fault, "sellable": v.sellable} for k, v in s.slots.items()},
    }


def _admin(op: str, a: dict[str, Any]) -> Event:
    actor = a["actor"]
    match op:
        case "set_stock":
            return SetStock(actor, a["slot"], int(a["count"]))
        case "set_price":
            return SetPrice(actor, a["slot"], int(a["price"]))
        case "collect":
            return CollectCash(actor, int(a["counted"]))
        case "clear_fault":
            return ClearSlotFault(actor, a["slot"])
        case "test_vend":
            return TestVend(actor, a["slot"])
    raise ValueError(f"no such daemon operation: {op!r}")


class Window:
    """What a test may see of and do to the running daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def handle(self, op: str, args: dict[str, Any]) -> Any:
        controller = self.daemon.controller
        assert controller is not None
        buttons = self.daemon.devices.inputs[0] if self.daemon.devices.inputs else None
        virtual = buttons if isinstance(buttons, VirtualButtons) else None
        match op:
            case "state":
                return state_snapshot(self.daemon)
            case "display":
                return list(getattr(self.daemon.devices.display, "lines", []))
            case "press" | "cancel":
                if virtual is None:
                    return False
                virtual.press(args["slot"]) if op == "press" else virtual.cancel()
                return True
            case "service_key":
                controller.post(ServiceKey(bool(args["on"])))
                return True
        reply = controller.submit(_admin(op, args)).result(READY_TIMEOUT_S)
        return {"ok": bool(reply.ok), "error": getattr(reply, "error", None)}


def configured_on(config: Config, cabinet: Path) -> Config:
    """The config with the cabinet's serial ports filled in."""
    client = Client(str(cabinet / "cabinet.sock"))
    try:
        ports: dict[str, str] = client.call("ports")
    finally:
        client.close()
    data = config.model_dump()
    for section, port in ports.items():
        data[section]["port"] = port
    return Config(**data)


def warm_up() -> None:
    """Import what `vendd run` imports lazily (drivers, the MQTT client), so that a daemon
    held in standby starts as soon as it is told to."""
    import vendd.hw.cctalk.driver
    import vendd.hw.dispenser
    import vendd.hw.keypad
    import vendd.hw.mdb
    import vendd.hw.pulse
    import vendd.telemetry  # noqa: F401


def run_daemon(config_path: str, cabinet: Path, log_level: str, standby: bool = False) -> int:
    """`standby`: load everything, say `standby`, and start only when a line comes on
    stdin (a test that restarts the daemon many times keeps the next one waiting)."""
    if standby:
        warm_up()
        print("standby", flush=True)
        if not sys.stdin.readline():
            return 0  # nobody needs it after all
    config = configured_on(load_config(config_path), cabinet)
    factory = RemotePinFactory(str(cabinet / "pins.sock")) if pin_table(config) else None
    servers: list[Server] = []

    def ready(daemon: Daemon) -> None:
        servers.append(Server(str(cabinet / "daemon.sock"), Window(daemon).handle))
        assert daemon.controller is not None and daemon.controller.state is not None
        print(f"ready credit={daemon.controller.state.credit}", flush=True)

    try:
        return run_service(config, log_level, pin_factory=factory, on_ready=ready)
    finally:
        for server in servers:
            server.close()
        if factory is not None:
            factory.close()
