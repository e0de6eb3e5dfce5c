"""What MDB devices' commands and answers carry, per device (coin changer, bill validator,
cashless reader): command bytes, status codes, and parsers for the answers' data. Pure, no I/O;
the wire (framing, checksum, numbers) is in `codec`."""

from __future__ import annotations

from dataclasses import dataclass

from vendd.errors import ProtocolError
from vendd.hw.mdb.codec import be16, u16

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
