"""What the MQTT feed may see of the controller: post events, submit a person's change and
wait for the answer, follow each step, offer a status probe, read the current state. The
daemon's Controller satisfies it; the feed never holds the Daemon or the controller's
internals."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from vendd.events import AdminEvent, Event
from vendd.ledger import JournalRow
from vendd.machine import Reply, State

StepListener = Callable[[State, list[JournalRow]], None]
Probe = Callable[[], bool | None]  # True up, False down, None unknown


class ControllerPort(Protocol):
    def post(self, event: Event) -> None: ...

    def submit(self, event: AdminEvent) -> Future[Reply]: ...

    def subscribe(self, listener: StepListener) -> Callable[[], None]:
        """Call `listener` after every step (on the controller's thread: flag and return),
        behind a boundary: its errors are logged and counted, never raised into a sale.
        Returns the call that unsubscribes."""
        ...

    def add_probe(self, name: str, probe: Probe) -> None: ...

    @property
    def state(self) -> State | None: ...
