"""Fault injection for the simulated ccTalk acceptor: what a real line and a real device do
wrong (damage, silence, NAK/BUSY, late answers, replies that fit no request, a counter read
one step back, a two-byte error the simple checksum cannot see)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from vendd.hw.cctalk import codec


@dataclass
class Faults:
    bad_checksum: int = 0
    silence: int = 0
    nak: int = 0
    busy: int = 0
    garbage: int = 0
    late: int = 0  # the next replies come `late_s` late
    late_s: float = 0.0
    wrong_source: int = 0  # a reply from another address (simple checksum only)
    wrong_dest: int = 0  # a reply addressed to another device
    wrong_length: int = 0  # a checksum-valid reply with one byte too many
    counter_back: int = 0  # a 229 reply whose counter is one step behind
    line_error: int = 0  # a 229 reply with two bytes changed that keep the simple checksum


class FaultInjector:
    """Mixed into the acceptor: each call arms the next `n` replies."""

    _lock: threading.Lock
    _faults: Faults
    address: int
    checksum: codec.Checksum

    def bad_checksums(self, n: int = 1) -> None:
        with self._lock:
            self._faults.bad_checksum += n

    def silence(self, n: int = 1) -> None:
        with self._lock:
            self._faults.silence += n

    def garbage(self, n: int = 1) -> None:
        """The next `n` replies are random bytes (line noise, a confused device)."""
        with self._lock:
            self._faults.garbage += n

    def nak(self, n: int = 1) -> None:
        with self._lock:
            self._faults.nak += n

    def busy(self, n: int = 1) -> None:
        with self._lock:
            self._faults.busy += n

    def heal(self) -> None:
        """Cancel every fault still to come."""
        with self._lock:
            self._faults = Faults()

    def late(self, seconds: float, n: int = 1) -> None:
        """The next `n` replies come `seconds` late (the echo does not: it is the line's)."""
        with self._lock:
            self._faults.late += n
            self._faults.late_s = seconds

    def wrong_source(self, n: int = 1) -> None:
        with self._lock:
            self._faults.wrong_source += n

    def wrong_dest(self, n: int = 1) -> None:
        with self._lock:
            self._faults.wrong_dest += n

    def wrong_length(self, n: int = 1) -> None:
        with self._lock:
            self._faults.wrong_length += n

    def counter_back(self, n: int = 1) -> None:
        """The next `n` credit replies show the counter one step behind (with this buffer)."""
        with self._lock:
            self._faults.counter_back += n

    def line_error(self, n: int = 1) -> None:
        """The next `n` credit replies reach the host with the counter one up and the newest
        sorter path one down: the simple checksum still holds, a CRC does not."""
        with self._lock:
            self._faults.line_error += n

    def _damaged(self, header: int, data: bytes) -> bytes:
        """The ACK frame, with whatever the fault injector asked for."""
        f = self._faults
        if header == codec.READ_CREDIT and f.counter_back and data[0]:
            f.counter_back -= 1
            data = bytes([codec.counter_minus(data[0], 1)]) + data[1:]
        if f.wrong_length:
            f.wrong_length -= 1
            data += b"\x00"
        dest, src = codec.HOST, self.address
        if f.wrong_dest:
            f.wrong_dest -= 1
            dest = 3
        elif f.wrong_source and self.checksum == "simple":
            f.wrong_source -= 1
            src = self.address + 1
        reply = bytearray(codec.build_frame(dest, src, codec.ACK, data, self.checksum))
        if header == codec.READ_CREDIT and f.line_error:
            f.line_error -= 1
            reply[4] = (reply[4] + 1) & 0xFF  # the counter
            reply[6] = (reply[6] - 1) & 0xFF  # B1, the newest event's sorter path
        if f.bad_checksum:
            f.bad_checksum -= 1
            reply[-1] ^= 0x5A
        return bytes(reply)
