"""The EVA-DTS (DEX/UCS) audit file, from the journal: what vending tools read.

Segments (EVA-DTS 6): DXS, ST, ID1, ID4, ID5, VA1-VA3, CA2, CA3, DA2 (card sales, an extra
segment readers tolerate), PA1 + PA2 per selection, EA1 per event since the reset and EA2 per
event code, G85, SE, DXE. Amounts are integers in minor units. Fields never contain `*` or a
line break, and text is written as ASCII (accents dropped: "Tituaña" -> "Tituana").

"Since reset" counters count the journal rows after the last `dex_reset` row's `through`
sequence number: an export with `--reset` journals one, naming the last row the file covered,
so a sale journaled while the file was being written is counted in the next file, never lost.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.ledger.db import one_snapshot
from vendd.ledger.journal import row_from_db
from vendd.ledger.reports import JournalStamp, journal_stamp

# ISO 4217 numeric codes (ID402) of the currencies the config accepts.
CURRENCY_NUMBERS = {"USD": "840", "EUR": "978", "GBP": "826", "MXN": "484", "COP": "170",
                    "PEN": "604", "CLP": "152", "ARS": "032", "BOB": "068", "BRL": "986",
                    "CAD": "124", "CHF": "756", "JPY": "392"}

_KINDS = ("sale", "test_vend", "credit", "vend_failed", "device_fault", "dex_reset")


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC: reflected polynomial 0xA001, initial value 0 (`123456789` -> 0xBB3D)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True)
class DexMachine:
    id: str
    name: str
    location: str
    currency: str
    decimals: int
    build: str  # vendd's version


@dataclass
class _Pair:
    """A counter kept since initialisation (the whole journal) and since the last reset."""

    init: int = 0
    reset: int = 0

    def add(self, value: int, since_reset: bool) -> None:
        self.init += value
        if since_reset:
            self.reset += value


@dataclass
class DexCounts:
    reset_through: int = 0  # rows after this seq count "since reset"
    paid_value: _Pair = field(default_factory=_Pair)
    paid_count: _Pair = field(default_factory=_Pair)
    test_count: _Pair = field(default_factory=_Pair)
    cash_value: _Pair = field(default_factory=_Pair)
    cash_count: _Pair = field(default_factory=_Pair)
    card_value: _Pair = field(default_factory=_Pair)
    card_count: _Pair = field(default_factory=_Pair)
    cash_in: dict[str, _Pair] = field(default_factory=dict)  # route -> amounts
    slot_count: dict[str, _Pair] = field(default_factory=dict)
    slot_value: dict[str, _Pair] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)  # since reset: (code, ts)
    event_counts: dict[str, _Pair] = field(default_factory=dict)


def _pair(table: dict[str, _Pair], key: str) -> _Pair:
    return table.setdefault(key, _Pair())


def count(db: sqlite_utils.Database, through: int) -> DexCounts:
    """Walk the journal rows 1..through once (kinds a DEX file reports)."""
    c = DexCounts()
    marks = ",".join("?" * len(_KINDS))
    # The last reset first: rows before it count since initialisation only.
    last = db.conn.execute(
        "SELECT fields FROM journal WHERE kind = 'dex_reset' AND seq <= ? "
        "ORDER BY seq DESC LIMIT 1", (through,)).fetchone()
    if last is not None:
        c.reset_through = int(json.loads(last[0])["through"])
    cur = db.conn.execute(
        f"SELECT seq, ts, kind, fields, hash FROM journal WHERE seq <= ? AND kind IN ({marks}) "
        f"ORDER BY seq", (through, *_KINDS))
    for raw in cur:
        row = row_from_db(*raw)
        f, recent = row.fields, row.seq > c.reset_through
        match row.kind:
            case "sale":
                c.paid_value.add(f["price"], recent)
                c.paid_count.add(1, recent)
                value, number = ((c.cash_value, c.cash_count) if f["payment"] == "cash"
                                 else (c.card_value, c.card_count))
                value.add(f["price"], recent)
                number.add(1, recent)
                _pair(c.slot_count, f["slot"]).add(1, recent)
                _pair(c.slot_value, f["slot"]).add(f["price"], recent)
            case "test_vend":
                c.test_count.add(1, recent)
            case "credit":
                _pair(c.cash_in, f.get("route", "cashbox")).add(f["amount"], recent)
            case "vend_failed":
                _event(c, f"VEND_{f['outcome']}", row.ts, recent)
            case "device_fault":
                _event(c, f"{f['device']}_{f['code']}", row.ts, recent)
    return c


def _event(c: DexCounts, code: str, ts: str, recent: bool) -> None:
    code = re.sub(r"[^A-Z0-9_]", "_", _ascii(code).upper())
    _pair(c.event_counts, code).add(1, recent)
    if recent:
        c.events.append((code, ts))


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    plain = re.sub(r"[*\r\n]", " ", plain)
    return plain.encode("ascii", "replace").decode("ascii")


@dataclass(frozen=True)
class DexFile:
    text: str
    stamp: JournalStamp  # rows 1..through, the chain head they end at
    counts: DexCounts


@one_snapshot
def write_dex(db: sqlite_utils.Database, machine: DexMachine, tz: ZoneInfo | str,
              now: datetime, transmission: int = 1) -> DexFile:
    """The DEX file of the whole journal as it stands (`now` only fills ID5)."""
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    stamp = journal_stamp(db)
    c = count(db, stamp.head_seq)
    local = now.astimezone(tz)
    body: list[list[object]] = [
        ["ST", "001", "0001"],
        ["ID1", machine.id, "VENDD", machine.build, machine.location, machine.name, machine.id],
        ["ID4", machine.decimals, CURRENCY_NUMBERS.get(machine.currency, ""), machine.currency],
        ["ID5", local.strftime("%Y%m%d"), local.strftime("%H%M")],
        ["VA1", c.paid_value.init, c.paid_count.init, c.paid_value.reset, c.paid_count.reset],
        ["VA2", 0, c.test_count.init, 0, c.test_count.reset],
        ["VA3", 0, 0, 0, 0],
        ["CA2", c.cash_value.init, c.cash_count.init, c.cash_value.reset, c.cash_count.reset],
        ["CA3", *_cash_in(c, "reset"), *_cash_in(c, "init")],
        ["DA2", c.card_value.init, c.card_count.init, c.card_value.reset, c.card_count.reset],
    ]
    for slot, price, product in db.conn.execute(
            "SELECT s.id, s.price, p.name FROM slots s JOIN products p ON p.id = s.product "
            "ORDER BY s.id"):
        n, v = _pair(c.slot_count, slot), _pair(c.slot_value, slot)
        body.append(["PA1", slot, price, product])
        body.append(["PA2", n.init, v.init, n.reset, v.reset])
    for code, ts in c.events:
        when = datetime.fromisoformat(ts).astimezone(tz)
        body.append(["EA1", code, when.strftime("%y%m%d"), when.strftime("%H%M")])
    for code in sorted(c.event_counts):
        body.append(["EA2", code, c.event_counts[code].reset, c.event_counts[code].init])
    segments = [_segment(fields) for fields in body]
    covered = "".join(segments)
    segments.append(_segment(["G85", f"{crc16_arc(covered.encode('ascii')):04X}"]))
    segments.append(_segment(["SE", len(segments) + 1, "0001"]))
    dxs = _segment(["DXS", machine.id.upper()[:10], "VA", "V0/6", transmission])
    text = dxs + "".join(segments) + _segment(["DXE", transmission, 1])
    return DexFile(text, stamp, c)


def _cash_in(c: DexCounts, which: str) -> list[int]:
    def total(*routes: str, others: bool = False) -> int:
        pairs = [p for r, p in c.cash_in.items()
                 if (r in routes) != others]  # others: every route not named
        return sum(p.init if which == "init" else p.reset for p in pairs)

    # Coins routed anywhere but the tubes or the bill stacker went to the cash box.
    box, tubes, bills = total("tubes", "stacker", others=True), total("tubes"), total("stacker")
    return [box + tubes + bills, box, tubes, bills]


def _segment(fields: list[object]) -> str:
    return "*".join(_ascii(str(x)) for x in fields) + "\r\n"
