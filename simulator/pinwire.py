"""GPIO between two processes: the cabinet's pins reach a daemon the way a ribbon cable would.

The cabinet process owns the physical pins (a gpiozero `MockFactory` its physics drives). A
daemon in another process is given a `RemotePinFactory`, a `MockFactory` whose pins mirror the
cabinet's over a Unix socket: what the daemon writes to an output reaches the cabinet's pin,
what the cabinet's physics does to an input reaches the daemon's pin as an edge with the
cabinet's own time of the change (CLOCK_MONOTONIC is one clock for every process on the host,
as the kernel's edge times are on a Pi). The daemon builds its drivers on it as on lgpio.

Wire: one text line per message, `<op> <pin name> <args>`:
  daemon -> cabinet   `in GPIO16 up`       pin is an input with that pull; answered by `lv`
                      `out GPIO5 1`        pin is an output at that level
  cabinet -> daemon   `lv GPIO16 0 <t>`    level of an input pin, at monotonic time t
When the daemon goes away (killed or stopped) its outputs are released: the cabinet puts
each at its off level (the driver board's pull resistors), as a Pi's lines are at boot.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin, PinState

from simulator.held_pin import HeldPin

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 10.0


def _send(sock: socket.socket | None, line: str) -> bool:
    """False when the other side is gone (its reader notices and cleans up)."""
    if sock is None:
        return False
    try:
        sock.sendall(line.encode() + b"\n")
    except OSError:
        return False
    return True


def _lines(sock: socket.socket) -> Any:
    """Yield the lines the socket brings until it closes."""
    buf = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode()


# --- the daemon's side ------------------------------------------------------------------------


class RemotePin(MockPin):
    """A pin of the daemon whose level lives in the cabinet process."""

    _state: bool
    _last_change: float
    _function: str
    _pull: str

    def _set_function(self, value: str) -> None:
        if value not in ("input", "output"):
            super()._set_function(value)  # gpiozero's own error
            return
        self._function = value
        if value == "input":
            self._factory.ask(self, f"in {self.info.name} {self._pull}")
        else:
            _send(self._factory.sock, f"out {self.info.name} {int(self._state)}")

    def _set_pull(self, value: str) -> None:
        if self._function != "input" or value not in ("floating", "up", "down"):
            super()._set_pull(value)  # gpiozero's own error
            return
        self._pull = value
        self._factory.ask(self, f"in {self.info.name} {value}")

    def _set_state(self, value: Any) -> None:
        super()._set_state(value)  # checks it is an output
        _send(self._factory.sock, f"out {self.info.name} {int(bool(value))}")

    def mirror(self, level: bool, t: float) -> None:
        """The cabinet's pin changed at time `t`: the edge, with the callback gpiozero makes."""
        if self._function != "input" or self._state == level:
            return
        self._state = level
        self.states.append(PinState(t - self._last_change, level))
        self._last_change = t
        edge_wanted = self._edges in ("both", "rising" if level else "falling")
        if edge_wanted and self._when_changed is not None:
            self._call_when_changed()


class RemotePinFactory(MockFactory):
    """A gpiozero pin factory for a daemon whose cabinet is another process listening on
    `path`. Edges are delivered on the factory's reader thread, as lgpio does."""

    def __init__(self, path: str, revision: str | None = None) -> None:
        super().__init__(revision=revision, pin_class=RemotePin)
        self.sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self._by_name: dict[str, RemotePin] = {}
        self._waiting: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="pinwire", daemon=True)
        self._reader.start()

    def pin(self, spec: Any) -> Any:
        pin = super().pin(spec)
        self._by_name.setdefault(pin.info.name, pin)
        return pin

    def ask(self, pin: RemotePin, line: str) -> None:
        """Send a request the cabinet answers with the pin's level; wait for that answer, so
        a driver reads the real level right after configuring its pin."""
        if self.sock is None:
            return  # closed: nobody is there to answer
        done = threading.Event()
        with self._lock:
            self._by_name.setdefault(pin.info.name, pin)
            self._waiting[pin.info.name] = done
        if not _send(self.sock, line):
            return  # the cabinet is gone: the pin keeps its last level
        if not done.wait(REPLY_TIMEOUT_S) and self.sock is not None:
            log.error("the cabinet did not answer %r", line)

    def _read(self) -> None:
        assert self.sock is not None
        for line in _lines(self.sock):
            op, name, *rest = line.split()
            if op != "lv":
                continue
            pin = self._by_name.get(name)
            if pin is not None:
                pin.mirror(rest[0] == "1", float(rest[1]))
            with self._lock:
                done = self._waiting.pop(name, None)
            if done is not None:
                done.set()
        log.warning("the cabinet closed the GPIO link")

    def close(self) -> None:
        super().close()
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


