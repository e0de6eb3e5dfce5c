"""Status and state, Home Assistant discovery, and `vendd watch`."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

from feed_helpers import MACHINE, PREFIX, Broker, Feed, mqtt_config, sell, wait_until

from vendd.cli.watch import watch_main


def test_state_snapshot_is_retained_and_coalesced(tmp_path: Path, broker: Broker,
                                                  feed: Feed, start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    wait_until(lambda: feed.states, 5, "a first snapshot")
    first = len(feed.states)
    acceptor = daemon.devices.acceptors[0]
    for _ in range(15):  # a burst of coins
        assert acceptor.insert(100)
    wait_until(lambda: feed.states[-1]["credit"] == 1500, 5, "the snapshot with all the credit")
    assert len(feed.states) - first <= 4, len(feed.states) - first  # not 15 snapshots
    daemon.devices.inputs[0].press("A1")  # A1 is empty: nothing sells
    sell(daemon, "A1")  # restocks A1, then sells it
    wait_until(lambda: feed.states[-1]["slots"]["A1"]["stock"] == 7
          and feed.states[-1]["sales_today"]["count"] == 1, 5, "stock and sales after a sale")
    state = feed.states[-1]
    assert state["slots"]["A1"] == {"product": "Monedero bordado", "maker": "rosa",
                                    "price": 350, "stock": 7, "capacity": 8, "enabled": True,
                                    "fault": None}
    assert state["sales_today"] == {"count": 1, "total": 350}
    assert state["cash_box"] == 1500 + 0 and state["mode"] == "credit"
    assert state["faults"] == [] and state["machine"] == MACHINE

    # A newcomer gets the retained status and state at once.
    late = Feed(broker.port, PREFIX, MACHINE)
    try:
        wait_until(lambda: late.statuses == ["online"] and late.states, 5, "retained messages")
        assert late.states[-1] == feed.states[-1]
    finally:
        late.close()


def test_home_assistant_discovery(tmp_path: Path, broker: Broker, start_daemon) -> None:
    ha = Feed(broker.port, PREFIX, MACHINE, "homeassistant/#")
    try:
        config = mqtt_config(tmp_path, broker.port, discovery=True)
        start_daemon(config)

        def configs() -> dict[str, dict[str, object]]:
            with ha.lock:
                return {t: json.loads(p) for t, p, _ in ha.other
                        if t.endswith("/config") and p}

        n = 6 + 2 * len(config.slots)
        wait_until(lambda: len(configs()) == n, 5, "every discovery config")
        found = configs()
        node = "vendd_quito_01"
        stock = found[f"homeassistant/sensor/{node}/stock_a1/config"]
        assert stock["state_topic"] == f"{PREFIX}/{MACHINE}/state"
        assert stock["availability_topic"] == f"{PREFIX}/{MACHINE}/status"
        assert stock["value_template"] == "{{ value_json.slots['A1'].stock }}"
        assert stock["device"]["identifiers"] == [node]
        assert len({c["unique_id"] for c in found.values()}) == n
        assert f"homeassistant/binary_sensor/{node}/fault_b4/config" in found
        assert f"homeassistant/sensor/{node}/sales_today/config" in found
        before = len(ha.other)
        ha.client.publish("homeassistant/status", "online", qos=1)  # HA restarted
        wait_until(lambda: len(ha.other) >= before + 1 + n, 5, "discovery published again")
    finally:
        ha.close()


def test_watch_shows_sales_faults_and_stock(tmp_path: Path, broker: Broker,
                                            start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    out = io.StringIO()
    result: list[int] = []
    watcher = threading.Thread(target=lambda: result.append(
        watch_main(config, out=out, stop_after=2.0)))
    watcher.start()
    wait_until(lambda: "quito-01 is online" in out.getvalue(), 5, "watch to connect")
    sell(daemon, "A2")
    from vendd.events import DeviceFault
    daemon.controller.post(DeviceFault("coin_acceptor", "jam", "coin stuck"))
    wait_until(lambda: "FAULT  coin_acceptor" in out.getvalue(), 5, "the fault on watch")
    watcher.join(10)
    text = out.getvalue()
    assert result == [0]
    assert "SALE   A2 Muñeca de trapo — Carmen Tituaña  $8.00 (cash)" in text
    assert "stock  A2 0 -> 5 (restock, by Rosa Quishpe)" in text
    assert "stock  A1 0/8" in text  # the first snapshot's summary
    assert text.count("SALE") == 1  # the journal history is replayed once, deduped


def test_watch_with_a_wrong_password_says_so(tmp_path: Path, broker: Broker) -> None:
    secret = tmp_path / "pw"
    secret.write_text("wrong\n")
    secret.chmod(0o600)
    config = mqtt_config(tmp_path, broker.pw_port, username="vendd", password_file=secret)
    out = io.StringIO()
    assert watch_main(config, out=out, stop_after=5.0) == 1
    assert "refused the connection" in out.getvalue()
