"""A simulated ccTalk coin acceptor on a pseudo-terminal.

The daemon opens `port`, a symlink in a temp dir pointing at the pty's slave (as
/dev/serial/by-id/... points at a ttyUSB). `unplug()` closes the master and removes the link;
`replug()` makes a fresh pty and points a new link at it. The device keeps its state (counter,
buffer, inhibits) across unplug/replug, as a powered acceptor behind a USB adapter does.

Like a real acceptor it answers the headers hosts send at start-up, answers a header it does
not support (or a request of the wrong length) with silence or NAK as configured, can answer
late (a device busy answering takes no new request), and takes coins one at a time: a coin
that follows another too closely waits at the entry, so fast coins never overflow the buffer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import tempfile
import threading
import time
import tty
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from simulator.cctalk_faults import FaultInjector, Faults
from vendd.errors import ProtocolError
from vendd.hw.cctalk import codec

log = logging.getLogger(__name__)

INTER_BYTE_GAP_S = 0.05  # a partial frame older than this is dropped
COIN_GAP_S = 0.25  # a coin acceptor validates about four coins a second

# Data length of each request the device knows; another length is a malformed request.
REQUEST_LENGTHS = {
    codec.MODIFY_INHIBITS: 2, codec.MODIFY_MASTER_INHIBIT: 1, codec.COIN_ID: 1,
    codec.COIN_POSITION: 1,
}


@dataclass
class _State:
    counter: int = 0
    buffer: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=5))
    mask: int = 0
    master: bool = False  # True: accepting


class SimCctalkAcceptor(FaultInjector):
    """`coins`: position -> (value in cents, label)."""

    def __init__(
        self,
        coins: dict[int, tuple[int, str]],
        address: int = codec.COIN_ACCEPTOR,
        checksum: codec.Checksum = "simple",
        echo: bool = True,
        serial_number: int = 12345678,
        unsupported: Literal["silence", "nak"] = "silence",
        reply_delay_s: float = 0.0,
        coin_gap_s: float = COIN_GAP_S,
    ) -> None:
        self.coins = dict(coins)
        self.address = address
        self.checksum: codec.Checksum = checksum
        self.echo = echo
        self.serial_number = serial_number
        self.unsupported = unsupported  # how an unknown header or a malformed request is met
        self.reply_delay_s = reply_delay_s  # every reply this late
        self.coin_gap_s = coin_gap_s
        self._next_coin_at = 0.0
        self._coin_lock = threading.Lock()
        self._pending: tuple[float, bytes] | None = None  # a late reply: (due, bytes)
        self.manufacturer = "SIM"
        self.category = "Coin Acceptor"
        self.product = "SIMCA-1"
        self._dir = tempfile.TemporaryDirectory(prefix="cctalk-sim-")
        self.port = os.path.join(self._dir.name, "usb-sim-cctalk-if00")
        self._lock = threading.Lock()
        self._state = _State()
        self._faults = Faults()
        self.accepted: list[int] = []  # positions of coins kept, in order (the tally)
        self.requests: list[int] = []  # headers heard
        self.on_accept: Callable[[int], None] | None = None  # called with the position
        # Called under the lock with (counter, A, B) for every event, and (0, 0, 0) for a
        # reset, before any poll can see it: the acceptor's memory, kept outside the process
        # (a powered acceptor keeps its buffer when the host dies).
        self.on_event: Callable[[int, int, int], None] | None = None
        self._master_fd: int | None = None
        self._slave_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._plugged = threading.Event()
        self._unplug_request = threading.Event()
        self._unplugged = threading.Event()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SimCctalkAcceptor:
        self._plug()
        self._running.set()
        self._thread = threading.Thread(target=self._serve, name="sim-cctalk", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        self._plugged.set()  # wake the thread if it waits for a replug
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._unplug_fds()
        self._dir.cleanup()

    def __enter__(self) -> SimCctalkAcceptor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self._master_fd, self._slave_fd = master, slave
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)
        os.symlink(os.ttyname(slave), self.port)
        self._plugged.set()

    def _unplug_fds(self) -> None:
        self._plugged.clear()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)
        for fd in (self._master_fd, self._slave_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master_fd = self._slave_fd = None

    def unplug(self) -> None:
        """The USB adapter is pulled: the daemon's reads fail, the by-id link disappears.
        The serving thread closes the fds itself, so it never reads a recycled fd number."""
        self._unplugged.clear()
        self._unplug_request.set()
        if not self._unplugged.wait(timeout=2.0):
            raise RuntimeError("simulated acceptor did not unplug")

    def replug(self) -> None:
        with self._lock:
            self._plug()

    # --- the buyer and the fault injector ------------------------------------------------------

    def insert(self, position: int) -> bool:
        """A coin of `position` goes in; True when the acceptor kept it. A coin that comes
        right after another waits at the entry (this call blocks) until the acceptor is done
        with the one before, as a coin runs down a real acceptor's path."""
        with self._coin_lock:
            wait = self._next_coin_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._next_coin_at = time.monotonic() + self.coin_gap_s
            return self._insert_now(position)

    def _insert_now(self, position: int) -> bool:
        with self._lock:
            st = self._state
            if position not in self.coins:
                self._push(0, 1)  # reject coin
                return False
            if not st.master:
                self._push(0, 2)  # inhibited coin
                return False
            if not st.mask & (1 << (position - 1)):
                self._push(0, 127 + position)  # inhibited coin n
                return False
            self._push(position, 1)
            self.accepted.append(position)
        if self.on_accept is not None:
            self.on_accept(position)
        return True

    def insert_burst(self, positions: list[int]) -> list[bool]:
        """Several events between two polls, faster than any acceptor validates coins (a
        fault injector: more than 5 overflows the buffer)."""
        with self._lock:  # the poll thread cannot answer in between
            return [self._insert_locked(p) for p in positions]

    def _insert_locked(self, position: int) -> bool:
        st = self._state
        if position in self.coins and st.master and st.mask & (1 << (position - 1)):
            self._push(position, 1)
            self.accepted.append(position)
            if self.on_accept is not None:  # tallied before the poll thread can answer
                self.on_accept(position)
            return True
        self._push(0, 2)
        return False

    def fraud(self, code: int = 20) -> None:
        """An event code: 20 coin on string, 17 coin going backwards, ..."""
        with self._lock:
            self._push(0, code)

    def push_raw(self, a: int, b: int) -> None:
        with self._lock:
            self._push(a, b)

    def self_reset(self) -> None:
        """Power glitch: counter 0, buffer empty, every coin inhibited."""
        with self._lock:
            self._state = _State()
            if self.on_event is not None:
                self.on_event(0, 0, 0)

    def restore(self, events: list[tuple[int, int, int]]) -> None:
        """Take up the counter and buffer that `on_event` saw in an earlier run."""
        with self._lock:
            for counter, a, b in events:
                if counter == 0:
                    self._state = _State()
                    continue
                self._state.counter = counter
                self._state.buffer.appendleft((a, b))

    @property
    def accepting(self) -> bool:
        with self._lock:
            return self._state.master and self._state.mask != 0

    @property
    def counter(self) -> int:
        with self._lock:
            return self._state.counter

    def _push(self, a: int, b: int) -> None:
        st = self._state
        st.counter = st.counter % 255 + 1
        st.buffer.appendleft((a, b))
        if self.on_event is not None:
            self.on_event(st.counter, a, b)

    # --- the wire ------------------------------------------------------------------------------

    def _serve(self) -> None:
        assembler = codec.FrameAssembler(self.checksum)
        last_byte = 0.0
        while self._running.is_set():
            if self._unplug_request.is_set():
                with self._lock:
                    self._unplug_fds()
                    self._pending = None
                self._unplug_request.clear()
                self._unplugged.set()
            fd = self._master_fd
            if fd is None:
                self._plugged.wait(0.05)
                assembler.reset()
                continue
            self._send_due(fd)
            try:
                ready, _, _ = select.select([fd], [], [], self._select_timeout())
                chunk = os.read(fd, 512) if ready else b""
            except OSError as exc:  # the daemon side hung up: wait for it to come back
                log.debug("sim: read failed: %s", exc)
                time.sleep(0.01)
                continue
            now = time.monotonic()
            if assembler.pending and now - last_byte > INTER_BYTE_GAP_S:
                assembler.reset()
            if chunk:
                last_byte = now
                self._receive(fd, assembler, chunk)

    def _select_timeout(self) -> float:
        pending = self._pending
        if pending is None:
            return 0.05
        return min(0.05, max(0.0, pending[0] - time.monotonic()))

    def _send_due(self, fd: int) -> None:
        pending = self._pending
        if pending is None or pending[0] > time.monotonic():
            return
        self._pending = None
        with contextlib.suppress(OSError):
            os.write(fd, pending[1])

    def _receive(self, fd: int, assembler: codec.FrameAssembler, chunk: bytes) -> None:
        try:
            frames = assembler.feed(chunk)
        except ProtocolError as exc:
            log.debug("sim: garbage from host: %s", exc)
            return
        for frame in frames:
            if frame.dest not in (0, self.address):
                continue
            request = codec.build_frame(
                frame.dest, frame.src or codec.HOST, frame.header, frame.data, self.checksum
            )
            if self.echo:  # the line echoes the host at once, whatever the device does
                with contextlib.suppress(OSError):
                    os.write(fd, request)
            if self._pending is not None:
                continue  # still busy answering late: a real device does not hear this one
            reply, delay = self._answer(frame)
            if reply is None:
                continue
            if delay > 0:
                self._pending = (time.monotonic() + delay, reply)
                continue
            with contextlib.suppress(OSError):
                os.write(fd, reply)

    def _answer(self, frame: codec.Frame) -> tuple[bytes | None, float]:
        """The reply (None: silence) and how late it goes out."""
        with self._lock:
            self.requests.append(frame.header)
            f = self._faults
            delay = self.reply_delay_s
            if f.late:
                f.late -= 1
                delay = f.late_s
            if f.silence:
                f.silence -= 1
                return None, 0.0
            if f.nak:
                f.nak -= 1
                return self._frame(codec.NAK), delay
            if f.busy:
                f.busy -= 1
                return self._frame(codec.BUSY), delay
            if f.garbage:
                f.garbage -= 1
                return os.urandom(1 + os.urandom(1)[0] % 24), delay
            data = self._handle(frame)
            if data is None:
                return (self._frame(codec.NAK) if self.unsupported == "nak" else None), delay
            return self._damaged(frame.header, data), delay

    def _frame(self, header: int, data: bytes = b"") -> bytes:
        return codec.build_frame(codec.HOST, self.address, header, data, self.checksum)

    def _handle(self, frame: codec.Frame) -> bytes | None:
        """The data of the ACK; None for a header not supported or a malformed request."""
        st = self._state
        h, d = frame.header, frame.data
        if len(d) != REQUEST_LENGTHS.get(h, 0):
            return None
        simple = {
            codec.SIMPLE_POLL: b"",
            codec.MANUFACTURER: self.manufacturer.encode(),
            codec.CATEGORY: self.category.encode(),
            codec.PRODUCT_CODE: self.product.encode(),
            codec.SERIAL_NUMBER: self.serial_number.to_bytes(3, "little"),
            codec.SELF_CHECK: b"\x00",
            codec.POLLING_PRIORITY: b"\x02\x14",  # 20 x 10 ms
            codec.REQUEST_STATUS: b"\x00",  # OK
            codec.SOFTWARE_REVISION: b"SIM-1.0",
            codec.BUILD_CODE: b"SIMCA1",
            codec.COMMS_REVISION: b"\x01\x04\x02",  # release 1, ccTalk 4.2
        }
        if h in simple:
            return simple[h]
        if h == codec.READ_CREDIT:
            pairs = list(st.buffer) + [(0, 0)] * (5 - len(st.buffer))
            return bytes([st.counter, *[x for pair in pairs for x in pair]])
        if h == codec.MODIFY_INHIBITS:
            st.mask = d[0] | (d[1] << 8)
            return b""
        if h == codec.REQUEST_INHIBITS:
            return bytes([st.mask & 0xFF, st.mask >> 8])
        if h == codec.MODIFY_MASTER_INHIBIT:
            st.master = bool(d[0] & 1)
            return b""
        if h == codec.REQUEST_MASTER_INHIBIT:
            return bytes([int(st.master)])
        if h == codec.COIN_ID:
            return self._coin_id(d[0])
        if h == codec.COIN_POSITION:
            mask = 1 << (d[0] - 1) if 1 <= d[0] <= 16 else 0
            return bytes([mask & 0xFF, mask >> 8])
        if h == codec.RESET_DEVICE:
            self._state = _State()
            return b""
        return None

    def _coin_id(self, position: int) -> bytes:
        if position not in self.coins:
            return b"......"
        value, _label = self.coins[position]
        return f"US{value:03d}A"[:6].encode()
