"""Pulse-output coin acceptors (CH-926 style): N pulses per coin on one GPIO line.

`PulseDecoder` is pure: it takes timestamped edges `(seconds, active)` and the current time and
returns finished coins, so it is tested without threads or pins. Rules (CH-926-style acceptors):
- a pulse shorter than the glitch limit (20 ms, or half the nominal width if that is shorter)
  is noise and is ignored entirely;
- a pulse whose width is within +-50 % of `pulse_ms` counts;
- any other width (between noise and the window, or too long) spoils the coin being counted:
  it gives no credit and is reported;
- the line idle (inactive) for longer than `idle_gap_ms` after a pulse closes the coin.

`PulseCoinAcceptor` feeds the decoder from gpiozero edge callbacks (which only enqueue), on
one worker thread that also closes coins when their idle gap runs out, maps the pulse count to
a coin of the config's table and posts `CreditInserted`; a count that maps to no coin, or a
spoiled train, posts a non-blocking `DeviceFault` and no credit.

Wiring: the acceptor's open-collector output is pulled up; a pulse pulls the line low.
Inhibit output: `inhibit_pin` driven active (per `inhibit_active_high`) blocks coins. A pulse
acceptor has no buffer: a coin it takes while nobody counts is lost. So the inhibit line is
pulled to its inhibiting level by a resistor (10 kOhm, stronger than the Pi's own ~50 kOhm
pulls) and the acceptor is inhibited whenever the Pi does not drive the pin: at boot, with the
daemon stopped, killed or crashed. The driver honours it: before it claims the pin it reads the
undriven line (no internal pull) and reports `inhibit_not_pulled` when the resistor is missing;
it drives the line inhibiting from the first instant until `set_accepting(True)`, and on
`stop()` drives it inhibiting and lets it go, to the resistor.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalOutputDevice, GPIOZeroError, InputDevice

from vendd.config import CoinConfig, PulseConfig
from vendd.errors import DeviceError
from vendd.events import CreditInserted, DeviceFault
from vendd.hw.base import Post
from vendd.hw.keypad import EdgeInput, FactoryClock

log = logging.getLogger(__name__)

GLITCH_S = 0.020
TOLERANCE = 0.5
STUCK_S = 2.0  # the line held active this long: wiring fault or a coin stuck in the sensor


@dataclass(frozen=True)
class PulseTrain:
    """A closed coin: `pulses` counted; `problem` empty when every pulse was in spec."""

    pulses: int
    end: float
    problem: str = ""


class PulseDecoder:
    def __init__(self, pulse_ms: float, idle_gap_ms: float) -> None:
        nominal = pulse_ms / 1000
        self.min_width = nominal * (1 - TOLERANCE)
        self.max_width = nominal * (1 + TOLERANCE)
        self.glitch = min(GLITCH_S, self.min_width)
        self.idle_gap = idle_gap_ms / 1000
        self._active_since: float | None = None
        self._count = 0
        self._problem = ""
        self._last_end: float | None = None  # end of the last counted (or spoiling) pulse
        self.glitches = 0

    def edge(self, t: float, active: bool) -> list[PulseTrain]:
        """Feed one edge; returns coins closed by the idle gap before it."""
        out = self.poll(t)
        if active:
            if self._active_since is None:
                self._active_since = t
            return out
        if self._active_since is None:
            return out  # an inactive edge with no pulse open (start-up level)
        width, self._active_since = t - self._active_since, None
        self._pulse(width, t)
        return out

    def _pulse(self, width: float, end: float) -> None:
        if width < self.glitch:
            self.glitches += 1
            log.debug("pulse of %.1f ms ignored as noise", width * 1000)
            return
        self._last_end = end
        if self.min_width <= width <= self.max_width:
            self._count += 1
        elif not self._problem:
            self._problem = f"pulse of {width * 1000:.0f} ms"

    def poll(self, t: float) -> list[PulseTrain]:
        """Close the coin being counted if the line has been idle longer than the gap."""
        if self._last_end is None or self._active_since is not None:
            return []
        if t - self._last_end <= self.idle_gap:
            return []
        train = PulseTrain(self._count, self._last_end, self._problem)
        self._count, self._problem, self._last_end = 0, "", None
        return [train]

    def deadline(self) -> float | None:
        if self._last_end is None or self._active_since is not None:
            return None
        return self._last_end + self.idle_gap

    def stuck_since(self) -> float | None:
        """When the line went active, if it still is."""
        return self._active_since


class PulseCoinAcceptor:
    def __init__(self, name: str, config: PulseConfig, pin_factory: Any) -> None:
        if pin_factory is None:
            raise DeviceError(f"{name}: a gpiozero pin factory is required")
        self.name = name
        self._cfg = config
        self._factory = pin_factory
        self._by_pulses: dict[int, CoinConfig] = {
            c.pulses: c for c in config.coins if c.pulses is not None
        }
        self._post: Post | None = None
        self._edges: queue.Queue[tuple[float, bool] | None] = queue.Queue()
        self._clock = FactoryClock(pin_factory)
        self._input: EdgeInput | None = None
        self._inhibit: DigitalOutputDevice | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.accepting = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, post: Post) -> None:
        self._post = post
        self.accepting = False  # inhibited until the machine opens for sale
        self._stopping.clear()
        try:
            self._open()
        except (GPIOZeroError, OSError) as exc:
            self.stop()
            raise DeviceError(f"{self.name}: cannot open the GPIO pins: {exc}") from exc
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-pulse", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        c = self._cfg
        if c.inhibit_pin is not None:
            self._check_pull(c.inhibit_pin, c.inhibit_active_high)
            # on() = inhibit; initial_value=True: coins blocked from the first instant.
            self._inhibit = DigitalOutputDevice(
                c.inhibit_pin,
                active_high=c.inhibit_active_high,
                initial_value=True,
                pin_factory=self._factory,
            )
        self._input = EdgeInput(
            c.pin,
            active_low=True,
            pin_factory=self._factory,
            clock=self._clock,
            on_edge=self._on_edge,
        )

    def _check_pull(self, pin: int, active_high: bool) -> None:
        """Read the inhibit line before driving it: undriven, the resistor must hold it at
        the inhibiting level, or the acceptor takes coins while the daemon is down."""
        probe = InputDevice(pin, pull_up=None, active_state=True, pin_factory=self._factory)
        try:
            level = bool(probe.value)
        finally:
            probe.close()
        if level != active_high and self._post is not None:
            want = "high (a pull-up)" if active_high else "low (a pull-down)"
            detail = (f"GPIO{pin} reads {'high' if level else 'low'} undriven; it must be held "
                      f"{want} so coins are refused while the daemon is down")
            log.error("%s: %s", self.name, detail)
            self._post(DeviceFault(self.name, "inhibit_not_pulled", detail, blocking=False))

    def stop(self) -> None:
        self.set_accepting(False)
        self._stopping.set()
        self._edges.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None
        if self._input is not None:
            self._input.close()
            self._input = None
        with self._lock:
            if self._inhibit is not None:
                self._inhibit.on()
                self._inhibit.close()
                self._inhibit = None

    def set_accepting(self, accepting: bool) -> None:
        with self._lock:
            self.accepting = accepting
            if self._inhibit is not None:
                self._inhibit.value = not accepting

    # --- edges -------------------------------------------------------------------------------

    def _on_edge(self, t: float, active: bool) -> None:
        self._edges.put((t, active))  # library thread: enqueue and return

    def _run(self) -> None:
        decoder = PulseDecoder(self._cfg.pulse_ms, self._cfg.idle_gap_ms)
        stuck_reported = False
        while not self._stopping.is_set():
            due = decoder.deadline()
            timeout = 0.5 if due is None else max(0.0, due - self._clock.now())
            try:
                item: tuple[float, bool] | None = self._edges.get(timeout=timeout)
            except queue.Empty:
                item = None
            # The time first, then every edge already queued: when this thread runs late, an
            # edge stamped before `now` is decoded before `now` is judged, so a late thread
            # never turns a pulse into a long one or a pause into the end of a coin.
            now = self._clock.now()
            trains: list[PulseTrain] = []
            while item is not None:
                trains += decoder.edge(*item)
                try:
                    item = self._edges.get_nowait()
                except queue.Empty:
                    item = None
            trains += decoder.poll(now)
            for train in trains:
                self._coin(train)
            stuck_reported = self._check_stuck(decoder.stuck_since(), now, stuck_reported)

    def _check_stuck(self, since: float | None, now: float, reported: bool) -> bool:
        """Report once a line held active for STUCK_S; True while that report stands."""
        if since is None or now - since < STUCK_S:
            return False if since is None else reported
        if not reported and self._post is not None:
            log.error("%s: pulse line active for %.1f s", self.name, now - since)
            self._post(
                DeviceFault(self.name, "line_stuck", f"active since {since:.1f} s", blocking=False)
            )
        return True

    def _coin(self, train: PulseTrain) -> None:
        assert self._post is not None
        coin = self._by_pulses.get(train.pulses)
        if train.problem:
            log.warning("%s: coin of %d pulses spoiled: %s", self.name, train.pulses, train.problem)
            self._post(DeviceFault(self.name, "bad_pulse", train.problem, blocking=False))
        elif coin is None:
            log.warning("%s: %d pulses match no coin", self.name, train.pulses)
            self._post(
                DeviceFault(
                    self.name, "unknown_pulse_count", f"{train.pulses} pulses", blocking=False
                )
            )
        else:
            log.info("%s: %s (%d pulses)", self.name, coin.label, train.pulses)
            self._post(CreditInserted(self.name, coin.value, coin.label))
