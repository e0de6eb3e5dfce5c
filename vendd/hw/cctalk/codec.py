"""ccTalk wire codec: pure functions and classes, no I/O.

Frame: ``dest, n, src, header, data[n], checksum``. With the simple checksum every byte of the
frame sums to 0 mod 256. With the CRC-16 variant (CRC-16/XMODEM over dest, n, header, data) the
low CRC byte takes the place of ``src`` and the high byte the place of the checksum.
Frame and header facts follow the ccTalk generic specification.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from vendd.errors import ProtocolError

Checksum = Literal["simple", "crc16"]

HOST = 1
COIN_ACCEPTOR = 2

# Reply headers.
ACK = 0
NAK = 5
BUSY = 6

# Request headers.
SIMPLE_POLL = 254
MANUFACTURER = 246
CATEGORY = 245
PRODUCT_CODE = 244
SERIAL_NUMBER = 242
SELF_CHECK = 232
MODIFY_INHIBITS = 231
REQUEST_INHIBITS = 230
READ_CREDIT = 229
MODIFY_MASTER_INHIBIT = 228
REQUEST_MASTER_INHIBIT = 227
COIN_ID = 184
RESET_DEVICE = 1
# Asked by common hosts at start-up; vendd itself does not need them.
POLLING_PRIORITY = 249
REQUEST_STATUS = 248
SOFTWARE_REVISION = 241
BUILD_CODE = 192
COIN_POSITION = 212
COMMS_REVISION = 4

BUFFER_DEPTH = 5
CREDIT_REPLY_LEN = 1 + 2 * BUFFER_DEPTH
MAX_FRAME = 5 + 255

_ASCII = range(1, 256)
# The data length an ACK to each request header carries. A reply of another length belongs to
# another request (a late one) or was damaged: it is never taken as the answer.
REPLY_LENGTHS: dict[int, range] = {
    SIMPLE_POLL: range(0, 1),
    MANUFACTURER: _ASCII,
    CATEGORY: _ASCII,
    PRODUCT_CODE: _ASCII,
    SERIAL_NUMBER: range(3, 4),
    SELF_CHECK: range(1, 3),  # fault code, some devices add an extra byte
    MODIFY_INHIBITS: range(0, 1),
    REQUEST_INHIBITS: range(2, 3),
    READ_CREDIT: range(11, 12),
    MODIFY_MASTER_INHIBIT: range(0, 1),
    REQUEST_MASTER_INHIBIT: range(1, 2),
    COIN_ID: range(6, 7),
    RESET_DEVICE: range(0, 1),
    POLLING_PRIORITY: range(2, 3),
    REQUEST_STATUS: range(1, 2),
    SOFTWARE_REVISION: _ASCII,
    BUILD_CODE: _ASCII,
    COIN_POSITION: range(2, 3),
    COMMS_REVISION: range(3, 4),
}


@dataclass(frozen=True)
class Frame:
    dest: int
    src: int | None  # None with the CRC-16 variant: that byte carries the CRC
    header: int
    data: bytes = b""


def simple_checksum(body: bytes) -> int:
    """The byte that makes the whole frame sum to 0 mod 256."""
    return (-sum(body)) & 0xFF


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM: poly 0x1021, init 0, not reflected, no final xor."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def build_frame(
    dest: int, src: int, header: int, data: bytes = b"", checksum: Checksum = "simple"
) -> bytes:
    if len(data) > 255:
        raise ValueError(f"ccTalk data is at most 255 bytes, got {len(data)}")
    n = len(data)
    if checksum == "crc16":
        crc = crc16_xmodem(bytes([dest, n, header]) + data)
        return bytes([dest, n, crc & 0xFF, header]) + data + bytes([crc >> 8])
    body = bytes([dest, n, src, header]) + data
    return body + bytes([simple_checksum(body)])


def parse_frame(raw: bytes, checksum: Checksum = "simple") -> Frame:
    """Parse exactly one frame; raise ProtocolError for anything else."""
    if len(raw) < 5:
        raise ProtocolError(f"short frame ({len(raw)} bytes): {raw.hex(' ')}")
    n = raw[1]
    if len(raw) != n + 5:
        raise ProtocolError(f"frame length {len(raw)} does not match n={n}: {raw.hex(' ')}")
    data = bytes(raw[4 : 4 + n])
    if checksum == "crc16":
        expected = crc16_xmodem(bytes([raw[0], n, raw[3]]) + data)
        got = raw[2] | (raw[-1] << 8)
        if got != expected:
            raise ProtocolError(f"bad CRC {got:04X} (expected {expected:04X}): {raw.hex(' ')}")
        return Frame(raw[0], None, raw[3], data)
    if sum(raw) & 0xFF:
        raise ProtocolError(f"bad checksum: {raw.hex(' ')}")
    return Frame(raw[0], raw[2], raw[3], data)


def check_reply(frame: Frame, request_header: int, device: int) -> None:
    """Raise ProtocolError unless `frame` can be the answer of `device` to `request_header`:
    addressed to the host, from the device (the simple checksum carries the source), with the
    data length that header's ACK has (NAK and BUSY carry none)."""
    if frame.dest != HOST:
        raise ProtocolError(f"reply addressed to {frame.dest}, not the host")
    if frame.src is not None and frame.src != device:
        raise ProtocolError(f"reply from address {frame.src}, expected {device}")
    if frame.header in (NAK, BUSY):
        if frame.data:
            raise ProtocolError(f"NAK/BUSY with {len(frame.data)} data bytes")
        return
    if frame.header != ACK:
        raise ProtocolError(f"reply header {frame.header} is not ACK/NAK/BUSY")
    lengths = REPLY_LENGTHS.get(request_header)
    if lengths is not None and len(frame.data) not in lengths:
        raise ProtocolError(
            f"reply of {len(frame.data)} bytes does not fit header {request_header}"
        )


