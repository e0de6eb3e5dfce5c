"""MDB wire codec: pure functions and classes, no I/O.

A byte on the bus has a 9th (mode) bit. Here a bus word is `(byte, mode)`.
- Controller -> device: mode set on the address byte only; then data, then the checksum (sum of
  every byte including the address, mod 256). The controller answers a device's data with a
  lone ACK 00 / RET AA / NAK FF (mode clear).
- Device -> controller: a lone ACK 00 or NAK FF with the mode bit, or data bytes and the
  checksum with the mode bit set on the checksum.
- The mode bit travels as `FF 00 b` and a literal FF as `FF FF`: what termios PARMRK gives on
  the Pi's UART (space parity, so a mark-parity byte is a "parity error"), and how the
  simulator's pty link frames both directions. A break reads `FF 00 00`: a "mode byte 00",
  which no device address uses, so it means bus reset.

What each device's commands and answers carry is in `payloads`; change-making in `change`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vendd.errors import ProtocolError

ACK = 0x00
RET = 0xAA
NAK = 0xFF

CHANGER = 0x08
CASHLESS = 0x10
BILL_VALIDATOR = 0x30
CASHLESS_2 = 0x60
MAX_ANSWER = 36  # the longest answer vendd knows (a poll with several items) is below this

Word = tuple[int, bool]  # (byte, mode bit)


class ChecksumError(ProtocolError):
    """A device's answer arrived whole but its checksum is wrong: answer RET, then NAK."""


def checksum(data: bytes | Iterable[int]) -> int:
    return sum(data) & 0xFF


# --- controller -> device --------------------------------------------------------------------


def command_words(address_byte: int, data: bytes = b"") -> list[Word]:
    """A controller command: the address byte with the mode bit, data, checksum."""
    if not 0 <= address_byte <= 0xFF:
        raise ValueError(f"address byte {address_byte} is not a byte")
    body = bytes([address_byte]) + data
    return [(address_byte, True), *((b, False) for b in data), (checksum(body), False)]


def answer_words(data: bytes) -> list[Word]:
    """A device answer: data + checksum (mode bit on the checksum); no data: a lone ACK."""
    if not data:
        return [(ACK, True)]
    return [*((b, False) for b in data), (checksum(data), True)]


NAK_WORDS: list[Word] = [(NAK, True)]


def escape(words: Iterable[Word]) -> bytes:
    """Words -> the in-band stream: mode byte b as `FF 00 b`, a literal FF as `FF FF`."""
    out = bytearray()
    for byte, mode in words:
        if mode:
            out += bytes([0xFF, 0x00, byte])
        elif byte == 0xFF:
            out += b"\xff\xff"
        else:
            out.append(byte)
    return bytes(out)


BREAK = escape([(0x00, True)])  # PARMRK reads a break as FF 00 00


class WordParser:
    """The shared receive parser (UART with PARMRK, and the simulator's pty): bytes -> words.

    Keeps a partial escape across chunks. `FF` followed by anything but `00`/`FF` is a
    protocol error; the parser resynchronises on the byte after it."""

    def __init__(self) -> None:
        self._state = 0  # 0 plain, 1 after FF, 2 after FF 00
        self.errors = 0

    def reset(self) -> None:
        self._state = 0

    @property
    def pending(self) -> bool:
        return self._state != 0

    def feed(self, chunk: bytes) -> list[Word]:
        """Raise ProtocolError (after parsing what it could) for a bad escape; the words
        already decoded are in the exception's `words` attribute."""
        words: list[Word] = []
        bad: list[str] = []
        for b in chunk:
            if self._state == 0:
                if b == 0xFF:
                    self._state = 1
                else:
                    words.append((b, False))
            elif self._state == 1:
                if b == 0xFF:
                    words.append((0xFF, False))
                    self._state = 0
                elif b == 0x00:
                    self._state = 2
                else:
                    self.errors += 1
                    bad.append(f"FF {b:02X}")
                    self._state = 0
            else:
                words.append((b, True))
                self._state = 0
        if bad:
            exc = EscapeError(f"bad escape {', '.join(bad)}")
            exc.words = words
            raise exc
        return words


class EscapeError(ProtocolError):
    words: list[Word]


# --- device answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a device said: `ack`, `nak`, or `data` (checksum already checked and removed)."""

    kind: str  # "ack" | "nak" | "data"
    data: bytes = b""


ANSWER_ACK = Answer("ack")
ANSWER_NAK = Answer("nak")


