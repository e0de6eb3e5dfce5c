"""A journal row off the feed: the relay's payload (telemetry.relay.raw_payload) read back
into what the hub's store takes."""

from __future__ import annotations

import json
import re

from vendd.hub.records import RowIn
from vendd.ledger.journal import canonical

_HASH = re.compile(r"^[0-9a-f]{64}$")

# The relay's own layout (telemetry.relay.raw_payload): read without decoding the fields,
# whose text is what the hash covers and what the store keeps.
_LAYOUT = re.compile(
    rb'^\{"seq":([1-9][0-9]{0,17}),"ts":"([0-9T:.+-]{10,40})","kind":"([a-z_]{1,40})",'
    rb'"machine":"[^"\\]*","fields":(\{.*\}),"hash":"([0-9a-f]{64})"\}$', re.S)


def parse_row(machine: str, payload: bytes) -> RowIn:
    """A feed row; ValueError when it is not one (the relay's payload, see telemetry.relay)."""
    fast = _LAYOUT.match(payload)
    if fast is not None:
        seq, ts, kind, fields, hash_ = fast.groups()
        return RowIn(machine, int(seq), ts.decode(), kind.decode(), fields.decode("utf-8"),
                     hash_.decode())
    body = json.loads(payload)
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    seq, ts, kind, fields, hash_ = (body.get(k) for k in ("seq", "ts", "kind", "fields", "hash"))
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1):
        raise ValueError(f"bad seq {seq!r}")
    if not (isinstance(ts, str) and isinstance(kind, str) and isinstance(fields, dict)):
        raise ValueError("ts, kind and fields are missing or of the wrong type")
    if not (isinstance(hash_, str) and _HASH.match(hash_)):
        raise ValueError("bad hash")
    # Laid out otherwise: the fields in the canonical text the machine hashed.
    return RowIn(machine, seq, ts, kind, canonical(fields), hash_)
