"""Child process for tests/daemon/test_systemd_runner.py: runs `run_service` on a config given as
JSON, and, once the machine can sell, buys slot A3 with coins (restocked first) so a motor is
turning when the test sends its signals. Prints `MOTOR ON` when it turns and
`MOTOR AFTER <slot|None>` at the end. (The real entry point is `vendd run`, which calls the
same run_service.)"""

from __future__ import annotations

import json
import sys
import threading

from support import wait_for

from vendd.config import Config
from vendd.daemon.app import Daemon
from vendd.daemon.systemd import run_service
from vendd.events import SetStock
from vendd.hw.virtual import VirtualButtons, VirtualCoinAcceptor, VirtualDispenser

SLOT = "A3"  # $1.50


def buy(daemon: Daemon) -> None:
    assert daemon.controller is not None
    reply = daemon.controller.submit(SetStock("rosa", SLOT, 5)).result(5)
    assert reply.ok, reply.error
    acceptor = daemon.devices.acceptors[0]
    buttons = daemon.devices.inputs[0]
    dispenser = daemon.devices.dispenser
    assert isinstance(acceptor, VirtualCoinAcceptor) and isinstance(buttons, VirtualButtons)
    assert isinstance(dispenser, VirtualDispenser)
    wait_for(lambda: acceptor.accepting, 10, "the acceptor to take coins")
    assert acceptor.insert(100, "$1") and acceptor.insert(50, "50c")
    buttons.press(SLOT)
    wait_for(lambda: dispenser.motor_on == SLOT, 10, "the motor to turn")
    print("MOTOR ON", flush=True)


def main() -> int:
    config = Config(**json.loads(sys.argv[1]))
    seen: dict[str, Daemon] = {}

    def on_ready(daemon: Daemon) -> None:
        seen["daemon"] = daemon
        print("READY", flush=True)
        threading.Thread(target=buy, args=(daemon,), daemon=True).start()

    rc = run_service(config, "INFO", on_ready=on_ready)
    dispenser = seen["daemon"].devices.dispenser if seen else None
    print("MOTOR AFTER", getattr(dispenser, "motor_on", "?"), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