def parse_answer(words: list[Word]) -> Answer:
    """One device answer: words up to and including the first with the mode bit."""
    if not words:
        raise ProtocolError("empty answer")
    if not words[-1][1] or any(mode for _, mode in words[:-1]):
        raise ProtocolError("the mode bit is not on the last byte only")
    if len(words) == 1:
        byte = words[0][0]
        if byte == ACK:
            return ANSWER_ACK
        if byte == NAK:
            return ANSWER_NAK
        raise ProtocolError(f"lone byte {byte:02X} is neither ACK nor NAK")
    data = bytes(b for b, _ in words[:-1])
    if checksum(data) != words[-1][0]:
        raise ChecksumError(f"bad checksum {words[-1][0]:02X} for {data.hex(' ')}")
    return Answer("data", data)


class AnswerAssembler:
    """Words -> whole answers (an answer ends at the word with the mode bit)."""

    def __init__(self, limit: int = MAX_ANSWER) -> None:
        self.limit = limit
        self._words: list[Word] = []

    @property
    def pending(self) -> int:
        return len(self._words)

    def reset(self) -> None:
        self._words.clear()

    def feed(self, words: Iterable[Word]) -> list[list[Word]]:
        out: list[list[Word]] = []
        for word in words:
            self._words.append(word)
            if word[1]:
                out.append(self._words)
                self._words = []
            elif len(self._words) > self.limit:
                self._words = []
                raise ProtocolError(f"answer longer than {self.limit} bytes without an end")
        return out


# --- device -> controller: what the simulator parses --------------------------------------------

# Data bytes after the address byte (without the checksum), per address byte; a dict maps the
# first data byte (the subcommand) to the total data length.
COMMAND_LENGTHS: dict[int, int | dict[int, int]] = {
    CHANGER | 0: 0, CHANGER | 1: 0, CHANGER | 2: 0, CHANGER | 3: 0, CHANGER | 4: 4,
    CHANGER | 5: 1, CHANGER | 7: {0: 1, 1: 5, 2: 2, 3: 1, 4: 1, 5: 1},
    CASHLESS | 0: 0, CASHLESS | 1: {0: 5, 1: 5}, CASHLESS | 2: 0,
    CASHLESS | 3: {0: 5, 1: 1, 2: 3, 3: 1, 4: 1, 5: 5}, CASHLESS | 4: {0: 1, 1: 1, 2: 1},
    CASHLESS | 7: {0: 30},
    BILL_VALIDATOR | 0: 0, BILL_VALIDATOR | 1: 0, BILL_VALIDATOR | 2: 2, BILL_VALIDATOR | 3: 0,
    BILL_VALIDATOR | 4: 4, BILL_VALIDATOR | 5: 1, BILL_VALIDATOR | 6: 0,
    BILL_VALIDATOR | 7: {0: 1},
}


def command_length(address_byte: int, first: int | None) -> int | None:
    """Data length of a command; None when unknown (or when the subcommand is needed and
    `first` is None: the caller asks again once it has the first data byte)."""
    entry = COMMAND_LENGTHS.get(address_byte)
    if isinstance(entry, dict):
        return None if first is None else entry.get(first)
    return entry


# --- numbers and values -----------------------------------------------------------------------


def u16(data: bytes, at: int) -> int:
    if at + 2 > len(data):
        raise ProtocolError(f"need 2 bytes at {at}, have {len(data) - at}")
    return int.from_bytes(data[at:at + 2], "big")


def be16(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{value} does not fit in 16 bits")
    return value.to_bytes(2, "big")


def to_cents(units: int, scale: int, decimals: int, machine_decimals: int) -> int:
    """Device units (value = units x scale x 10^-decimals) -> machine minor units."""
    shift = machine_decimals - decimals
    if shift >= 0:
        return units * scale * 10**shift
    value, rest = divmod(units * scale, 10**-shift)
    if rest:
        raise ProtocolError(f"{units} x {scale} does not fit {machine_decimals} decimals")
    return value


def from_cents(cents: int, scale: int, decimals: int, machine_decimals: int) -> int:
    """Machine minor units -> device units (exact, else ProtocolError)."""
    shift = decimals - machine_decimals
    scaled = cents * 10**shift if shift >= 0 else None
    if scaled is None:
        scaled, rest = divmod(cents, 10**-shift)
        if rest:
            raise ProtocolError(f"{cents} is not a whole number of device units")
    units, rest = divmod(scaled, scale or 1)
    if rest or scale == 0:
        raise ProtocolError(f"{cents} is not a multiple of the scale {scale}")
    return units


def type_mask(types: Iterable[int]) -> bytes:
    """Bit n = coin/bill type n, 2 bytes big-endian."""
    mask = 0
    for t in types:
        if not 0 <= t <= 15:
            raise ValueError(f"type {t} is out of 0..15")
        mask |= 1 << t
    return be16(mask)
