"""One life cycle for every thread of the daemon outside the controller: the device drivers'
readers and the MQTT feed's threads.

A `Worker` runs `turn()` until it is stopped. A turn that reports trouble (a port that would not
open) backs off, doubling up to a ceiling. An exception nobody planned for (a bug: a KeyError in
a payload handler) does not end the thread silently: it is logged with its traceback, the
worker's devices are put in their safe state (`go_safe`: money intake inhibited, port closed),
a blocking `DeviceFault` is posted to the controller's queue (which journals it, and the machine
stops selling what needs the device), and the loop starts again after the back-off. The fault
stands until a whole turn runs clean; then `DeviceRecovered` is posted.

`FaultLatch` is the one way a device reports a fault of its own (no answer, unplugged): each
code once, cleared by the next good exchange, and never while the worker's bug fault stands.
Lives here, not in `hw/`: the telemetry threads use it too, and neither layer imports the other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from vendd.events import DeviceFault, DeviceRecovered, Event

log = logging.getLogger(__name__)

Post = Callable[[Event], None]
T = TypeVar("T")
BUG = "driver_error"  # the fault code of an unexpected exception in a worker's loop


def _nowhere(event: Event) -> None:
    log.debug("event before start(): %r", event)


class FaultLatch:
    """A device's current fault: posted once per code, cleared by `clear()` unless `held`
    (a worker's bug fault is released only by the worker, after a clean turn)."""

    def __init__(self, device: str, post: Post = _nowhere,
                 ready: Callable[[], bool] = lambda: True) -> None:
        self.device = device
        self.post = post
        self.ready = ready  # False while the device is not yet fit to be called recovered
        self.code: str | None = None
        self.held = False

    def raise_(self, code: str, detail: str, **extra: Any) -> None:
        """`extra`: further fields of the DeviceFault (a count of coins, say)."""
        if self.code == code or self.held:
            return
        self.code = code
        log.error("%s: %s: %s", self.device, code, detail)
        self.post(DeviceFault(self.device, code, detail, blocking=True, **extra))

    def clear(self) -> None:
        if self.code is None or self.held or not self.ready():
            return
        log.info("%s: recovered from %s", self.device, self.code)
        self.code = None
        self.post(DeviceRecovered(self.device))

    def hold(self, code: str, detail: str) -> None:
        """A bug: fault the device until `release()`, whatever good exchanges happen."""
        if self.held:
            return
        if self.code is not None and self.code != code:
            # Already out of service under another code (the machine journals a blocking
            # fault once per outage): journal the bug beside it.
            log.error("%s: %s: %s", self.device, code, detail)
            self.post(DeviceFault(self.device, code, detail, blocking=False))
            self.code = code
        else:
            self.raise_(code, detail)
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.clear()


class Worker:
    """Subclasses fill in `turn`, and where they own devices `go_safe` and `finish`."""

    backoff_start_s = 0.1
    backoff_max_s = 2.0

    def __init__(self, thread_name: str, latches: list[FaultLatch] | None = None) -> None:
        self.thread_name = thread_name
        self._latches = latches or []
        self.bugs = 0  # unexpected exceptions caught at the boundary (self-test, tests)
        self._backoff = self.backoff_start_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle (the owner's thread) ------------------------------------------------------

    def fault_latches(self) -> list[FaultLatch]:
        """The devices a bug in this loop takes out of service (all of a shared bus's)."""
        return self._latches

    def start_worker(self, post: Post | None = None) -> None:
        if post is not None:
            for latch in self.fault_latches():
                latch.post = post
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop_worker(self, timeout: float = 5.0) -> bool:
        """Ask the loop to end, wake it, and wait; False when it did not end in time."""
        self._stopping.set()
        self.wake()
        thread, self._thread = self._thread, None
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.error("%s: the thread did not stop in %.1f s", self.thread_name, timeout)
            return False
        return True

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def faulted(self) -> bool:
        """A bug was reported and no turn has run clean since: intake stays inhibited."""
        return any(latch.held for latch in self.fault_latches())

    def pause(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the worker is stopping."""
        return self._stopping.wait(seconds)

    # --- what subclasses fill in ----------------------------------------------------------------

    def turn(self) -> bool:
        """One round of work. False: trouble already reported; back off before the next."""
        raise NotImplementedError

    def wake(self) -> None:
        """Cut a wait in `turn` short (stop, new work). Called from other threads."""

    def go_safe(self) -> None:
        """After a bug, on the worker's thread: stop the intake, drop what may be broken."""

    def finish(self) -> None:
        """On the worker's thread, after the loop: leave the devices safe."""

    # --- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        self._backoff = self.backoff_start_s
        while not self._stopping.is_set():
            try:
                healthy = self.turn()
                if healthy and self.faulted:
                    log.info("%s: a clean turn after the fault", self.thread_name)
                    for latch in self.fault_latches():
                        latch.release()
                    self.recovered()
            except Exception as exc:  # the thread's boundary: a bug becomes a journaled fault
                self._bug(exc)
                healthy = False
            if healthy:
                self._backoff = self.backoff_start_s
            elif self.pause(self._backoff):
                break
            else:
                self._backoff = min(self._backoff * 2, self.backoff_max_s)
        try:
            self.finish()
        except Exception:  # the boundary again: stopping must complete
            log.exception("%s: could not finish cleanly", self.thread_name)

    def reset_backoff(self) -> None:
        """Work flows again (seen by the subclass): the next failure waits the least."""
        self._backoff = self.backoff_start_s

    def _bug(self, exc: Exception) -> None:
        self.bugs += 1
        log.exception("%s failed unexpectedly; starting again in %.1f s", self.thread_name,
                      self._backoff)
        try:
            self.go_safe()
        except Exception:  # a broken safe path must not hide the fault below
            log.exception("%s: could not go safe", self.thread_name)
        self.report_bug(f"{type(exc).__name__}: {exc}")

    def report_bug(self, detail: str) -> None:
        """Fault the worker's devices until a clean turn (a subclass may report its own way)."""
        for latch in self.fault_latches():
            latch.hold(BUG, detail)

    def recovered(self) -> None:
        """After the clean turn that released the bug fault: open the intake again."""


def guarded(job: Callable[[], T], on_bug: Callable[[Exception], None]) -> T | None:
    """The boundary of a one-shot thread (a vend): an unexpected exception goes to `on_bug`,
    which logs it with its traceback and ends the job's story (a VendFinished, a blocking
    fault that takes the device out of sale). Returns the job's result, None after a bug."""
    try:
        return job()
    except Exception as exc:  # the thread's boundary
        on_bug(exc)
        return None


class ListenerBoundary:
    """Calls listeners that are not the controller's core (telemetry) so that their errors are
    logged and counted, never raised into the caller: a feed's bug must not stop a sale."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.errors = 0
        self._logged: set[str] = set()

    def call(self, fn: Callable[..., T], *args: object) -> T | None:
        """`fn(*args)`, or None when it raised."""
        try:
            return fn(*args)
        except Exception as exc:  # the boundary: count, log the first of each kind
            self.errors += 1
            key = f"{getattr(fn, '__qualname__', fn)}:{type(exc).__name__}"
            if key not in self._logged:
                self._logged.add(key)
                log.exception("%s: a listener failed (logged once per kind; %d so far)",
                              self.what, self.errors)
            else:
                log.debug("%s: listener failed again: %s", self.what, exc)
            return None
