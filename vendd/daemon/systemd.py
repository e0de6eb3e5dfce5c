"""`vendd run`: the daemon as a service, under systemd or in a terminal.

    sys.exit(run_service(config, "info"))

Start-up: build the devices, start them and the controller, then READY=1 (the machine can
sell). The controller loop sends WATCHDOG=1 and STATUS= itself (see daemon/sdnotify.py).

Shutdown on SIGTERM or SIGINT:
1. STOPPING=1; the acceptors and the card reader are inhibited so no new money comes in;
2. a motor that is turning gets up to `vend_grace_s(config)` (the dispenser's own worst case:
   turns x (leave_home + home + drop_wait) timeouts) to finish; its outcome (sale, or failure
   with the credit given back) is journaled by the controller as usual;
3. still turning after that: the motor is switched off, the vend ends INTERRUPTED and is
   journaled in the buyer's favour;
4. telemetry stops (publishes `offline`), every device goes to its safe state, the ledger is
   closed; exit 0.
A second signal at any point skips the waiting: motors off at once, then the same steps.

Exit status: 0 after a requested stop, 1 when the daemon failed (systemd restarts it),
78 (EX_CONFIG) when the configuration cannot work (systemd does not restart it).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from vendd.config import Config, pin_table
from vendd.daemon.app import Daemon
from vendd.daemon.logsetup import setup_logging
from vendd.daemon.sdnotify import Notifier, WatchdogHook
from vendd.errors import ConfigError, DeviceError, VenddError
from vendd.money import format_money

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG; the unit has RestartPreventExitStatus=78

POLL_S = 0.5  # how often the main thread looks at the controller while waiting for a signal

def failure_status(exc: BaseException) -> int:
    """EX_CONFIG when a permission is what stops us (a restart will not grant it), else 1."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ConfigError | PermissionError):
            return EXIT_CONFIG
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return EXIT_FAILED


def vend_grace_s(config: Config) -> float:
    """How long a turning motor may take to finish its vend on shutdown: the dispenser's own
    worst case, after which the driver itself would have given up."""
    d = config.dispenser
    return d.turns * (d.leave_home_timeout_s + d.home_timeout_s + d.drop_wait_s)


def default_pin_factory(config: Config) -> Any:
    """lgpio on a Pi when the config uses GPIO pins, else None (virtual and serial devices)."""
    if not pin_table(config):
        return None
    try:
        from gpiozero.exc import GPIOZeroError
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError as exc:
        raise DeviceError(
            f"the GPIO library is missing ({exc}): on Raspberry Pi OS `apt install "
            "python3-lgpio` and use a venv made with --system-site-packages"
        ) from exc
    try:
        return LGPIOFactory()
    except (GPIOZeroError, OSError) as exc:
        raise DeviceError(f"cannot open the GPIO chip: {exc}") from exc


def status_line(daemon: Daemon) -> str:
    """One line for `systemctl status`: mode, credit, faults, broker."""
    c = daemon.controller
    state = c.state if c is not None else None
    if state is None:
        return "starting"
    money = format_money(state.credit, state.settings.currency, state.settings.decimals)
    parts = [str(state.mode), f"credit {money}"]
    if state.vend is not None:
        parts.append(f"vending {state.vend.slot}")
    parts.append("faults: " + (", ".join(sorted(state.faults)) if state.faults else "none"))
    parts.append("broker: " + broker_status(daemon))
    return ", ".join(parts)


def broker_status(daemon: Daemon) -> str:
    """From the telemetry's connection (`Telemetry.connection.connected`, an Event)."""
    if not daemon.config.mqtt.enabled:
        return "off"
    for extra in daemon.extras:
        flag = getattr(getattr(extra, "connection", None), "connected", None)
        if isinstance(flag, threading.Event):
            return "connected" if flag.is_set() else "disconnected"
    return "no telemetry"


class Signals:
    """SIGTERM/SIGINT counted by a handler that only sets events (no logging, no locks)."""

    def __init__(self) -> None:
        self.count = 0
        self.first = threading.Event()
        self.second = threading.Event()
        self.names: list[str] = []
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.names.append(signal.Signals(signum).name)
        self.first.set()
        if self.count >= 2:
            self.second.set()


