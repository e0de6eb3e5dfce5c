"""systemd's notify protocol, our own dozen lines: one datagram per message to $NOTIFY_SOCKET.

    notifier = Notifier.from_env()        # a no-op when not started by systemd (Type=notify)
    notifier.ready("idle, credit $0.00")  # READY=1 once the machine can sell
    controller.loop_hooks.append(WatchdogHook(notifier, status=...))  # WATCHDOG=1 + STATUS=
    notifier.stopping()                   # STOPPING=1

WATCHDOG=1 is sent from the controller loop itself (a loop hook), never from a timer thread:
when the loop hangs the pings stop and systemd restarts the service (WatchdogSec=,
Restart=on-failure). See systemd's sd_notify(3) for the protocol.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def _address(value: str) -> str | bytes:
    """`@name` is an abstract socket (first byte NUL on the wire); anything else a path."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


class Notifier:
    """Sends notify messages; every method is a harmless no-op without a socket."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the watchdog is ours only when
        WATCHDOG_PID is unset or names this process)."""
        env = os.environ if env is None else env
        usec: int | None = None
        pid = env.get("WATCHDOG_PID", "")
        if not pid or pid == str(os.getpid()):
            try:
                usec = int(env.get("WATCHDOG_USEC", "")) or None
            except ValueError:
                usec = None
        return cls(env.get("NOTIFY_SOCKET"), usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None: no watchdog."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2_000_000

    def notify(self, *lines: str) -> bool:
        """Send `KEY=value` lines as one datagram; False when not sent."""
        if self.address is None:
            return False
        data = "\n".join(lines).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.setblocking(False)  # never block the controller loop
                self._sock.sendto(data, _address(self.address))
            except OSError as exc:
                if not self._warned:  # once: systemd gone or socket full, nothing to do
                    log.warning("cannot notify systemd at %s: %s", self.address, exc)
                    self._warned = True
                return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str = "") -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def _one_line(text: str) -> str:
    return " ".join(text.split())


class WatchdogHook:
    """A controller loop hook: WATCHDOG=1 every `interval` and STATUS= whenever `status()`
    changes. Runs on the controller thread, so it proves the loop is turning; it must stay cheap
    (one non-blocking send at most per call)."""

    def __init__(
        self,
        notifier: Notifier,
        status: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier
        self.interval = notifier.watchdog_interval
        self._status = status
        self._clock = clock
        self._last_ping: float | None = None
        self._last_status = ""

    def __call__(self) -> None:
        if not self.notifier.enabled:
            return
        now = self._clock()
        if self.interval is not None and (
            self._last_ping is None or now - self._last_ping >= self.interval
        ):
            self.notifier.watchdog()
            self._last_ping = now
        if self._status is not None:
            text = _one_line(self._status())
            if text != self._last_status:
                self.notifier.status(text)
                self._last_status = text
