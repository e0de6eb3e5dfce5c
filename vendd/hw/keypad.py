"""Selection buttons (one per slot or a row x column keypad), the coin-return / cancel button and
the service key switch, on GPIO through an injected gpiozero pin factory.

Debounce is ours (gpiozero's MockPin ignores `bounce_time`, and a bounce time longer than a
pulse would break the pulse acceptor anyway): a key's level must stay the same for
`debounce_ms` before it counts. A key held for `long_press_ms` posts one `KeyLongPressed`.

Threads: gpiozero callbacks only put `(key, seconds, pressed)` on an internal queue and return.
One worker thread per device owns the key trackers, scans the keypad matrix (rows driven one
at a time, columns read), and posts events on the controller queue.

Wiring: buttons and the service key close to ground (inputs pulled up: pressed = low). Keypad
rows are outputs driven LOW while scanned and HIGH (idle) otherwise; columns are pulled-up
inputs. Safe state of every output (the keypad rows): idle (high), which no key can turn into
a press.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalOutputDevice, InputDevice

from vendd.config import ButtonsConfig
from vendd.errors import DeviceError
from vendd.events import CancelPressed, Event, SelectionPressed, ServiceKey
from vendd.hw.base import Post
from vendd.worker import FaultLatch, Worker

log = logging.getLogger(__name__)

CANCEL = "cancel"
SERVICE = "service"

EdgeCallback = Callable[[float, bool], None]


@dataclass(frozen=True)
class KeyLongPressed(Event):
    """A button held for `long_press_ms`: `key` is a slot id or "cancel"."""

    key: str


class FactoryClock:
    """Seconds since creation on the pin factory's tick clock (the clock of edge times)."""

    def __init__(self, pin_factory: Any) -> None:
        self._factory = pin_factory
        self._t0 = pin_factory.ticks()

    def seconds(self, ticks: Any) -> float:
        return float(self._factory.ticks_diff(ticks, self._t0))

    def now(self) -> float:
        return self.seconds(self._factory.ticks())


class EdgeInput:
    """One input pin reporting `(seconds, active)` edges timed by the pin factory's own ticks
    (on a Pi these are the kernel's edge times, not the time our callback happened to run).

    `active_low`: the pin is pulled up and a closed contact / active signal reads low."""

    def __init__(
        self,
        pin: int,
        *,
        active_low: bool,
        pin_factory: Any,
        clock: FactoryClock | None = None,
        on_edge: EdgeCallback | None = None,
    ) -> None:
        self._active_low = active_low
        self._dev = InputDevice(pin, pull_up=active_low, pin_factory=pin_factory)
        self._clock = clock or FactoryClock(pin_factory)
        self._on_edge = on_edge
        if on_edge is not None:
            self._dev.pin.edges = "both"
            self._dev.pin.when_changed = self._changed

    @property
    def active(self) -> bool:
        return bool(self._dev.is_active)

    def _changed(self, ticks: float, state: int) -> None:
        assert self._on_edge is not None
        self._on_edge(self._clock.seconds(ticks), bool(state) != self._active_low)

    def close(self) -> None:
        self._dev.pin.when_changed = None
        self._dev.close()


class KeyTracker:
    """Pure debounce and long-press logic for one key, fed timestamped levels (edges or scan
    samples) and polled with the current time. No threads, no clock of its own."""

    def __init__(self, debounce_s: float, long_press_s: float) -> None:
        self.debounce_s = debounce_s
        self.long_press_s = long_press_s
        self.raw = False
        self.raw_since = 0.0
        self.pressed = False  # the debounced level
        self.pressed_at = 0.0
        self._long_done = False

    def feed(self, t: float, pressed: bool) -> None:
        if pressed != self.raw:
            self.raw, self.raw_since = pressed, t

    def poll(self, t: float) -> list[str]:
        """Events due at time `t`: "press", "release", "long"."""
        out: list[str] = []
        if self.raw != self.pressed and t - self.raw_since >= self.debounce_s:
            self.pressed = self.raw
            out.append("press" if self.pressed else "release")
            self.pressed_at, self._long_done = self.raw_since, False
        if self.pressed and not self._long_done and t - self.pressed_at >= self.long_press_s:
            self._long_done = True
            out.append("long")
        return out

    def deadline(self) -> float | None:
        """When `poll` may next have something to say."""
        if self.raw != self.pressed:
            return self.raw_since + self.debounce_s
        if self.pressed and not self._long_done:
            return self.pressed_at + self.long_press_s
        return None


def events_for(key: str, what: str) -> list[Event]:
    """Map a debounced key event to controller events."""
    if key == SERVICE:
        return [ServiceKey(on=what == "press")] if what in ("press", "release") else []
    if what == "long":
        return [KeyLongPressed(key)]
    if what != "press":
        return []
    return [CancelPressed()] if key == CANCEL else [SelectionPressed(key)]