def run_service(
    config: Config,
    log_level: str | int = "INFO",
    *,
    pin_factory: Any = None,
    on_ready: Callable[[Daemon], None] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; return the exit status (see the module doc).
    `pin_factory`: None picks lgpio when the config has GPIO pins. `on_ready` is called once
    the machine can sell (the simulator and tests use it)."""
    setup_logging(log_level)
    signals = Signals()
    signals.install()
    notifier = Notifier.from_env()
    try:
        return _Service(config, notifier, signals).run(pin_factory, on_ready)
    finally:
        signals.restore()
        notifier.close()


class _Service:
    def __init__(self, config: Config, notifier: Notifier, signals: Signals) -> None:
        self.config = config
        self.notifier = notifier
        self.signals = signals
        self.daemon: Daemon | None = None

    def run(self, pin_factory: Any, on_ready: Callable[[Daemon], None] | None) -> int:
        try:
            factory = pin_factory if pin_factory is not None else default_pin_factory(self.config)
            self.daemon = Daemon(self.config, pin_factory=factory)
        except ConfigError as exc:
            log.critical("the configuration cannot work: %s", exc)
            return EXIT_CONFIG
        except VenddError as exc:  # no GPIO chip, telemetry set-up (TLS files, password)
            log.critical("cannot set up: %s", exc)
            return failure_status(exc)
        daemon = self.daemon
        try:
            daemon.start()
        except VenddError as exc:  # a device or the ledger cannot be opened
            log.critical("cannot start: %s", exc)
            self.notifier.stopping(f"failed: {exc}")
            return failure_status(exc)
        assert daemon.controller is not None
        daemon.controller.loop_hooks.append(
            WatchdogHook(self.notifier, status=lambda: status_line(daemon))
        )
        try:
            daemon.wait_ready(timeout=30)
        except VenddError as exc:
            log.critical("%s", exc)
            return self._shutdown(failed=True)
        if not self.signals.first.is_set():
            log.info("vendd ready: %s", status_line(daemon))
            self.notifier.ready(status_line(daemon))
            if on_ready is not None:
                on_ready(daemon)
        return self._serve()

    def _serve(self) -> int:
        assert self.daemon is not None and self.daemon.controller is not None
        controller = self.daemon.controller
        while not self.signals.first.wait(POLL_S):
            if controller.stopped.is_set():
                log.critical("the controller loop stopped: %s", controller.fatal)
                return self._shutdown(failed=True)
        return self._shutdown(failed=False)

    # --- shutdown --------------------------------------------------------------------------

    def _shutdown(self, failed: bool) -> int:
        daemon = self.daemon
        assert daemon is not None
        why = "/".join(self.signals.names) or "failure"
        log.info("%s: stopping", why)
        self.notifier.stopping(f"stopping ({why})")
        self._inhibit()
        controller = daemon.controller
        state = controller.state if controller is not None else None
        grace = vend_grace_s(self.config)
        if state is not None and state.vend is not None and not self.signals.second.is_set():
            log.info("letting the motor of %s finish (up to %.1f s)", state.vend.slot, grace)
        # A second signal cuts the grace short: motors off at once, the turn journaled
        # as interrupted (in the buyer's favour).
        daemon.stop(grace, abort=self.signals.second)
        fatal = controller.fatal if controller is not None else None
        if self.signals.second.is_set():
            log.warning("stopped at once (second signal)")
        log.info("vendd stopped")
        return EXIT_FAILED if failed or fatal is not None else EXIT_OK

    def _inhibit(self) -> None:
        """No new money while we stop. Called off the controller thread on purpose: the
        drivers' set_accepting/set_enabled only record a wish under their own lock."""
        assert self.daemon is not None
        devices = self.daemon.devices
        try:
            for acceptor in devices.acceptors:
                acceptor.set_accepting(False)
            if devices.card_reader is not None:
                devices.card_reader.set_enabled(False)
        except DeviceError as exc:
            log.error("could not inhibit payments: %s", exc)

