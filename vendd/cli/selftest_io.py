"""The self-test's I/O helpers: read GPIO inputs straight from the pins, scan a keypad matrix,
and try the MQTT broker. Kept apart from selftest.py so the checks there stay small."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gpiozero import DigitalOutputDevice, GPIOZeroError, InputDevice

from vendd.config import Config
from vendd.errors import TelemetryError

log = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 5.0
SETTLE_S = 0.01  # after switching a pull resistor on, before reading (cable capacitance)


class Status(StrEnum):
    OK = "OK"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Result:
    """One row of the self-test table."""

    device: str
    check: str
    status: Status
    detail: str = ""


def ok(device: str, what: str, detail: str = "") -> Result:
    return Result(device, what, Status.OK, detail)


def fail(device: str, what: str, detail: str = "") -> Result:
    return Result(device, what, Status.FAIL, detail)


def skip(device: str, what: str, detail: str = "") -> Result:
    return Result(device, what, Status.SKIP, detail)


def gpio_errors() -> tuple[type[BaseException], ...]:
    """What opening or reading a pin raises: gpiozero's errors, OS errors, and lgpio's own
    (`GPIO busy` when the daemon still holds the pin)."""
    errors: tuple[type[BaseException], ...] = (GPIOZeroError, OSError)
    try:
        import lgpio
    except ImportError:
        return errors
    return (*errors, lgpio.error)


def read_input(pin_factory: Any, pin: int, *, pull_up: bool) -> bool:
    """True when the input is active: low with the pull-up, high with the pull-down."""
    dev = InputDevice(pin, pull_up=pull_up, pin_factory=pin_factory)
    try:
        time.sleep(SETTLE_S)
        return bool(dev.is_active)
    finally:
        dev.close()


def scan_matrix(pin_factory: Any, rows: dict[str, int], columns: dict[str, int]) -> list[str]:
    """Keys that read pressed: a column low with every row idle (a short to ground), then each
    row driven low in turn. Rows idle high, columns pulled up, as the keypad driver wires
    them."""
    row_outs: dict[str, DigitalOutputDevice] = {}
    col_ins: dict[str, InputDevice] = {}
    try:
        for label, pin in rows.items():
            row_outs[label] = DigitalOutputDevice(pin, active_high=False, initial_value=False,
                                                  pin_factory=pin_factory)
        for label, pin in columns.items():
            col_ins[label] = InputDevice(pin, pull_up=True, pin_factory=pin_factory)
        time.sleep(SETTLE_S)
        stuck = [f"column {c}" for c, dev in col_ins.items() if dev.is_active]
        if stuck:
            return stuck
        for rlabel, row in row_outs.items():
            row.on()
            time.sleep(SETTLE_S)
            try:
                stuck += [f"{rlabel}{c}" for c, dev in col_ins.items() if dev.is_active]
            finally:
                row.off()
        return stuck
    finally:
        for out in row_outs.values():
            out.off()
            out.close()
        for inp in col_ins.values():
            inp.close()


def broker_check(config: Config) -> list[Result]:
    """One MQTT CONNECT with the daemon's settings (TLS, user, password); OK on a CONNACK that
    accepts it."""
    m = config.mqtt
    where = f"{m.host}:{m.port}"
    if not m.enabled:
        return [skip("mqtt", "broker", "disabled in the config")]
    if m.password_credential is not None and "CREDENTIALS_DIRECTORY" not in os.environ:
        return [skip("mqtt", "broker", f"the password is systemd credential "
                     f"{m.password_credential}: try it as the service does: sudo systemd-run "
                     f"--pipe -p User=vendd -p LoadCredential={m.password_credential}:"
                     f"/etc/vendd/{m.password_credential} vendd selftest")]
    from vendd.telemetry.client import make_client

    try:
        client = make_client(m, f"vendd-selftest-{os.getpid()}")
    except TelemetryError as exc:
        return [fail("mqtt", "broker", str(exc))]
    answer: dict[str, Any] = {}
    done = threading.Event()

    def on_connect(client: Any, userdata: Any, flags: Any, reason_code: Any,
                   properties: Any) -> None:
        answer["rc"] = reason_code
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=10)
    except (OSError, ValueError) as exc:  # refused, unreachable, TLS handshake, bad host
        from vendd.telemetry.tls import tls_failure

        named = tls_failure(exc)
        return [fail("mqtt", "broker", f"{where}: {named[1] if named else exc}")]
    client.loop_start()
    try:
        done.wait(BROKER_TIMEOUT_S)
    finally:
        client.disconnect()
        client.loop_stop()
    rc = answer.get("rc")
    if rc is None and m.tls is not None:
        from vendd.config import tls_context
        from vendd.telemetry.tls import tls_probe

        probed = tls_probe(m.host, m.port, tls_context(m.tls))
        if probed is not None:
            return [fail("mqtt", "broker", f"{where}: {probed[1]}")]
    if rc is None:
        return [fail("mqtt", "broker", f"{where}: no answer in {BROKER_TIMEOUT_S:.0f} s")]
    if rc.is_failure:
        return [fail("mqtt", "broker", f"{where}: refused: {rc}")]
    tls = " (TLS)" if m.tls is not None else ""
    return [ok("mqtt", "broker", f"{where}{tls} accepted the connection")]
