"""The EVA-DTS audit file of a known ledger against a hand-checked expected file, with its
G85 CRC and SE count checked by code independent of the writer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from accounts_data import TZ, known_ledger
from support import ROOT

from vendd.commands import Fact
from vendd.ledger import Ledger
from vendd.ledger.dex import DexMachine, write_dex
from vendd.ledger.ledger import open_readonly

EXPECTED = ROOT / "tests" / "data" / "known.dex"
MACHINE = DexMachine("quito-01", "Costureras del MAAC", "Museo, planta baja, Quito", "USD", 2,
                     "0.1.0")
READ_AT = datetime(2026, 1, 8, 14, 30, tzinfo=UTC)  # 09:30 in Quito


def crc_arc_bitwise(data: bytes) -> int:
    """CRC-16/ARC written from its definition: reflected input and output, polynomial 0x8005
    (so 0xA001 reflected), init 0, no final xor."""
    crc = 0
    for byte in data:
        for bit in range(8):  # least significant bit first (reflected input)
            incoming = (byte >> bit) & 1
            top = crc & 1
            crc >>= 1
            if top ^ incoming:
                crc ^= 0xA001
    return crc


def test_independent_crc_matches_the_published_check_value() -> None:
    assert crc_arc_bitwise(b"123456789") == 0xBB3D


def _dex(tmp_path: Path) -> str:
    db = open_readonly(known_ledger(tmp_path / "known.db"))
    try:
        return write_dex(db, MACHINE, TZ, READ_AT).text
    finally:
        db.close()


def test_known_ledger_matches_the_hand_checked_file(tmp_path: Path) -> None:
    text = _dex(tmp_path)
    assert text.encode("ascii") == EXPECTED.read_bytes()


def test_g85_and_se_verified_independently(tmp_path: Path) -> None:
    raw = EXPECTED.read_bytes()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    segments = raw.split(b"\r\n")[:-1]
    names = [s.split(b"*")[0] for s in segments]
    assert names[0] == b"DXS" and names[1] == b"ST" and names[-1] == b"DXE"
    st, g85, se = names.index(b"ST"), names.index(b"G85"), names.index(b"SE")
    # G85: every byte from ST up to and including the CR LF before G85.
    covered = b"".join(s + b"\r\n" for s in segments[st:g85])
    assert segments[g85] == b"G85*" + f"{crc_arc_bitwise(covered):04X}".encode()
    # SE01: segments from ST to SE inclusive; SE02 = ST02.
    fields = segments[se].split(b"*")
    assert int(fields[1]) == se - st + 1
    assert fields[2] == segments[st].split(b"*")[2] == b"0001"
    assert segments[-1] == b"DXE*1*1"
    # The writer's own output for the same ledger holds the same check values.
    assert _dex(tmp_path).encode("ascii") == raw


def test_counters_since_reset_restart_at_a_journaled_reset(tmp_path: Path) -> None:
    path = known_ledger(tmp_path / "known.db")
    ledger = Ledger(path, TZ)
    ledger.append([Fact("dex_reset", {"through": ledger.head[0], "file": "y", "by": "t"})])
    ledger.close()
    db = open_readonly(path)
    try:
        dex = write_dex(db, MACHINE, TZ, READ_AT)
    finally:
        db.close()
    lines = dex.text.split("\r\n")
    assert "VA1*2575*6*0*0" in lines  # since init unchanged, since reset zero
    assert "PA2*3*1050*0*0" in lines
    assert not [ln for ln in lines if ln.startswith("EA1")]
