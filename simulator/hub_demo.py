"""`make hub-demo`: the collective's hub on this computer. A private Mosquitto, three simulated
machines selling (`vendd-sim run --traffic`), and `vendd hub run` on SQLite, all under
var/hub-demo; prints where the hub is and how to look at it. Ctrl-C stops everything.

So that an alert opens and resolves in the first minute, the last machine is stopped after
`--offline-after` seconds (it says `offline` as it goes) and started again `--offline-for`
seconds later, or once its offline alert opened if that is later (a busy computer may take
longer); the demo's hub calls it offline after 6 s (`[alerts.machines.cuenca-01]`).
Each alert's opening and closing is printed, and shown on the dashboard's Alertas page.

    python -m simulator.hub_demo [--seconds N] [--folder DIR] [--offline-after S]
                                 [--offline-for S]"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from simulator.broker import free_port, listening, private_broker
from vendd.hub.alerts.store import AlertStore
from vendd.hub.alerts.texts import line
from vendd.hub.config import HubConfig
from vendd.hub.runner import COMPONENTS, open_store, run
from vendd.hub.status import render_status
from vendd.hub.store import StoreError

ROOT = Path(__file__).resolve().parent.parent
MACHINES = [("quito-01", 11), ("quito-02", 12), ("cuenca-01", 13)]
STOP_GRACE_S = 60.0  # a stopping machine gets this long before it is killed
WEB_PORT = 8470
DEMO_PASSWORD = "tejer-juntas"


def machine_config(folder: Path, machine: str, port: int) -> Path:
    text = (ROOT / "config" / "sim.toml").read_text(encoding="utf-8")
    text = text.replace('id = "quito-01"', f'id = "{machine}"')
    text = text.replace('path = "var/vendd.db"', f'path = "{folder / machine}.db"')
    text = text.replace("port = 1883", f"port = {port}")
    path = folder / f"{machine}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def demo_accounts(config: HubConfig) -> None:
    """A coordinator and a maker for the dashboard (the demo's own throwaway database)."""
    from vendd.hub.dashboard.changes import make_key
    from vendd.hub.dashboard.people import People

    store = open_store(config)
    try:
        people = People(store.engine)
        people.add("coordinadora", "Coordinadora", "coordinator", DEMO_PASSWORD)
        people.add("rosa", "Rosa Quishpe", "maker", DEMO_PASSWORD, maker="rosa")
        make_key(config, "coordinadora")
    finally:
        store.close()


def start_machine(folder: Path, machine: str, seed: int, port: int) -> subprocess.Popen[bytes]:
    config = machine_config(folder, machine, port)
    log = (folder / f"{machine}.log").open("a")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "run", "--config", str(config),
             "--traffic", str(seed)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    finally:
        log.close()


def stop_machine(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd stops a machine, then `reap`."""
    proc.terminate()
    reap(proc)


def reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a stopping machine; SIGKILL if it has not gone after STOP_GRACE_S. A clean stop
    lets a turning motor finish and drains the feed, which on a busy computer can take a
    while: giving up early would leave the demo without its machine."""
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _online_at_hub(url: str, machine: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT status FROM machines WHERE id = :m"),
                                {"m": machine}).scalar() == "online"
    except sa.exc.SQLAlchemyError:  # the hub has not created its tables yet
        return False
    finally:
        engine.dispose()


def _offline_alert_open(url: str, machine: str) -> bool:
    engine = sa.create_engine(url)
    try:
        return any(a.rule == "offline" and a.machine == machine
                   for a in AlertStore(engine).open_alerts())
    except StoreError:
        return False
    finally:
        engine.dispose()


def offline_and_back(folder: Path, sims: list[subprocess.Popen[bytes]], port: int, url: str,
                     after: float, lasting: float, stop: threading.Event) -> None:
    """The last machine goes away for a while (an alert opens) and comes back (it closes);
    `after` counts from the moment the hub saw it online. It stays away until its alert
    opened, so the demo always shows both ends."""
    machine, seed = MACHINES[-1]
    while not _online_at_hub(url, machine):
        if stop.wait(0.5):
            return
    if stop.wait(after):
        return
    stop_machine(sims[-1])
    print(f"demo: {machine} stopped for {lasting:.0f} s", flush=True)
    if stop.wait(lasting):
        return
    while not _offline_alert_open(url, machine):
        if stop.wait(0.5):
            return
    sims[-1] = start_machine(folder, machine, seed, port)
    print(f"demo: {machine} started again", flush=True)


def print_alerts(url: str, stop: threading.Event) -> None:
    """Each alert as it opens and closes, in the collective's language."""
    engine = sa.create_engine(url)
    alerts, seen = AlertStore(engine), dict[int, str]()
    try:
        while not stop.wait(1.0):
            try:
                found = alerts.recent(500)
            except StoreError:  # the hub has not created its tables yet
                continue
            for a in found:
                state = "resuelta" if a.closed_at else "abierta"
                if seen.get(a.id) != state:
                    seen[a.id] = state
                    params = {**a.params, "slot": a.slot, "machine": a.machine}
                    print(f"alerta {state}: {line(a.rule, 'es', params)}", flush=True)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hub-demo", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    p.add_argument("--until", type=int, metavar="ROWS",
                   help="stop once the hub verified this many rows of every machine")
    p.add_argument("--folder", type=Path, default=ROOT / "var" / "hub-demo")
    p.add_argument("--offline-after", type=float, default=20.0)
    p.add_argument("--offline-for", type=float, default=30.0)
    args = p.parse_args(argv)
    folder: Path = args.folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with private_broker(folder / "broker") as port:
        sims = []
        try:
            for machine, seed in MACHINES:
                sims.append(start_machine(folder, machine, seed, port))
            web = WEB_PORT if not listening(WEB_PORT) else free_port()
            hub = HubConfig.model_validate({
                "mqtt": {"host": "127.0.0.1", "port": port, "client_id": "vendd-hub-demo"},
                "store": {"url": f"sqlite:///{folder / 'hub.db'}",
                          "replicas": folder / "replicas"},
                "gaps": {"grace_s": 2, "retry_min_s": 2, "retry_max_s": 30},
                "web": {"host": "127.0.0.1", "port": web, "keys": folder / "keys"},
                "alerts": {"base_url": f"http://127.0.0.1:{web}",
                           "machines": {MACHINES[-1][0]: {"offline_minutes": 0.1}}}})
            demo_accounts(hub)
            (folder / "hub.toml").write_text(
                f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nclient_id = "vendd-hub-cli"\n'
                f'\n[store]\nurl = "sqlite:///{folder / "hub.db"}"\n'
                f'replicas = "{folder / "replicas"}"\n', encoding="utf-8")
            print(f"broker: mqtt://127.0.0.1:{port}; machines: "
                  f"{', '.join(m for m, _ in MACHINES)} (selling)")
            print(f"hub: http://127.0.0.1:{web}/  (the dashboard: sign in as coordinadora, or "
                  f"rosa (a maker), password {DEMO_PASSWORD}; /status as JSON; "
                  f"/machines/<id>/journal.jsonl)")
            print(f"look: vendd hub status --config {folder / 'hub.toml'}")
            print(f"      vendd hub report --config {folder / 'hub.toml'} --by maker")
            print(f"      vendd watch --host 127.0.0.1 --port {port}")
            if args.seconds is not None:
                timer = threading.Timer(args.seconds, stop.set)
                timer.daemon = True
                timer.start()
            if args.until is not None:
                threading.Thread(target=_stop_when_verified, args=(hub, args.until, stop),
                                 daemon=True).start()
            for target, targs in ((offline_and_back, (folder, sims, port, hub.store.url,
                                                      args.offline_after,
                                                      args.offline_for, stop)),
                                  (print_alerts, (hub.store.url, stop))):
                threading.Thread(target=target, args=targs, daemon=True).start()
            run(hub, list(COMPONENTS), sys.stdout, stop=stop)
        finally:
            for proc in sims:
                proc.terminate()
            for proc in sims:
                reap(proc)
    if args.seconds is not None or args.until is not None:
        store = open_store(hub)
        try:
            print(render_status(store))
        finally:
            store.close()
    return 0


def _stop_when_verified(hub: HubConfig, rows: int, stop: threading.Event) -> None:
    store = open_store(hub)
    try:
        while not stop.wait(0.5):
            heads = [m.head_seq for m in store.machines()]
            if len(heads) == len(MACHINES) and min(heads) >= rows:
                stop.set()
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
