"""`vendd verify --against FILE|URL`: this ledger's journal beside the copy the hub verified
(its JSON-lines export, from a file or the hub's `/machines/<id>/journal.jsonl`), naming the
first row where they differ. The hub is the journal's witness: a rewritten or truncated
ledger no longer matches what the hub received when the rows were new."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from vendd.errors import VenddError
from vendd.ledger.db import one_snapshot
from vendd.ledger.ledger import iter_rows


@dataclass
class Comparison:
    local_rows: int = 0
    hub_rows: int = 0
    difference: str | None = None  # the first row where the two differ
    ahead: str | None = None  # rows the hub has not verified yet (not a difference)

    @property
    def ok(self) -> bool:
        return self.difference is None


def export_url(source: str, machine: str) -> str:
    if source.endswith(".jsonl"):
        return source
    return f"{source.rstrip('/')}/machines/{machine}/journal.jsonl"


def hub_lines(source: str, machine: str) -> Iterator[str]:
    """The hub's rows of `machine`, one JSON text a line, from a file or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        url = export_url(source, machine)
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                for raw in resp:
                    yield raw.decode("utf-8")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise VenddError(f"--against {url}: cannot read the hub's copy: {reason}") from exc
        return
    path = Path(source)
    try:
        with path.open(encoding="utf-8") as f:
            yield from f
    except OSError as exc:
        raise VenddError(f"--against {path}: cannot read: {exc.strerror or exc}") from exc


@one_snapshot
def compare(db: sqlite_utils.Database, lines: Iterator[str], source: str) -> Comparison:
    result = Comparison()
    local = iter_rows(db)
    last_local = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            h = json.loads(line)
            seq, ts, kind, hash_ = int(h["seq"]), str(h["ts"]), str(h["kind"]), str(h["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise VenddError(f"--against {source}: line {number} is not a journal row "
                             f"({exc})") from exc
        result.hub_rows += 1
        mine = next(local, None)
        if mine is None:
            result.difference = (f"row {seq} ({kind}, {ts}) and the rows after it are at the "
                                 f"hub but not here: this ledger ends at row {last_local} "
                                 f"(truncated?)")
            return result
        result.local_rows += 1
        last_local = mine.seq
        if mine.seq != seq:
            first = min(mine.seq, seq)
            result.difference = (f"row {first} is missing "
                                 f"{'here' if mine.seq > seq else 'at the hub'} "
                                 f"(deleted?)")
            return result
        if mine.hash != hash_:
            changed = sorted(k for k in set(mine.fields) | set(h.get("fields", {}))
                             if mine.fields.get(k) != h.get("fields", {}).get(k))
            what = (f"fields {', '.join(changed)} differ" if changed
                    else "same fields, other hash (an earlier row changed the chain)")
            if (mine.kind, mine.ts) != (kind, ts):
                what = f"here {mine.kind} at {mine.ts}, at the hub {kind} at {ts}"
            result.difference = (f"row {seq} differs: {what}; hash here {mine.hash[:16]}, "
                                 f"at the hub {hash_[:16]}")
            return result
    rest = [r.seq for r in local]
    result.local_rows += len(rest)
    if rest:
        result.ahead = f"rows {rest[0]}..{rest[-1]} are not at the hub yet"
    return result