class FrameAssembler:
    """Collects arbitrary byte chunks and yields whole frames.

    A frame with a bad checksum raises ProtocolError and the buffer is dropped: ccTalk is
    request/response, the host resynchronises by asking again."""

    def __init__(self, checksum: Checksum = "simple") -> None:
        self.checksum: Checksum = checksum
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def needed(self) -> int:
        """Bytes still missing from the frame being assembled (at least 1)."""
        if len(self._buf) < 2:
            return 2 - len(self._buf) + 3
        return max(1, self._buf[1] + 5 - len(self._buf))

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buf += chunk
        frames: list[Frame] = []
        while len(self._buf) >= 2 and len(self._buf) >= self._buf[1] + 5:
            size = self._buf[1] + 5
            raw = bytes(self._buf[:size])
            del self._buf[:size]
            try:
                frames.append(parse_frame(raw, self.checksum))
            except ProtocolError:
                self._buf.clear()
                raise
        return frames


# --- header 229: read buffered credit or error codes -------------------------------------------


@dataclass(frozen=True)
class CreditBuffer:
    counter: int
    results: tuple[tuple[int, int], ...]  # (A, B) pairs, newest first


def parse_credit_buffer(data: bytes) -> CreditBuffer:
    if len(data) != CREDIT_REPLY_LEN:
        raise ProtocolError(f"229 reply has {len(data)} bytes, expected {CREDIT_REPLY_LEN}")
    pairs = tuple((data[i], data[i + 1]) for i in range(1, CREDIT_REPLY_LEN, 2))
    return CreditBuffer(data[0], pairs)


class Move(StrEnum):
    """How the event counter moved since the last counter the host accounted for."""

    SAME = "same"  # nothing new
    FORWARD = "forward"  # 1..5 new events, all still in the buffer
    LOST = "lost"  # more than 5: the oldest fell out of the buffer
    RESET = "reset"  # back to 0: the device reset itself (every coin inhibited)
    BEHIND = "behind"  # behind the last counter: a line error or a device that cannot be trusted


# A counter more than this far ahead is read as behind: half the cycle, as serial-number
# arithmetic does. 122 coins between two reads is far beyond any acceptor (a few a second).
FORWARD_REACH = 127


@dataclass(frozen=True)
class CounterMove:
    move: Move
    steps: int = 0  # events ahead (FORWARD, LOST) or behind (BEHIND)

    @property
    def lost(self) -> int:
        return max(0, self.steps - BUFFER_DEPTH) if self.move is Move.LOST else 0

    @property
    def trusted_from_one_read(self) -> bool:
        """Whether one checksum-valid reply may be acted on (a CRC-checked one, moving 1..5)."""
        return self.move in (Move.SAME, Move.FORWARD)


