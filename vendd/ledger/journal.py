"""The journal: append-only rows with a gap-free `seq`, a UTC time and a SHA-256 chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vendd.errors import LedgerIntegrityError

GENESIS = "0" * 64


@dataclass(frozen=True)
class JournalRow:
    seq: int
    ts: str
    kind: str
    fields: dict[str, Any]
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, **self.fields,
                "hash": self.hash}


def canonical(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev: str, seq: int, ts: str, kind: str, fields_json: str) -> str:
    """Each row's hash covers the previous row's: editing, deleting or reordering any row
    changes every hash after it."""
    material = f"{prev}|{seq}|{ts}|{kind}|{fields_json}".encode()
    return hashlib.sha256(material).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def row_from_db(seq: int, ts: str, kind: str, fields: str, hash_: str) -> JournalRow:
    try:
        parsed = json.loads(fields)
    except (TypeError, ValueError) as exc:
        raise LedgerIntegrityError(
            f"journal row {seq} ({kind}): its fields are not readable JSON ({exc})") from exc
    if not isinstance(parsed, dict):
        raise LedgerIntegrityError(
            f"journal row {seq} ({kind}): its fields are not a JSON object")
    return JournalRow(seq, ts, kind, parsed, hash_)
