"""Simulated MDB peripherals on one pseudo-terminal: a coin changer (08) with tubes, a bill
validator (30) with escrow and a cashless reader (10) with card taps.

The pty cannot carry the 9th bit, so both directions are framed in-band (`FF 00 b` for a byte
with the mode bit, `FF FF` for a literal FF, `FF 00 00` for a bus reset) with the daemon's own
receive parser. Each device follows its MDB state machine; the data a device
answers to POLL stays pending until the controller ACKs it (a RET resends it, a POLL without an
ACK gets it again), as real devices do.

Faults: `silence(n)` / `offline` (no response), `self_reset()` (just reset mid-session),
`bad_checksums(n)`, and per device: `jam_at = k` (coin jam after k coins of a payout),
`empty_tube()` (change comes out short), `deny` (vends denied), `lose_session()` (the reader's
next session command is out of sequence), `stacker_full`.

Here the bus (the pty and the wire); each peripheral in its own module (`mdb_changer`,
`mdb_bills`, `mdb_reader`, on the common `mdb_device`).
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

from simulator.mdb_bills import SimBillValidator
from simulator.mdb_changer import SimChanger
from simulator.mdb_device import SimDevice
from simulator.mdb_reader import SimReader
from vendd.hw.mdb import codec

__all__ = ["SimBillValidator", "SimChanger", "SimDevice", "SimMdbBus", "SimReader"]

log = logging.getLogger(__name__)


class SimMdbBus:
    """The three peripherals on one pty. `port` is a symlink to the pty's slave."""

    def __init__(self, changer: bool = True, bills: bool = True, reader: bool = True) -> None:
        self.changer = SimChanger() if changer else None
        self.bills = SimBillValidator() if bills else None
        self.reader = SimReader() if reader else None
        self.devices: dict[int, SimDevice] = {
            d.address: d for d in (self.changer, self.bills, self.reader) if d is not None}
        self.lock = threading.RLock()
        self._dir = tempfile.TemporaryDirectory(prefix="mdb-sim-")
        self.port = os.path.join(self._dir.name, "usb-sim-mdb-if00")
        self._master: int | None = None
        self._slave: int | None = None
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._cmd: list[int] | None = None
        # Sent data, waiting for ACK/RET/NAK: the device, and whether it was its poll data.
        self._waiting: tuple[SimDevice, bool] | None = None
        self._last: bytes = b""
        self._sent_at = 0.0
        self.corrupt = 0  # bad checksums on the next n data answers (any device)
        self.ack_latencies: list[float] = []  # seconds from our last byte to the ACK
        self.rets = self.naks = self.bus_resets = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> SimMdbBus:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave
        os.symlink(os.ttyname(slave), self.port)
        self._running.set()
        self._thread = threading.Thread(target=self._serve, name="sim-mdb", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._dir.cleanup()

    def __enter__(self) -> SimMdbBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def bad_checksums(self, n: int = 1) -> None:
        with self.lock:
            self.corrupt += n

    # --- the wire --------------------------------------------------------------------------

    def _serve(self) -> None:
        parser = codec.WordParser()
        while self._running.is_set():
            fd = self._master
            assert fd is not None
            try:
                ready, _, _ = select.select([fd], [], [], 0.02)
                chunk = os.read(fd, 512) if ready else b""
            except OSError:
                time.sleep(0.01)
                continue
            now = time.monotonic()
            if not chunk:
                with self.lock:
                    if self.changer is not None:
                        self.changer._dispense_tick()
                continue
            try:
                words = parser.feed(chunk)
            except codec.EscapeError as exc:
                words = exc.words
            with self.lock:
                for word in words:
                    self._word(fd, word, now)

    def _word(self, fd: int, word: codec.Word, now: float) -> None:
        byte, mode = word
        if mode:
            self._waiting = None
            if byte == 0x00:  # a break: bus reset
                self.bus_resets += 1
                for d in self.devices.values():
                    d.reset()
                self._cmd = None
                return
            self._cmd = [byte]
            return
        if self._cmd is None:
            self._control(fd, byte, now)
            return
        self._cmd.append(byte)
        address = self._cmd[0]
        need = codec.command_length(address, self._cmd[1] if len(self._cmd) > 1 else None)
        if need is None:
            if len(self._cmd) > 1:
                self._cmd = None  # a command we do not know: stay silent
            return
        if len(self._cmd) < need + 2:
            return
        cmd, self._cmd = bytes(self._cmd), None
        if codec.checksum(cmd[:-1]) != cmd[-1]:
            return  # a garbled command: a device stays silent
        device = self.devices.get(address & 0xF8)
        if device is None:
            return
        payload = device.answer(address & 0x07, cmd[1:-1])
        if payload is None:
            return
        if payload:
            self._waiting = (device, payload is device.unacked)
        self._send(fd, payload)

    def _control(self, fd: int, byte: int, now: float) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            return
        device, polled = waiting
        if byte == codec.ACK:
            self.ack_latencies.append(now - self._sent_at)
            if polled:
                device.acked()
        elif byte == codec.RET:
            self.rets += 1
            self._waiting = waiting
            self._send(fd, self._last)
        else:
            self.naks += 1  # the data stays pending: the next POLL gets it again

    def _send(self, fd: int, payload: bytes) -> None:
        self._last = payload
        words = codec.answer_words(payload)
        if self.corrupt and len(words) > 1:
            self.corrupt -= 1
            words[-1] = (words[-1][0] ^ 0x5A, True)
        with contextlib.suppress(OSError):
            os.write(fd, codec.escape(words))
        self._sent_at = time.monotonic()
