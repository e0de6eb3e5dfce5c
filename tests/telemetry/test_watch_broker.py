"""`vendd watch --host --port --prefix`: several machines on a broker, without any machine's
config; and a clear word when the broker cannot be reached."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from feed_helpers import PREFIX, Broker, feed_config, mqtt_section, sell, wait_until

from simulator.broker import free_port
from vendd.cli import main
from vendd.cli.watch import watch_broker


def test_watch_follows_several_machines_without_their_config(
        tmp_path: Path, broker: Broker, start_daemon) -> None:
    daemons = []
    for name in ("norte", "sur"):
        config = feed_config(tmp_path / name, mqtt=mqtt_section(broker.port),
                             machine={"id": name, "name": name.title()})
        daemons.append(start_daemon(config))
    out = io.StringIO()
    result: list[int] = []
    watcher = threading.Thread(target=lambda: result.append(watch_broker(
        "127.0.0.1", broker.port, PREFIX, [], out=out, stop_after=4.0)))
    watcher.start()
    wait_until(lambda: "norte is online" in out.getvalue() and "sur is online"
               in out.getvalue(), 5, "both machines online")
    sell(daemons[0], "A1")
    sell(daemons[1], "B3")
    wait_until(lambda: out.getvalue().count("SALE") >= 2, 5, "both sales")
    watcher.join(10)
    lines = out.getvalue().splitlines()
    assert result == [0]
    assert any("norte" in ln and "SALE   A1 Monedero bordado — rosa  $3.50" in ln for ln in lines)
    assert any("sur" in ln and "SALE   B3 Marcador de libro — lucia  $1.00" in ln for ln in lines)


def test_watch_says_when_it_cannot_connect(capsys) -> None:
    port = free_port()  # nothing listens here
    code = main(["watch", "--host", "127.0.0.1", "--port", str(port), "--prefix", PREFIX,
                 "--machine", "quito-01", "--seconds", "3"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"cannot connect to the MQTT broker at 127.0.0.1:{port}" in out
