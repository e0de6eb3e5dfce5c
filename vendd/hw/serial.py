"""What the serial drivers (ccTalk, MDB) share: the port interface they need, how a port is
opened, and the retry loop of one request. (Their fault latch is `vendd.worker.FaultLatch`.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

import serial

from vendd.errors import DeviceError

log = logging.getLogger(__name__)

T = TypeVar("T")


class SerialLike(Protocol):
    """The part of a pyserial port the drivers use (a pty, `loop://`, `socket://`, a test's
    scripted port)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def flush(self) -> None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...

    @property
    def in_waiting(self) -> int: ...


class NoResponseError(DeviceError):
    """A device gave no good answer within the retry budget."""


def open_serial(port: str, baud: int, timeout_s: float) -> SerialLike:
    """Open `port` (a path, or a pyserial URL); a real device path is opened exclusively, so
    a second daemon cannot share the line."""
    kwargs: dict[str, object] = {"baudrate": baud, "timeout": timeout_s}
    if "://" not in port:
        kwargs["exclusive"] = True
    port_: SerialLike = serial.serial_for_url(port, **kwargs)
    return port_


def retry(attempt: Callable[[], T], budget: int, what: str, *,
          retry_on: tuple[type[DeviceError], ...],
          on_retry: Callable[[DeviceError], None] = lambda exc: None,
          stopping: Callable[[], bool] = lambda: False) -> T:
    """Run `attempt` until it returns, at most `budget + 1` times. An error of `retry_on` is
    counted by `on_retry` (which may also pause) and tried again; anything else goes to the
    caller at once (a lost port). Raises NoResponseError naming `what` when the budget is
    spent, or as soon as `stopping()` is true."""
    last: DeviceError | None = None
    for _ in range(budget + 1):
        if stopping():
            break
        try:
            return attempt()
        except retry_on as exc:
            last = exc
            on_retry(exc)
    raise NoResponseError(f"{what}: {last or 'stopping'}") from last
