"""`vendd selftest`: check every configured device before the machine sells, and print a table.

Run it with the service stopped (`sudo systemctl stop vendd`): the devices are opened here.

Checks are small functions keyed by (config section, kind) in `CHECKS`; a driver author adds
one with `@check("changer", "mdb")`. Each returns `Result` rows. Two families:
- GPIO inputs (home switches, drop beam, buttons, a pulse acceptor's coin line) are read
  straight from the pins named in the config, without starting the driver;
- everything else (serial acceptors, the display, virtual devices) is started through its
  driver, checked, and stopped again.
`--motor A1` then turns one motor once through the dispenser driver (with `turns = 1`). Nothing
is journaled: a product that falls is not counted, so count the slot in the service menu.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from vendd.cli.selftest_io import (
    Result,
    Status,
    broker_check,
    fail,
    gpio_errors,
    ok,
    read_input,
    scan_matrix,
    skip,
)
from vendd.config import Config
from vendd.daemon.systemd import default_pin_factory, vend_grace_s
from vendd.errors import VenddError
from vendd.events import DeviceFault, Event, VendFinished, VendOutcome
from vendd.hw import factory
from vendd.hw.base import Device

log = logging.getLogger(__name__)

TEXT = ["vendd selftest", "display OK"]
START_SETTLE_S = 0.05


@dataclass
class Context:
    """What a check gets: the config, the pin factory, the started device (or None for the
    GPIO-input checks, which read pins) and the events that device posted."""

    config: Config
    section: str
    pin_factory: Any
    device: Any = None
    events: list[Event] = field(default_factory=list)

    @property
    def settings(self) -> Any:
        return getattr(self.config, self.section)

    def faults(self) -> list[DeviceFault]:
        return [e for e in list(self.events) if isinstance(e, DeviceFault)]


CheckFn = Callable[[Context], list[Result]]
CHECKS: dict[tuple[str, str], CheckFn] = {}
PIN_CHECKS: set[tuple[str, str]] = set()  # read pins: run without starting the driver


def check(section: str, *kinds: str, pins: bool = False) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        for kind in kinds:
            CHECKS[(section, kind)] = fn
            if pins:
                PIN_CHECKS.add((section, kind))
        return fn

    return register


# --- virtual devices: trivially OK (the simulator may inject a fault) ------------------------


@check("coin_acceptor", "virtual")
@check("buttons", "virtual")
def _virtual(ctx: Context) -> list[Result]:
    fault = getattr(ctx.device, "selftest_fault", None)
    return [fail(ctx.section, "virtual", fault) if fault else ok(ctx.section, "virtual")]


@check("dispenser", "virtual")
def _virtual_dispenser(ctx: Context) -> list[Result]:
    if not getattr(ctx.device, "at_home", True):
        return [fail(ctx.section, "home", "a motor is not at home")]
    return [ok(ctx.section, "home", "virtual motors at home")]


@check("display", "virtual", "console", "lcd")
def _display(ctx: Context) -> list[Result]:
    ctx.device.show(TEXT)
    lines = getattr(ctx.device, "lines", None)
    if lines is not None and list(lines) != TEXT:
        return [fail(ctx.section, "text", f"shows {lines!r}")]
    return [ok(ctx.section, "text", " / ".join(TEXT))]


# --- serial acceptors ----------------------------------------------------------------------


@check("coin_acceptor", "cctalk")
def _identify(ctx: Context) -> list[Result]:
    port = ctx.settings.port
    identity = getattr(ctx.device, "identity", {}) or {}
    faults = ctx.faults()
    if identity:
        who = " ".join(str(identity.get(k, "?")) for k in ("manufacturer", "product"))
        return [ok(ctx.section, "serial port", port),
                ok(ctx.section, "identify", f"{who} serial {identity.get('serial', '?')}")]
    why = "; ".join(f"{f.code}: {f.detail}" for f in faults) or "no answer"
    if any(f.code == "disconnected" for f in faults):
        return [fail(ctx.section, "serial port", why), skip(ctx.section, "identify")]
    return [ok(ctx.section, "serial port", port), fail(ctx.section, "identify", why)]


# --- GPIO inputs, read from the pins ---------------------------------------------------------


@check("coin_acceptor", "pulse", pins=True)
def _pulse_line(ctx: Context) -> list[Result]:
    pin = ctx.settings.pin
    return [_input(ctx, "coin line", pin, pull_up=True, want=False,
                   bad="held active: a coin stuck or miswired")]


@check("dispenser", "gpio", pins=True)
def _dispenser_pins(ctx: Context) -> list[Result]:
    d = ctx.settings
    out = [_input(ctx, f"home {slot}", pin, pull_up=True, want=True, bad="not at home")
           for slot, pin in d.home_pins.items()]
    if d.home_pin is not None:
        if d.wiring == "matrix":
            out.append(skip(ctx.section, "home (shared line)",
                            "readable only while a motor is selected: use --motor"))
        else:
            out.append(_input(ctx, "home (shared line)", d.home_pin, pull_up=True, want=True,
                              bad="not at home"))
    if d.drop_sensor_pin is not None:
        out.append(_input(ctx, "drop beam", d.drop_sensor_pin,
                          pull_up=d.drop_sensor_active_low, want=False, bad="blocked"))
    return out


@check("buttons", "gpio", pins=True)
def _button_pins(ctx: Context) -> list[Result]:
    b = ctx.settings
    out = [_input(ctx, f"button {slot}", pin, pull_up=True, want=False, bad="pressed or stuck")
           for slot, pin in b.selection.items()]
    if b.cancel_pin is not None:
        out.append(_input(ctx, "cancel", b.cancel_pin, pull_up=True, want=False,
                          bad="pressed or stuck"))
    if b.service_key_pin is not None:
        try:
            on = read_input(ctx.pin_factory, b.service_key_pin, pull_up=True)
        except gpio_errors() as exc:
            out.append(fail(ctx.section, "service key", f"GPIO {b.service_key_pin}: {exc}"))
        else:
            out.append(ok(ctx.section, "service key", "on (service mode)" if on else "off"))
    if b.rows and b.columns:
        try:
            stuck = scan_matrix(ctx.pin_factory, b.rows, b.columns)
        except gpio_errors() as exc:
            out.append(fail(ctx.section, "keypad", str(exc)))
        else:
            out.append(fail(ctx.section, "keypad", "pressed or shorted: " + ", ".join(stuck))
                       if stuck else ok(ctx.section, "keypad", "all keys idle"))
    return out


def _input(ctx: Context, what: str, pin: int, *, pull_up: bool, want: bool, bad: str) -> Result:
    try:
        active = read_input(ctx.pin_factory, pin, pull_up=pull_up)
    except gpio_errors() as exc:
        return fail(ctx.section, what, f"GPIO {pin}: cannot read: {exc}")
    level = "low" if active == pull_up else "high"
    if active != want:
        return fail(ctx.section, what, f"{bad} (GPIO {pin} reads {level})")
    return ok(ctx.section, what, f"GPIO {pin} {level}")


# --- the run -------------------------------------------------------------------------------


def _sections(config: Config) -> list[str]:
    names = ["coin_acceptor"] if config.coin_acceptor is not None else []
    return [*names, "dispenser", "buttons", "display"]


_BUILDERS: dict[str, Callable[[Config, Any], Any]] = {
    # one section at a time, so one missing driver does not hide the other devices
    "coin_acceptor": lambda c, pf: factory._acceptors(c, pf)[0],
    "dispenser": factory._dispenser,
    "buttons": factory._buttons,
    "display": lambda c, pf: factory._display(c),
}


def _collector(events: list[Event], cond: threading.Condition) -> Callable[[Event], None]:
    def post(event: Event) -> None:
        with cond:
            events.append(event)
            cond.notify_all()

    return post


def selftest(
    config: Config,
    pin_factory: Any = None,
    motor: str | None = None,
    out: TextIO = sys.stdout,
    *,
    devices: dict[str, Device] | None = None,
) -> int:
    """Check every configured device, print the table to `out`; 0 when nothing failed.
    `devices` (section -> device) replaces drivers, as the simulator's do."""
    results: list[Result] = []
    gpio_needed = any(
        (s, getattr(config, s).kind) in PIN_CHECKS for s in _sections(config)
    ) or (motor is not None and config.dispenser.kind == "gpio")
    if pin_factory is None and gpio_needed:
        try:
            pin_factory = default_pin_factory(config)
        except VenddError as exc:
            results.append(fail("gpio", "pin factory", str(exc)))
    for section in _sections(config):
        results += _check_section(config, section, pin_factory, devices or {})
    if motor is not None:
        results.append(_motor(config, motor, pin_factory, devices or {}))
    results += broker_check(config)
    _print(config, results, motor, out)
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def _check_section(config: Config, section: str, pin_factory: Any,
                   devices: dict[str, Device]) -> list[Result]:
    kind = getattr(config, section).kind
    fn = CHECKS.get((section, kind))
    if fn is None:
        return [skip(section, kind, "no self-test for this kind yet")]
    ctx = Context(config, section, pin_factory)
    if (section, kind) in PIN_CHECKS:
        if pin_factory is None:
            return [fail(section, "pins", "no GPIO pin factory")]
        return fn(ctx)
    try:
        ctx.device = devices.get(section) or _BUILDERS[section](config, pin_factory)
    except VenddError as exc:
        return [fail(section, "driver", str(exc))]
    cond = threading.Condition()
    try:
        ctx.device.start(_collector(ctx.events, cond))
    except VenddError as exc:
        return [fail(section, "start", str(exc))]
    try:
        return fn(ctx)
    finally:
        _stop(ctx.device)


