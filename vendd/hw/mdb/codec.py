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


# --- coin changer (08) --------------------------------------------------------------------------

CHANGER_RESET, CHANGER_SETUP, CHANGER_TUBES, CHANGER_POLL = 0x08, 0x09, 0x0A, 0x0B
CHANGER_COIN_TYPE, CHANGER_DISPENSE, CHANGER_EXPANSION = 0x0C, 0x0D, 0x0F

CHANGER_STATUS = {
    0x01: "escrow_request", 0x02: "payout_busy", 0x03: "no_credit", 0x04: "tube_sensor",
    0x05: "double_arrival", 0x06: "acceptor_unplugged", 0x07: "tube_jam", 0x08: "rom_checksum",
    0x09: "routing_error", 0x0A: "busy", 0x0B: "just_reset", 0x0C: "coin_jam",
    0x0D: "credited_coin_removal",
}
ROUTES = {0: "cashbox", 1: "tubes", 2: "unused", 3: "rejected"}


@dataclass(frozen=True)
class ChangerSetup:
    level: int
    country: int
    scaling: int
    decimals: int
    routing: int  # bit n: coin type n can go to a tube
    credits: tuple[int, ...]  # coin type -> credit (value = credit x scaling); 0 = none


def parse_changer_setup(data: bytes) -> ChangerSetup:
    if not 7 <= len(data) <= 23:
        raise ProtocolError(f"changer SETUP has {len(data)} bytes, expected 7..23")
    return ChangerSetup(data[0], u16(data, 1), data[3], data[4], u16(data, 5), tuple(data[7:]))


@dataclass(frozen=True)
class TubeStatus:
    full: int  # bit n: tube n is full
    counts: tuple[int, ...]


def parse_tube_status(data: bytes) -> TubeStatus:
    if not 2 <= len(data) <= 18:
        raise ProtocolError(f"TUBE STATUS has {len(data)} bytes, expected 2..18")
    return TubeStatus(u16(data, 0), tuple(data[2:]))


@dataclass(frozen=True)
class CoinDeposited:
    coin_type: int
    route: str  # cashbox | tubes | unused | rejected
    in_tube: int


@dataclass(frozen=True)
class CoinsDispensedManually:
    coin_type: int
    count: int
    in_tube: int


@dataclass(frozen=True)
class Slugs:
    count: int


@dataclass(frozen=True)
class Status:
    code: int
    name: str


ChangerItem = CoinDeposited | CoinsDispensedManually | Slugs | Status


def parse_changer_poll(data: bytes) -> list[ChangerItem]:
    """A changer's POLL answer (an ACK means nothing to report)."""
    items: list[ChangerItem] = []
    i = 0
    while i < len(data):
        b = data[i]
        if b & 0x80 or b & 0xC0 == 0x40:
            if i + 1 >= len(data):
                raise ProtocolError(f"coin activity {b:02X} without its tube count")
            if b & 0x80:
                items.append(CoinsDispensedManually(b & 0x0F, (b >> 4) & 0x07, data[i + 1]))
            else:
                items.append(CoinDeposited(b & 0x0F, ROUTES[(b >> 4) & 0x03], data[i + 1]))
            i += 2
            continue
        if b & 0xE0 == 0x20:
            items.append(Slugs(b & 0x1F))
        else:
            items.append(Status(b, CHANGER_STATUS.get(b, f"status_{b:02x}")))
        i += 1
    return items


def dispense_byte(coin_type: int, count: int) -> bytes:
    if not 0 <= coin_type <= 15 or not 1 <= count <= 15:
        raise ValueError(f"cannot dispense {count} of type {coin_type}")
    return bytes([(count << 4) | coin_type])


def _change_table(amount: int, values: dict[int, int],
                  counts: dict[int, int]) -> dict[int, tuple[int, dict[int, int]]]:
    """Bounded change-making by dynamic programming (exact for any coin set, not only
    canonical ones): every amount <= `amount` the tubes can pay exactly -> (coins, plan)."""
    best: dict[int, tuple[int, dict[int, int]]] = {0: (0, {})}
    for t, value in sorted(values.items()):
        if value <= 0 or counts.get(t, 0) <= 0:
            continue
        nxt = dict(best)
        for paid, (n, plan) in best.items():
            for k in range(1, counts[t] + 1):
                v = paid + k * value
                if v > amount:
                    break
                if v not in nxt or nxt[v][0] > n + k:
                    nxt[v] = (n + k, {**plan, t: k})
        best = nxt
    return best


def fewest_coins(amount: int, values: dict[int, int], counts: dict[int, int]) -> dict[int, int]:
    """Coins (type -> count) that pay as much of `amount` as the tubes can without going over,
    with the fewest coins among the plans paying that much."""
    if amount <= 0:
        return {}
    best = _change_table(amount, values, counts)
    return best[max(best)][1]


def payable(limit: int, values: dict[int, int], counts: dict[int, int]) -> frozenset[int]:
    """Every amount up to `limit` the tubes can pay exactly."""
    return frozenset(_change_table(max(limit, 0), values, counts))


# --- bill validator (30) ----------------------------------------------------------------------

BILL_RESET, BILL_SETUP, BILL_SECURITY, BILL_POLL = 0x30, 0x31, 0x32, 0x33
BILL_TYPE, BILL_ESCROW, BILL_STACKER = 0x34, 0x35, 0x36