# --- the cabinet's side -----------------------------------------------------------------------


class WatchedPin(HeldPin):
    """A cabinet pin that reports its changes: an input's level to the connected daemon
    (`factory.on_level`), an output's to the cabinet's contacts (`factory.on_output`). A
    switch or beam the cabinet drives holds its level against the daemon's pull (HeldPin)."""

    def _change_state(self, value: bool) -> bool:
        changed: bool = super()._change_state(value)
        if changed:
            hook = "on_level" if self._function == "input" else "on_output"
            watcher = getattr(self._factory, hook, None)
            if watcher is not None:
                watcher(self)
        return changed


class CabinetPins:
    """Serve the cabinet's `factory` (made with `pin_class=WatchedPin`) to one daemon at a
    time on a Unix socket at `path`. `lock` is the physics' lock; `refresh()` re-drives the
    physical inputs; `off_level(name)` is the level an output falls to when released (None:
    it keeps its level); `driven` are the inputs something physical drives (a switch, a
    beam, a hand), which a pull resistor does not move."""

    def __init__(self, factory: MockFactory, path: str, lock: Any,
                 refresh: Callable[[], None], off_level: Callable[[str], bool | None],
                 driven: set[str]) -> None:
        self.factory = factory
        self.path = path
        self.lock = lock
        self.refresh = refresh
        self.off_level = off_level
        self.driven = driven
        self.connections = 0  # daemons that have attached so far
        self.attached = threading.Event()
        self._conn: socket.socket | None = None
        self._outputs: set[str] = set()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._server.bind(path)
        self._server.listen(2)
        factory.on_level = self._on_level
        self._thread = threading.Thread(target=self._accept, name="cabinet-pins", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self._conn = conn
            self.connections += 1
        self.attached.set()
        try:
            for line in _lines(conn):
                self._handle(line.split())
        finally:
            with self.lock:
                self._conn = None
                self._release()
            self.attached.clear()
            conn.close()

    def _handle(self, words: list[str]) -> None:
        op, name, arg = words[0], words[1], words[2]
        with self.lock:
            pin = self.factory.pin(name)
            if op == "out":
                self._outputs.add(name)
                pin._function = "output"
                pin._change_state(arg == "1")
                self.refresh()
                return
            self._outputs.discard(name)
            pin._function = "input"
            pin._pull = arg
            if name not in self.driven:
                # Nothing physical drives it: the daemon's pull decides, else the board's.
                level = (arg == "up") if arg in ("up", "down") else self.off_level(name)
                if level is not None:
                    pin._change_state(level)
            self.refresh()
            self._tell(pin)

    def _release(self) -> None:
        """The daemon is gone: its outputs fall to their off level; physics carries on."""
        for name in self._outputs:
            pin = self.factory.pin(name)
            level = self.off_level(name)
            pin._function = "input"  # released: only pull resistors hold the line now
            if level is not None:
                pin._change_state(level)
        self._outputs.clear()
        self.refresh()

    def _on_level(self, pin: MockPin) -> None:
        if self._conn is not None:
            self._tell(pin)

    def _tell(self, pin: MockPin) -> None:
        _send(self._conn, f"lv {pin.info.name} {int(pin.state)} {pin._last_change:.6f}")

    def daemon_attached(self) -> bool:
        with self.lock:  # not while a departed daemon's outputs are being released
            return self._conn is not None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(0.002)