def _stop(device: Any) -> None:
    try:
        device.stop()
    except VenddError as exc:
        log.error("%s did not stop cleanly: %s", getattr(device, "name", device), exc)


def _motor(config: Config, slot: str, pin_factory: Any, devices: dict[str, Device]) -> Result:
    name = f"motor {slot}"
    if slot not in {s.id for s in config.slots}:
        return fail(name, "turn", f"{slot} is not a configured slot")
    once = config.model_copy(
        update={"dispenser": config.dispenser.model_copy(update={"turns": 1})}
    )
    try:
        dispenser: Any = devices.get("dispenser") or factory._dispenser(once, pin_factory)
    except VenddError as exc:
        return fail(name, "driver", str(exc))
    events: list[Event] = []
    cond = threading.Condition()
    timeout = vend_grace_s(once) + 2.0
    try:
        dispenser.start(_collector(events, cond))
        time.sleep(START_SETTLE_S)  # inputs just opened: let the pull-ups and switches settle
        dispenser.vend(0, slot)
        with cond:
            cond.wait_for(lambda: any(isinstance(e, VendFinished) for e in events), timeout)
    except VenddError as exc:
        return fail(name, "turn", str(exc))
    finally:
        _stop(dispenser)
    finished = [e for e in events if isinstance(e, VendFinished)]
    if not finished:
        return fail(name, "turn", f"no result within {timeout:.1f} s")
    outcome = finished[0].outcome
    faults = "; ".join(f"{f.code}: {f.detail}" for f in events if isinstance(f, DeviceFault))
    if outcome is VendOutcome.DELIVERED:
        return ok(name, "turn", "turned once and came home; product dropped")
    if outcome is VendOutcome.NO_DROP and not faults:
        return ok(name, "turn", "turned once and came home; no drop seen (empty spiral?)")
    return fail(name, "turn", outcome.value + (f" ({faults})" if faults else ""))


def _print(config: Config, results: list[Result], motor: str | None, out: TextIO) -> None:
    out.write(f"vendd selftest: {config.machine.id} ({config.machine.name})\n\n")
    rows = [("DEVICE", "CHECK", "RESULT", "DETAIL")]
    rows += [(r.device, r.check, r.status.value, r.detail) for r in results]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for device, what, status, detail in rows:
        out.write(f"{device:<{w0}}  {what:<{w1}}  {status:<6}  {detail}".rstrip() + "\n")
    failed = [r for r in results if r.status is Status.FAIL]
    out.write("\n")
    if failed:
        names = ", ".join(f"{r.device} {r.check}" for r in failed)
        out.write(f"{len(failed)} check(s) FAILED: {names}\n")
    else:
        skipped = sum(r.status is Status.SKIP for r in results)
        out.write(f"no failures: {len(results) - skipped} OK, {skipped} skipped\n")
    if motor is not None:
        out.write("The test turn is not journaled: if a product fell, count the slot's stock "
                  "in the service menu.\n")
