"""The daemon killed with SIGKILL while publishing, then restarted: the broker says
`offline` (last will) in between, and the feed resumes from the stored acked seq with
nothing missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from feed_helpers import Broker, Feed, acked, check_chain, journal, mqtt_config, wait_until

HERE = Path(__file__).resolve().parent


def spawn(config_file: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE), str(HERE.parent), str(HERE.parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(HERE / "daemon_proc.py"), str(config_file),
                             mode], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"child did not start: {line!r}"
    return proc


def test_sigkill_while_publishing_resumes_from_the_acked_seq(
        tmp_path: Path, broker: Broker, feed: Feed) -> None:
    config = mqtt_config(tmp_path, broker.port)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config.model_dump(mode="json")))
    db_path = config.ledger.path

    proc = spawn(config_file, "sell")
    try:
        wait_until(lambda: feed.statuses and feed.statuses[-1] == "online", 10, "online")
        wait_until(lambda: len(feed.events) > 300 and acked(db_path) > 100, 20,
              "the feed to flow and the relay to store its position")
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    wait_until(lambda: feed.statuses[-1] == "offline", 10, "the last will (offline)")
    stored = acked(db_path)
    head_at_kill = journal(db_path)[-1]["seq"]
    with feed.lock:
        mark = len(feed.events)
        seen_before = {e["seq"] for e in feed.events}
    assert 0 < stored <= head_at_kill
    assert set(range(1, stored + 1)) <= seen_before  # acked means delivered

    proc = spawn(config_file, "idle")
    try:
        wait_until(lambda: feed.statuses[-1] == "online", 10, "online again")
        rows = journal(db_path)
        assert rows[-1]["seq"] > head_at_kill  # the restart journaled (interrupted vend, started)
        wait_until(lambda: feed.has_all(rows[-1]["seq"]), 20, "every row after the restart")
        with feed.lock:
            after = feed.events[mark:]
            events = {e["seq"]: e for e in feed.events}
        # Resumed exactly after the stored position: no gap, no replay from the start.
        assert after[0]["seq"] == stored + 1
        assert [e["seq"] for e in after] == list(range(stored + 1, rows[-1]["seq"] + 1))
        check_chain([events[s] for s in sorted(events)])
        assert [events[r["seq"]]["hash"] for r in rows] == [r["hash"] for r in rows]
        assert "offline" in feed.statuses[feed.statuses.index("online"):]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    wait_until(lambda: feed.statuses[-1] == "offline", 5, "offline after a clean stop")
