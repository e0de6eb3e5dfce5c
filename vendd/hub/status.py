"""`vendd hub status`: each machine (online, last seen, verified head, the head the machine
reports, open gaps, integrity), then the open gaps and every integrity alarm."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from vendd.hub.store import Alarm, Gap, Machine, Store
from vendd.ledger.reports import table


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def integrity(m: Machine) -> str:
    return "ALARM" if m.alarm_count else "ok"


def status_data(store: Store) -> dict[str, Any]:
    machines, gaps, alarms = store.machines(), store.gaps(), store.alarms()
    return {
        "machines": [{
            "id": m.id, "status": m.status or "unknown", "online": m.status == "online",
            "last_seen": m.last_seen, "verified_head": m.head_seq, "head_hash": m.head_hash,
            "head_ts": m.head_ts, "machine_head": m.machine_head, "open_gaps": m.gap_count,
            "alarms": m.alarm_count, "integrity": integrity(m),
        } for m in machines],
        "gaps": [_gap(g) for g in gaps],
        "alarms": [_alarm(a) for a in alarms],
    }


def _gap(g: Gap) -> dict[str, Any]:
    return {"machine": g.machine, "from": g.first, "to": g.last, "opened_at": g.opened_at,
            "asks": g.asks, "asked_at": g.asked_at, "next_ask_at": g.next_ask_at}


def _alarm(a: Alarm) -> dict[str, Any]:
    return {"machine": a.machine, "seq": a.seq, "alarm": a.alarm, "detail": a.detail,
            "detected_at": a.detected_at, "hash": a.hash, "held_hash": a.held_hash,
            "kind": a.kind, "ts": a.ts, "fields": a.fields}


def render_status(store: Store, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(status_data(store), ensure_ascii=False, indent=2)
    machines = store.machines()
    rows = [[m.id, m.status or "?", _when(m.last_seen),
             f"{m.head_seq} {m.head_hash[:12]}" if m.head_seq else "0",
             "-" if m.machine_head is None else str(m.machine_head),
             str(m.gap_count) if m.gap_count else "-", integrity(m)] for m in machines]
    out = [table([f"Machines ({len(machines)})"],
                 ["MACHINE", "STATUS", "LAST SEEN (UTC)", "VERIFIED HEAD", "MACHINE HEAD",
                  "GAPS", "INTEGRITY"], rows)]
    gaps = store.gaps()
    if gaps:
        out.append("\n".join(["", "Open gaps:"] + [
            f"  {g.machine} rows {g.first}..{g.last}: open since {_when(g.opened_at)}, "
            f"asked {g.asks} time(s){', last ' + _when(g.asked_at) if g.asked_at else ''}"
            for g in gaps]))
    alarms = store.alarms()
    if alarms:
        out.append("\n".join(["", "INTEGRITY ALARMS (kept forever; the hub keeps its copy):"] + [
            f"  {a.machine} row {a.seq} {a.alarm} at {_when(a.detected_at)}: {a.detail}"
            for a in alarms]))
    return "\n".join(out)