def counter_move(last: int, counter: int) -> CounterMove:
    """The counter runs 1..255 and wraps to 1; 0 only after power-up or a reset."""
    if counter == last:
        return CounterMove(Move.SAME)
    if counter == 0:
        return CounterMove(Move.RESET)
    ahead = counter if last == 0 else (counter - last) % 255
    if ahead <= BUFFER_DEPTH:
        return CounterMove(Move.FORWARD, ahead)
    if last == 0 or ahead <= FORWARD_REACH:
        return CounterMove(Move.LOST, ahead)
    return CounterMove(Move.BEHIND, 255 - ahead)


def counter_minus(counter: int, k: int) -> int:
    """The counter `k` events before `counter` (wrapping 1 -> 255, never 0)."""
    return (counter - 1 - k) % 255 + 1


@dataclass(frozen=True)
class NewEvents:
    results: tuple[tuple[int, int, int], ...]  # (A, B, counter of the event), oldest first
    lost: int = 0  # events that fell out of the 5-deep buffer
    reset: bool = False  # the counter went back to 0: the device reset itself
    behind: int = 0  # the counter is this far behind the last one: nothing to act on


def new_events(last: int | None, buffer: CreditBuffer) -> NewEvents:
    """The host algorithm: what happened since the counter was `last` (None: baseline now)."""
    if last is None:
        return NewEvents(())
    step = counter_move(last, buffer.counter)
    if step.move is Move.RESET:
        return NewEvents((), reset=True)
    if step.move is Move.BEHIND:
        return NewEvents((), behind=step.steps)
    seen = min(step.steps, BUFFER_DEPTH)
    results = tuple(
        (*buffer.results[k], counter_minus(buffer.counter, k)) for k in reversed(range(seen))
    )
    return NewEvents(results, lost=step.lost)


# --- event codes -------------------------------------------------------------------------------


class EventKind(StrEnum):
    ACCEPTED = "accepted"  # a coin: A >= 1
    NONE = "none"  # A = 0, B = 0
    REJECTED = "rejected"
    SUSPICIOUS = "suspicious"
    UNKNOWN = "unknown"


REJECTED_CODES = frozenset(
    {1, 2, 3, 8, *range(9, 16), 22, 24, 25, 30, 32, 33, 37, 38, *range(128, 160)}
)
SUSPICIOUS_CODES = frozenset(
    {7, 16, 17, 18, 19, 20, 23, *range(26, 30), 31, 36, 39, 40, 254, 255}
)

EVENT_NAMES = {
    1: "reject coin",
    2: "inhibited coin",
    3: "multiple window",
    7: "sorter opto timeout",
    8: "second close coin error",
    13: "validation sensor not ready",
    14: "credit sensor blocked",
    16: "credit sequence error",
    17: "coin going backwards",
    18: "coin too fast",
    19: "coin too slow",
    20: "coin on string",
    23: "credit sensor reached too early",
    24: "reject coin (repeated sequential trip)",
    25: "reject slug",
    36: "swallowed coin",
    39: "coin incorrectly sorted",
    40: "external light attack",
    254: "coin return lever",
    255: "unspecified alarm",
}


def classify(a: int, b: int) -> EventKind:
    """Classify one (A, B) result of a 229 reply."""
    if a >= 1:
        return EventKind.ACCEPTED
    if b == 0:
        return EventKind.NONE
    if b in REJECTED_CODES:
        return EventKind.REJECTED
    if b in SUSPICIOUS_CODES:
        return EventKind.SUSPICIOUS
    return EventKind.UNKNOWN


def event_name(code: int) -> str:
    if 128 <= code <= 159:
        return f"inhibited coin {code - 127}"
    return EVENT_NAMES.get(code, f"event {code}")


# --- small field helpers -----------------------------------------------------------------------


def inhibit_mask(positions: list[int]) -> bytes:
    """231 data: 2 bytes LSB first, bit n-1 = coin n enabled."""
    mask = 0
    for pos in positions:
        if not 1 <= pos <= 16:
            raise ValueError(f"coin position {pos} is out of 1..16")
        mask |= 1 << (pos - 1)
    return bytes([mask & 0xFF, mask >> 8])


def parse_serial_number(data: bytes) -> int:
    if len(data) != 3:
        raise ProtocolError(f"serial number has {len(data)} bytes, expected 3")
    return int.from_bytes(data, "little")


def parse_ascii(data: bytes) -> str:
    return data.decode("ascii", errors="replace").strip()
