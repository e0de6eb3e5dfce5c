"""One thread owns the MDB link and gives each device its turn: a device applies what the
controller asked for (enable, pay out, vend, escrow) and polls. The controller's calls only set
flags and wake the thread; they never touch the wire.

`MdbDevice` is the part the three drivers share: the init state (offline -> reset -> ready),
the non-response timer (offline after the device's own non-response time), fault reporting."""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum

from vendd.config import MdbConfig
from vendd.errors import DeviceError, ProtocolError
from vendd.events import DeviceFault, DeviceRecovered, Event
from vendd.hw.base import Post
from vendd.hw.mdb.codec import Answer
from vendd.hw.mdb.links import Link, LinkDown, NoResponseError, make_link

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 2.0
RESET_WAIT_S = 1.0  # after RESET, poll this long for "just reset" before configuring anyway
HELD_POLLS = 8  # POLLs before RESET to empty a device of what it still holds


class Phase(StrEnum):
    OFFLINE = "offline"  # needs RESET
    RESETTING = "resetting"  # RESET sent, polling for "just reset"
    READY = "ready"


def _ignore(event: Event) -> None:
    log.debug("event before start(): %r", event)


class MdbDevice:
    """Base of the changer, bill validator and cashless drivers (bus thread side)."""

    address = 0
    non_response_s = 5.0

    def __init__(self, name: str, bus: MdbBus) -> None:
        self.name = name
        self.bus = bus
        self._post: Post = _ignore
        self._lock = threading.Lock()
        self.phase = Phase.OFFLINE
        self._last_answer = time.monotonic()
        self._reset_at = 0.0
        self._fault: str | None = None
        self.protocol_errors = 0
        self.resets = 0

    # --- Device protocol (controller thread) ------------------------------------------------

    def start(self, post: Post) -> None:
        self._post = post
        self.bus.attach(self)

    def stop(self) -> None:
        self.bus.detach(self)

    # --- the bus thread ---------------------------------------------------------------------

    def send(self, command: int, data: bytes = b"") -> Answer:
        """One command to this device (command 0..7 added to its address)."""
        answer = self.bus.link.transact(self.address | command, data)
        self._last_answer = time.monotonic()
        return answer

    def turn(self) -> None:
        try:
            if self.phase is Phase.OFFLINE:
                self.take_held()  # RESET wipes what the device still holds: that is money
                self.send(0)  # RESET
                self.phase, self._reset_at = Phase.RESETTING, time.monotonic()
            if self.phase is Phase.RESETTING:
                self._await_reset()
            if self.phase is Phase.READY:
                self.work()
            self._clear_fault()
        except NoResponseError as exc:
            silent = time.monotonic() - self._last_answer
            log.debug("%s: %s (silent %.2fs)", self.name, exc, silent)
            if silent >= self.non_response_s:
                self.went_offline()
                self.raise_fault("no_response", f"silent for {silent:.1f}s")
        except ProtocolError as exc:
            self.protocol_errors += 1
            log.warning("%s: %s", self.name, exc)

    def _await_reset(self) -> None:
        answer = self.send(self.poll_command)
        if self.answer_says_reset(answer) or time.monotonic() - self._reset_at > RESET_WAIT_S:
            self.configure()
            self.phase = Phase.READY
            log.info("%s: ready", self.name)

    def reinitialise(self, why: str) -> None:
        """The device reset itself (or lost our state): report it and set it up again."""
        self.resets += 1
        log.warning("%s: %s: initialising again", self.name, why)
        self._post(DeviceFault(self.name, "device_reset", why, blocking=False))
        self.phase = Phase.OFFLINE

    def went_offline(self) -> None:
        """Silent past its non-response time (or the link is down): set up again later."""
        self.phase = Phase.OFFLINE

    # --- what each driver fills in ----------------------------------------------------------

    poll_command = 3

    def answer_says_reset(self, answer: Answer) -> bool:
        raise NotImplementedError

    def take_held(self) -> None:
        """Before RESET: take what the device still holds (POLL data never ACKed, a bill in
        escrow). Data the controller ACKed the device forgets, so only that is safe to lose."""

    def held_items(self) -> list[bytes]:
        """POLL until the device has nothing more to report (bounded); the raw answers."""
        out = []
        for _ in range(HELD_POLLS):
            answer = self.send(self.poll_command)
            if answer.kind != "data" or not answer.data:
                break
            out.append(answer.data)
        return out

    def configure(self) -> None:
        """After a reset: SETUP and friends."""
        raise NotImplementedError

    def work(self) -> None:
        """One turn when ready: apply requests, poll."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Best effort on stop: stop taking money."""

    # --- faults -----------------------------------------------------------------------------

    def raise_fault(self, code: str, detail: str) -> None:
        if self._fault == code:
            return
        self._fault = code
        log.error("%s: %s: %s", self.name, code, detail)
        self._post(DeviceFault(self.name, code, detail, blocking=True))

    def fault_persists(self) -> bool:
        """True while a condition behind the current fault lasts (a full stacker)."""
        return False

    def _clear_fault(self) -> None:
        if self._fault is None or self.phase is not Phase.READY or self.fault_persists():
            return
        log.info("%s: recovered from %s", self.name, self._fault)
        self._fault = None
        self._post(DeviceRecovered(self.name))


