"""The hub is the journal's witness. One machine's ledger is rewritten (a row edited and every
hash after it recomputed, so `vendd verify` alone says OK); another's is put back to an older
copy (truncated). Both raise integrity alarms kept with both versions, the hub keeps what it
verified, and `vendd verify --against` the hub names the first difference."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from feed_helpers import Broker
from hub_helpers import HubProc, SimMachine, hub_toml, vendd, wait_replicated
from support import wait_for

from vendd.hub.store import Store
from vendd.ledger.journal import chain_hash


def rewrite(ledger: Path) -> int:
    """Edit who did something at one row, recompute the chain after it, and make the daemon
    publish everything again. Returns the edited seq."""
    conn = sqlite3.connect(ledger)
    conn.execute("DROP TRIGGER journal_append_only_update")
    rows = conn.execute("SELECT seq, ts, kind, fields, hash FROM journal ORDER BY seq").fetchall()
    target = next(r[0] for r in rows if r[0] > 1 and '"by":' in r[3])
    prev = rows[target - 2][4]
    for seq, ts, kind, fields, _ in rows[target - 1:]:
        if seq == target:
            body = json.loads(fields)
            body["by"] = "intrusa"
            fields = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = chain_hash(prev, seq, ts, kind, fields)
        conn.execute("UPDATE journal SET fields = ?, hash = ? WHERE seq = ?",
                     (fields, digest, seq))
        prev = digest
    conn.execute("UPDATE relay SET acked_seq = 0")
    conn.commit()
    conn.close()
    return target


def snapshot(ledger: Path, to: Path) -> int:
    src, dst = sqlite3.connect(ledger), sqlite3.connect(to)
    src.backup(dst)
    (head,) = dst.execute("SELECT MAX(seq) FROM journal").fetchone()
    src.close()
    dst.close()
    return int(head)


def test_rewritten_and_truncated_ledgers_raise_alarms_and_the_hub_keeps_its_copy(
        tmp_path: Path, broker: Broker, store_url: str) -> None:
    a = SimMachine(tmp_path / "a", "museo-a", broker.port)
    b = SimMachine(tmp_path / "b", "museo-b", broker.port)
    config = hub_toml(tmp_path / "hub", broker.port, store_url)
    hub = HubProc(config, command="run")
    hub.start()
    store = Store(store_url)
    try:
        a.start(seed=31)
        b.start(seed=32)
        wait_for(lambda: b.head() > 50, 60, "rows on b")
        old_b = snapshot(b.ledger, tmp_path / "b-old.db")
        wait_for(lambda: b.head() > old_b + 20 and a.head() > 50, 60, "more rows")
        a.stop()
        b.stop()
        wait_replicated(store, [a, b])
        held_a, held_b = a.rows(), b.rows()
        edited = rewrite(a.ledger)
        (tmp_path / "b-old.db").replace(b.ledger)
        for suffix in ("-wal", "-shm"):
            Path(f"{b.ledger}{suffix}").unlink(missing_ok=True)
        assert vendd("verify", "--config", str(a.config)).returncode == 0  # fooled alone
        a.start(seed=None)
        b.start(seed=None)

        def alarms(machine: str) -> set[str]:
            return {x.alarm for x in store.alarms(machine)}

        wait_for(lambda: "hash_mismatch" in alarms(a.id), 60, "the alarm for the rewrite")
        wait_for(lambda: {"hash_mismatch", "head_backwards"} <= alarms(b.id), 60,
                 "the alarms for the truncation")
        mismatch = next(x for x in store.alarms(a.id) if x.alarm == "hash_mismatch")
        assert mismatch.seq == edited and '"by":"intrusa"' in (mismatch.fields or "")
        assert mismatch.held_hash == held_a[edited - 1][4]  # both versions kept
        # What the hub verified stays as it was, row for row.
        assert store.rows(a.id, 0, len(held_a)) == held_a
        assert store.rows(b.id, 0, len(held_b)) == held_b
        assert store.machine(a.id).head_seq == len(held_a)
        assert store.machine(b.id).head_seq == len(held_b)
        status = vendd("hub", "status", "--config", str(config))
        assert "INTEGRITY ALARMS" in status.stdout and f"{a.id} row {edited}" in status.stdout
        # On the machine: the chain alone is fine, beside the hub's copy it is not.
        got = vendd("verify", "--config", str(a.config), "--against", str(hub.address))
        assert got.returncode == 1
        assert f"row {edited} differs: fields by differ" in got.stdout
        exported = tmp_path / "b.jsonl"
        assert vendd("hub", "export", "--config", str(config), "--machine", b.id,
                     "--out", str(exported)).returncode == 0
        got = vendd("verify", "--config", str(b.config), "--against", str(exported))
        assert got.returncode == 1 and f"row {old_b + 1} differs" in got.stdout
    finally:
        a.stop()
        b.stop()
        hub.stop()
        store.close()