class _Matrix:
    """A row x column keypad: rows are outputs (low = scanning), columns pulled-up inputs."""

    def __init__(self, rows: dict[str, int], columns: dict[str, int], pin_factory: Any) -> None:
        self.rows: dict[str, DigitalOutputDevice] = {}
        self.columns: dict[str, EdgeInput] = {}
        for label, pin in rows.items():
            # active_high=False: on() drives the row low; initial_value=False: idle (high).
            self.rows[label] = DigitalOutputDevice(
                pin, active_high=False, initial_value=False, pin_factory=pin_factory
            )
        for label, pin in columns.items():
            self.columns[label] = EdgeInput(pin, active_low=True, pin_factory=pin_factory)

    def scan(self) -> list[tuple[str, bool]]:
        """One pass over every row; returns (slot id, pressed) for every key."""
        out: list[tuple[str, bool]] = []
        for rlabel, row in self.rows.items():
            row.on()
            try:
                out += [(f"{rlabel}{c}", col.active) for c, col in self.columns.items()]
            finally:
                row.off()
        return out

    def close(self) -> None:
        for row in self.rows.values():
            row.off()
            row.close()
        for col in self.columns.values():
            col.close()


class GpioButtons(Worker):
    """The buttons device. `start()` opens the pins and the worker; `stop()` closes them.
    A bug in the worker is journaled as a blocking fault of the buttons (the machine stops
    taking money: nobody could choose or cancel) until a clean turn."""

    def __init__(self, name: str, config: ButtonsConfig, pin_factory: Any) -> None:
        if pin_factory is None:
            raise DeviceError(f"{name}: a gpiozero pin factory is required")
        super().__init__(f"{name}-keys", [FaultLatch(name)])
        self.name = name
        self._cfg = config
        self._factory = pin_factory
        self._post: Post | None = None
        self._edges: queue.Queue[tuple[str, float, bool] | None] = queue.Queue()
        self._inputs: dict[str, EdgeInput] = {}
        self._matrix: _Matrix | None = None
        self._trackers: dict[str, KeyTracker] = {}
        self._clock = FactoryClock(pin_factory)
        self._next_scan = 0.0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, post: Post) -> None:
        self._post = post
        self._open_inputs()
        self._next_scan = self._now()
        self.start_worker(post)

    def stop(self) -> None:
        self.stop_worker(2)
        for inp in self._inputs.values():
            inp.close()
        self._inputs.clear()
        if self._matrix is not None:
            self._matrix.close()  # rows idle (high) before the pins are released
            self._matrix = None

    def _open_inputs(self) -> None:
        c = self._cfg
        pins: dict[str, int] = dict(c.selection)
        if c.cancel_pin is not None:
            pins[CANCEL] = c.cancel_pin
        if c.service_key_pin is not None:
            pins[SERVICE] = c.service_key_pin
        for key, pin in pins.items():
            self._inputs[key] = EdgeInput(
                pin,
                active_low=True,
                pin_factory=self._factory,
                clock=self._clock,
                on_edge=self._callback(key),
            )
        if c.rows and c.columns:
            self._matrix = _Matrix(c.rows, c.columns, self._factory)
            keys = [f"{r}{col}" for r in c.rows for col in c.columns]
        else:
            keys = []
        keys += list(pins)
        self._trackers = {k: KeyTracker(c.debounce_ms / 1000, c.long_press_ms / 1000) for k in keys}
        # Keys already down at start (the service key left on) count after the debounce time.
        now = self._now()
        for key, inp in self._inputs.items():
            self._trackers[key].feed(now, inp.active)

    def _callback(self, key: str) -> EdgeCallback:
        def on_edge(t: float, active: bool) -> None:
            self._edges.put((key, t, active))  # enqueue and return: we may be on a lib thread

        return on_edge

    def _now(self) -> float:
        return self._clock.now()

    # --- worker ----------------------------------------------------------------------------

    def wake(self) -> None:
        self._edges.put(None)

    def turn(self) -> bool:
        now = self._now()
        if self._matrix is not None and now >= self._next_scan:
            for key, pressed in self._matrix.scan():
                self._trackers[key].feed(now, pressed)
            self._next_scan = now + self._cfg.scan_ms / 1000
        self._poll(self._now())
        self._wait_for_edges(self._timeout(self._next_scan if self._matrix else None))
        return True

    def go_safe(self) -> None:
        """Forget every half-seen press: after the restart keys count from their level now."""
        c = self._cfg
        for key in self._trackers:
            self._trackers[key] = KeyTracker(c.debounce_ms / 1000, c.long_press_ms / 1000)
        now = self._now()
        for key, inp in self._inputs.items():
            self._trackers[key].feed(now, inp.active)

    def _timeout(self, next_scan: float | None) -> float:
        due = [d for d in (t.deadline() for t in self._trackers.values()) if d is not None]
        if next_scan is not None:
            due.append(next_scan)
        if not due:
            return 0.5
        return max(0.0, min(due) - self._now())

    def _wait_for_edges(self, timeout: float) -> None:
        try:
            item = self._edges.get(timeout=timeout)
        except queue.Empty:
            return
        while item is not None:
            key, t, active = item
            self._trackers[key].feed(t, active)
            try:
                item = self._edges.get_nowait()
            except queue.Empty:
                return

    def _poll(self, now: float) -> None:
        assert self._post is not None
        for key, tracker in self._trackers.items():
            for what in tracker.poll(now):
                log.debug("%s: key %s %s", self.name, key, what)
                for event in events_for(key, what):
                    self._post(event)
