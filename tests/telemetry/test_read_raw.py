"""The relay reads journal batches as one joined value: any text a fact can hold survives it."""

from __future__ import annotations

import json
from pathlib import Path

from vendd.commands import Fact
from vendd.ledger import Ledger, read_rows
from vendd.ledger.db import connect
from vendd.telemetry.relay import payload_of, raw_payload, read_raw

AWKWARD = ['Muñeca "de trapo"', "línea\nnueva", "sep\x1e\x1fchars", "back\\slash", "¿¡€!?"]


def test_read_raw_keeps_every_row_exact_and_in_order(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "vendd.db", "America/Guayaquil")
    ledger.append([Fact("note", {"text": f"{text} {i}"}) for i, text in enumerate(AWKWARD * 30)])
    ledger.close()
    db = connect(tmp_path / "vendd.db", readonly=True)
    expected = read_rows(db, 0, 1000)
    raw = read_raw(db, 20, 50) + read_raw(db, 70, 1000)
    assert [r[0] for r in raw] == [r.seq for r in expected[20:]]
    for (seq, ts, kind, fields, hash_), row in zip(raw, expected[20:], strict=True):
        payload = raw_payload(seq, ts, kind, "quito-01", fields, hash_)
        assert payload == payload_of(row, "quito-01")
        assert json.loads(payload)["fields"] == row.fields
    assert read_raw(db, len(expected), 10) == []
    db.close()
