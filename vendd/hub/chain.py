"""Walking a machine's rows along the journal's own hash chain (`vendd.ledger.journal`): the
hub verifies with the very function the machine writes with, never a copy of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vendd.ledger.journal import GENESIS, chain_hash

__all__ = ["GENESIS", "Walk", "holes", "walk"]

# (seq, ts, kind, fields as the canonical JSON text the hash covers, hash)
Row = tuple[int, str, str, str, str]


@dataclass(frozen=True)
class Walk:
    head_seq: int
    head_hash: str
    head_ts: str | None
    verified: int  # rows the head moved over
    broken: Row | None  # the row at head + 1 that does not chain from the head


def walk(head_seq: int, head_hash: str, rows: Sequence[Row]) -> Walk:
    """Advance the head over `rows` (seq > head, in order) while they are contiguous and each
    hash chains from the one before. Stops at the first hole or the first broken link."""
    seq, prev, ts, n = head_seq, head_hash, None, 0
    for row in rows:
        r_seq, r_ts, r_kind, r_fields, r_hash = row
        if r_seq != seq + 1:
            break
        if chain_hash(prev, r_seq, r_ts, r_kind, r_fields) != r_hash:
            return Walk(seq, prev, ts, n, row)
        seq, prev, ts, n = r_seq, r_hash, r_ts, n + 1
    return Walk(seq, prev, ts, n, None)


def holes(head_seq: int, held: Sequence[int]) -> list[tuple[int, int]]:
    """The missing ranges (first, last) between the head and the rows held above it."""
    out, expected = [], head_seq + 1
    for seq in held:
        if seq > expected:
            out.append((expected, seq - 1))
        expected = max(expected, seq + 1)
    return out