BILL_STATUS = {
    0x01: "motor", 0x02: "sensor", 0x03: "busy", 0x04: "rom_checksum", 0x05: "jam",
    0x06: "just_reset", 0x07: "bill_removed", 0x08: "cash_box_out", 0x09: "disabled",
    0x0A: "invalid_escrow", 0x0B: "rejected", 0x0C: "credited_bill_removal",
}
BILL_ROUTES = {0: "stacked", 1: "escrow", 2: "returned", 3: "recycler", 4: "disabled_rejected",
               5: "recycler_manual", 6: "manual_dispense", 7: "recycler_to_cashbox"}


@dataclass(frozen=True)
class BillSetup:
    level: int
    country: int
    scaling: int
    decimals: int
    stacker_capacity: int
    security: int
    escrow: bool
    credits: tuple[int, ...]


def parse_bill_setup(data: bytes) -> BillSetup:
    if not 11 <= len(data) <= 27:
        raise ProtocolError(f"bill SETUP has {len(data)} bytes, expected 11..27")
    return BillSetup(data[0], u16(data, 1), u16(data, 3), data[5], u16(data, 6), u16(data, 8),
                     data[10] == 0xFF, tuple(data[11:]))


@dataclass(frozen=True)
class Stacker:
    full: bool
    count: int


def parse_stacker(data: bytes) -> Stacker:
    if len(data) != 2:
        raise ProtocolError(f"STACKER has {len(data)} bytes, expected 2")
    word = u16(data, 0)
    return Stacker(bool(word & 0x8000), word & 0x7FFF)


@dataclass(frozen=True)
class BillRouted:
    bill_type: int
    route: str


@dataclass(frozen=True)
class DisabledAttempts:
    count: int


BillItem = BillRouted | DisabledAttempts | Status


def parse_bill_poll(data: bytes) -> list[BillItem]:
    items: list[BillItem] = []
    for b in data:
        if b & 0x80:
            items.append(BillRouted(b & 0x0F, BILL_ROUTES[(b >> 4) & 0x07]))
        elif b & 0xE0 == 0x40:
            items.append(DisabledAttempts(b & 0x1F))
        else:
            items.append(Status(b, BILL_STATUS.get(b, f"status_{b:02x}")))
    return items


# --- cashless reader (10 / 60) ----------------------------------------------------------------

CASHLESS_RESET, CASHLESS_SETUP, CASHLESS_POLL, CASHLESS_VEND = 0, 1, 2, 3
CASHLESS_READER, CASHLESS_EXPANSION = 4, 7
VEND_REQUEST, VEND_CANCEL, VEND_SUCCESS, VEND_FAILURE, SESSION_COMPLETE, CASH_SALE = range(6)
READER_DISABLE, READER_ENABLE, READER_CANCEL = 0, 1, 2
NO_FUNDS_INFO = 0xFFFF


@dataclass(frozen=True)
class ReaderConfig:
    level: int
    country: int
    scale: int
    decimals: int
    max_response_s: int
    options: int


@dataclass(frozen=True)
class CashlessEvent:
    """One item of a reader's POLL answer. `amount` for begin session (funds) and vend
    approved; `code` for a malfunction."""

    kind: str
    amount: int | None = None
    code: int = 0
    config: ReaderConfig | None = None


CASHLESS_KINDS = {0x00: "just_reset", 0x01: "reader_config", 0x02: "display_request",
                  0x03: "begin_session", 0x04: "session_cancel_request",
                  0x05: "vend_approved", 0x06: "vend_denied", 0x07: "end_session",
                  0x08: "cancelled", 0x09: "peripheral_id", 0x0A: "malfunction",
                  0x0B: "out_of_sequence"}


def _cashless_length(code: int, level: int) -> int:
    lengths = {0x00: 1, 0x01: 8, 0x02: 34, 0x03: 3, 0x04: 1, 0x05: 3, 0x06: 1, 0x07: 1,
               0x08: 1, 0x09: 30, 0x0A: 2, 0x0B: 1 if level < 2 else 2}
    if code not in lengths:
        raise ProtocolError(f"unknown reader answer {code:02X}")
    return lengths[code]


def parse_cashless_poll(data: bytes, level: int = 1) -> list[CashlessEvent]:
    """A reader's answer to POLL (or to any command: readers may answer with poll data)."""
    items: list[CashlessEvent] = []
    i = 0
    while i < len(data):
        code = data[i]
        size = _cashless_length(code, level)
        if i + size > len(data):
            raise ProtocolError(f"reader answer {code:02X} is cut short: {data[i:].hex(' ')}")
        part = data[i:i + size]
        kind = CASHLESS_KINDS[code]
        if code == 0x01:
            cfg = ReaderConfig(part[1], u16(part, 2), part[4], part[5], part[6], part[7])
            items.append(CashlessEvent(kind, config=cfg))
        elif code in (0x03, 0x05):
            items.append(CashlessEvent(kind, amount=u16(part, 1)))
        elif code == 0x0A:
            items.append(CashlessEvent(kind, code=part[1]))
        else:
            items.append(CashlessEvent(kind))
        i += size
    return items


def reader_config_answer(cfg: ReaderConfig) -> bytes:
    return bytes([0x01, cfg.level]) + be16(cfg.country) + bytes(
        [cfg.scale, cfg.decimals, cfg.max_response_s, cfg.options])
