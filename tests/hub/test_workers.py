"""Growing past one computer: two `vendd hub ingest` workers share the event stream
(`$share/<group>/...`) and write to one PostgreSQL. Both take rows, nothing is stored twice,
and killing one of them mid-stream loses nothing: the rows the broker had handed it, or kept
for its session until the session expired, reach the survivor as gaps it asks for with
`replay`."""

from __future__ import annotations

import re
from pathlib import Path

from feed_helpers import Broker
from hub_helpers import (
    HubProc,
    SimMachine,
    assert_replica_is_the_ledger,
    hub_status,
    hub_toml,
    wait_replicated,
)
from support import wait_for

from vendd.hub.store import Store

_COUNTS = re.compile(r"ingest (\S+): (\d+) messages, (\d+) new rows")


def new_rows(log: Path) -> int:
    """The last count of rows this worker stored, from its log."""
    found = _COUNTS.findall(log.read_text())
    return int(found[-1][2]) if found else 0


def test_two_workers_on_postgresql_split_the_stream_and_lose_nothing(
        tmp_path: Path, broker: Broker, postgres_url: str) -> None:
    machines = [SimMachine(tmp_path / f"m{i}", f"sede-{i}", broker.port) for i in range(3)]
    # A short session: the broker routes a share to a dead worker's session until it expires.
    config = hub_toml(tmp_path / "hub", broker.port, postgres_url, share_group="hub",
                      session_expiry_s=2)
    one, two = HubProc(config, worker="uno"), HubProc(config, worker="dos")
    one.start()
    two.start()
    store = Store(postgres_url)
    try:
        for i, m in enumerate(machines):
            m.start(seed=50 + i)
        wait_for(lambda: new_rows(one.log) > 30 and new_rows(two.log) > 30, 90,
                 "both workers to store rows")
        held = store.row_count()
        wait_for(lambda: store.row_count() > held + 30, 60, "rows flowing")
        two.kill9()  # mid-stream: what it had taken but not acknowledged is not lost
        wait_for(lambda: store.row_count() > held + 90, 60, "rows after the kill")
        for m in machines:  # the sales end; the machines stay up to answer `replay`
            m.stop()
            m.start(seed=None)
        wait_replicated(store, machines)
        for m in machines:
            assert_replica_is_the_ledger(store, m)
        one.stop()
        total = sum(m.head() for m in machines)
        assert store.row_count() == total  # each (machine, seq) once
        # Each worker stored its own share: the counts add up, none did it all.
        first, second = new_rows(one.log), new_rows(two.log)
        assert first > 0 and second > 0 and first + second <= total
        status = hub_status(config)
        assert status["alarms"] == [] and status["gaps"] == []
    finally:
        for m in machines:
            m.stop()
        one.stop()
        two.stop()
        store.close()
