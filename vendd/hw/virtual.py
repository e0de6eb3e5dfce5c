"""In-memory devices: the virtual backend of every device kind (config `kind = "virtual"`).

Like a virtual CAN bus, they are used by the controller tests and by the simulator: the
simulator holds the same objects and plays the other side (inserting coins, pressing buttons,
deciding what falls out of a spiral)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vendd.events import (
    CancelPressed,
    CoinRejected,
    CreditInserted,
    DeviceFault,
    ProductDropped,
    SelectionPressed,
    ServiceKey,
    VendFinished,
    VendOutcome,
)
from vendd.hw.base import Post
from vendd.worker import guarded

log = logging.getLogger(__name__)


def _unstarted(event: object) -> None:
    raise RuntimeError("device used before start()")


class VirtualCoinAcceptor:
    def __init__(self, name: str, coin_values: list[int]) -> None:
        self.name = name
        self.coin_values = set(coin_values)
        self.accepting = False
        self._post: Post = _unstarted
        self.on_accept: Callable[[int], None] | None = None  # the simulator's tally

    def start(self, post: Post) -> None:
        self._post = post

    def stop(self) -> None:
        self.accepting = False

    def set_accepting(self, accepting: bool) -> None:
        self.accepting = accepting

    def insert(self, value: int, label: str = "") -> bool:
        """A coin goes in the slot; True when the acceptor kept it."""
        if not self.accepting or value not in self.coin_values:
            reason = "inhibited" if not self.accepting else "unknown coin"
            self._post(CoinRejected(self.name, reason))
            return False
        if self.on_accept is not None:
            self.on_accept(value)
        self._post(CreditInserted(self.name, value, label))
        return True


class VirtualDispenser:
    """A motor turn takes `turn_time_s`; what happens is decided by `outcome_for`. It has a
    (virtual) drop sensor: a delivered product is reported by `ProductDropped` half-way
    through the turn, before `VendFinished`, as the GPIO dispenser does."""

    has_drop_sensor = True

    def __init__(self, name: str = "dispenser", turn_time_s: float = 0.0) -> None:
        self.name = name
        self.turn_time_s = turn_time_s
        self._post: Post = _unstarted
        self._stopping = threading.Event()
        self._busy = threading.Lock()
        self.motor_on: str | None = None
        # The simulator decides the physics; by default every turn delivers.
        self.outcome_for: Callable[[str], VendOutcome] = lambda slot: VendOutcome.DELIVERED
        self._thread: threading.Thread | None = None

    def start(self, post: Post) -> None:
        self._post = post
        self._stopping.clear()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.motor_on = None

    def vend(self, vend_id: int, slot: str) -> None:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("a vend is already running")  # the machine never asks twice
        self._thread = threading.Thread(
            target=self._turn, args=(vend_id, slot), name=f"vend-{vend_id}", daemon=True
        )
        self._thread.start()

    def _turn(self, vend_id: int, slot: str) -> None:
        def one_turn() -> VendOutcome:
            try:
                self.motor_on = slot
                return self._physics(vend_id, slot)
            finally:
                self.motor_on = None
                self._busy.release()

        def failed(exc: Exception) -> None:  # like GpioDispenser: end the vend, fault
            log.exception("%s: vend %d slot %s failed", self.name, vend_id, slot,
                          exc_info=exc)
            self._post(VendFinished(vend_id, slot, VendOutcome.STUCK_AT_HOME))
            self._post(DeviceFault(self.name, "gpio_error", f"{type(exc).__name__}: {exc}"))

        outcome = guarded(one_turn, failed)  # the thread's boundary
        if outcome is not None:
            self._post(VendFinished(vend_id, slot, outcome))

    def _physics(self, vend_id: int, slot: str) -> VendOutcome:
        if self._stopping.wait(self.turn_time_s / 2):
            return VendOutcome.INTERRUPTED
        outcome = self.outcome_for(slot)
        if outcome is VendOutcome.DELIVERED:
            self._post(ProductDropped(vend_id, slot))  # it fell: the rest of the turn follows
        if self._stopping.wait(self.turn_time_s / 2):
            return VendOutcome.INTERRUPTED
        return outcome


class VirtualButtons:
    def __init__(self, name: str = "buttons") -> None:
        self.name = name
        self._post: Post = _unstarted

    def start(self, post: Post) -> None:
        self._post = post

    def stop(self) -> None:
        pass

    def press(self, slot: str) -> None:
        self._post(SelectionPressed(slot))

    def cancel(self) -> None:
        self._post(CancelPressed())

    def service_key(self, on: bool) -> None:
        self._post(ServiceKey(on))


class VirtualDisplay:
    def __init__(self, name: str = "display") -> None:
        self.name = name
        self.lines: list[str] = []
        self.on_show: Callable[[list[str]], None] | None = None

    def start(self, post: Post) -> None:
        pass

    def stop(self) -> None:
        pass

    def show(self, lines: list[str]) -> None:
        self.lines = list(lines)
        if self.on_show is not None:
            self.on_show(self.lines)
