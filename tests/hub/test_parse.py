"""The hub reads feed rows as the relay writes them, and anything else carefully."""

from __future__ import annotations

import json

import pytest

from vendd.hub.feedrow import parse_row
from vendd.ledger.journal import canonical, chain_hash
from vendd.telemetry.relay import raw_payload

FIELDS = {"slot": "A2", "product": "Muñeca \"de\" trapo", "price": 800, "extra": {"b": 1}}


def test_the_relays_payload_keeps_the_text_the_hash_covers() -> None:
    text = canonical(FIELDS)
    digest = chain_hash("0" * 64, 7, "2026-01-05T14:10:00.000001+00:00", "sale", text)
    row = parse_row("quito-01", raw_payload(7, "2026-01-05T14:10:00.000001+00:00", "sale",
                                            "quito-01", text, digest))
    assert (row.seq, row.kind, row.fields, row.hash) == (7, "sale", text, digest)


def test_another_layout_is_read_and_its_fields_made_canonical() -> None:
    body = {"hash": "ab" * 32, "fields": {"price": 800, "slot": "A2"}, "kind": "sale",
            "ts": "2026-01-05T14:10:00+00:00", "seq": 3}
    row = parse_row("m", json.dumps(body, indent=1).encode())
    assert row.fields == '{"price":800,"slot":"A2"}' and row.seq == 3


@pytest.mark.parametrize("payload", [
    b"", b"[]", b"{not json", b'{"seq":0,"ts":"t","kind":"k","fields":{},"hash":"' + b"a" * 64
    + b'"}', b'{"seq":1,"ts":"t","kind":"k","fields":[],"hash":"' + b"a" * 64 + b'"}',
    b'{"seq":1,"ts":"t","kind":"k","fields":{},"hash":"xyz"}',
    b'{"seq":true,"ts":"t","kind":"k","fields":{},"hash":"' + b"a" * 64 + b'"}',
])
def test_what_is_not_a_row_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        parse_row("m", payload)