class MdbBus:
    """The one thread and the link. Devices attach in `start()` and detach in `stop()`."""

    def __init__(self, config: MdbConfig, link: Link | None = None) -> None:
        self.config = config
        self.link = link or make_link(config)
        self.devices: list[MdbDevice] = []
        self._leaving: set[MdbDevice] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_round = threading.Event()
        self.rounds = 0

    def attach(self, device: MdbDevice) -> None:
        with self._lock:
            if device in self.devices:
                return
            self.devices.append(device)
            start = self._thread is None
            if start:
                self._stopping.clear()
                self._first_round.clear()
                self._thread = threading.Thread(target=self._run, name="mdb-bus", daemon=True)
        if start:
            assert self._thread is not None
            self._thread.start()
        self._first_round.wait(timeout=5.0)

    def detach(self, device: MdbDevice) -> None:
        with self._lock:
            if device not in self.devices:
                return
            self._leaving.add(device)
            thread = self._thread
        self.wake()
        deadline = time.monotonic() + 5.0
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            with self._lock:
                if device not in self.devices:
                    break
            time.sleep(0.005)
        with self._lock:
            if device in self.devices:  # the thread is gone or stuck: just forget it
                self.devices.remove(device)
                self._leaving.discard(device)
            last = not self.devices
            thread = self._thread if last else None
            if last:
                self._thread = None
                self._stopping.set()
        if thread is not None:
            self.wake()
            thread.join(timeout=5.0)

    def wake(self) -> None:
        self._wake.set()

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        interval = self.config.poll_interval_ms / 1000
        while not self._stopping.is_set():
            if not self.link.is_open and not self._open():
                self._first_round.set()
                self._wake.wait(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_START_S
            started = time.monotonic()
            self._round()
            self.rounds += 1
            self._first_round.set()
            self._wake.wait(max(0.0, interval - (time.monotonic() - started)))
            self._wake.clear()
        self.link.close()

    def _open(self) -> bool:
        # No bus reset here: it would wipe what the devices still hold (coins, a stacked bill)
        # before we could read it. Each device is POLLed, then RESET on its own.
        try:
            self.link.open()
        except LinkDown as exc:
            log.debug("MDB: %s", exc)
            self._link_lost(exc)
            return False
        for device in self._snapshot():
            device.phase = Phase.OFFLINE
        return True

    def _snapshot(self) -> list[MdbDevice]:
        with self._lock:
            return list(self.devices)

    def _round(self) -> None:
        for device in self._snapshot():
            with self._lock:
                leaving = device in self._leaving
            try:
                if leaving:
                    self._leave(device)
                else:
                    device.turn()
            except LinkDown as exc:
                log.warning("MDB: link lost: %s", exc)
                self.link.close()
                self._link_lost(exc)
                return

    def _leave(self, device: MdbDevice) -> None:
        try:
            if device.phase is Phase.READY:
                device.shutdown()
        except LinkDown:
            raise
        except DeviceError as exc:
            log.info("%s: could not stop cleanly: %s", device.name, exc)
        finally:
            with self._lock:
                self._leaving.discard(device)
                if device in self.devices:
                    self.devices.remove(device)

    def _link_lost(self, exc: DeviceError) -> None:
        for device in self._snapshot():
            device.went_offline()
            device.raise_fault("disconnected", str(exc))
