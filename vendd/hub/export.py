"""A machine's verified rows as JSON lines (`vendd hub export`, and `/machines/<id>/journal.jsonl`
on the hub's HTTP side): one `{"seq", "ts", "kind", "fields", "hash"}` object a line, in
order, exactly the rows the hub verified. `vendd verify --against` reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator

from vendd.hub.store import Store

BATCH = 5000


def export_lines(store: Store, machine: str) -> Iterator[str]:
    m = store.machine(machine)
    if m is None:
        return
    after = 0
    while rows := store.rows(machine, after, BATCH, upto=m.head_seq):
        for seq, ts, kind, fields, hash_ in rows:
            # fields is already the canonical JSON text: written into the line as it is.
            yield (f'{{"seq":{seq},"ts":{json.dumps(ts)},"kind":{json.dumps(kind)},'
                   f'"fields":{fields},"hash":{json.dumps(hash_)}}}\n')
        after = rows[-1][0]
