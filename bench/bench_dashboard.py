"""Dashboard benchmarks, through the real server (uvicorn on a loopback port):

- dashboard_page_p95_vs_static: p95 of Máquinas with 50 machines over p95 of a static file of
  the same app, requests interleaved on one keep-alive connection (goal at most 5); Cuentas
  (a month's statement by maker over the hub's replica of a machine with 1,000,000 sales)
  over the same static route, printed beside it as its own figure.
- dashboard_live_p99_ms: a journal row published to Mosquitto until a signed-in SSE client
  of `/eventos` is told the machine's verified head reached it (ingest + web in one process,
  as `vendd hub run`); a bare paho subscriber's latency for the same rows is printed beside
  it, same run."""

from __future__ import annotations

import calendar
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from bench.common import bench_line, p99
from simulator.broker import private_broker
from vendd.hub.config import HubConfig
from vendd.hub.dashboard.people import People
from vendd.hub.dashboard.server import DashboardServer
from vendd.hub.ingest import Ingest
from vendd.hub.store import RowIn, Store
from vendd.ledger.journal import GENESIS, chain_hash
from vendd.telemetry.relay import raw_payload

PASSWORD = "bench password"
PREFIX = "bench"
MACHINES = 50


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def _state(machine: str) -> str:
    slots = {f"{r}{c}": {"product": f"Producto {r}{c}", "maker": "rosa", "price": 350,
                         "stock": 3 + c, "capacity": 10, "enabled": True, "fault": None}
             for r in "AB" for c in range(1, 5)}
    return json.dumps({"machine": machine, "mode": "idle", "credit": 0, "currency": "USD",
                       "decimals": 2, "cash_box": 12_345, "out_of_service": None,
                       "faults": [], "vending": None, "slots": slots,
                       "sales_today": {"count": 17, "total": 5950}})


def _rows(machine: str, first: int, n: int, prev: str) -> tuple[list[RowIn], str]:
    rows = []
    for seq in range(first, first + n):
        fields = f'{{"note":"row {seq}"}}'
        ts = f"2026-03-01T15:00:{seq % 60:02d}.000000+00:00"
        prev = chain_hash(prev, seq, ts, "note", fields)
        rows.append(RowIn(machine, seq, ts, "note", fields, prev))
    return rows, prev


@contextmanager
def serving(config: HubConfig, store: Store) -> Iterator[str]:
    server = DashboardServer(config, store)
    server.start()
    try:
        yield server.address.rstrip("/")
    finally:
        server.stop()


def signed_in(base: str, people: People) -> httpx.Client:
    if people.get("bench") is None:
        people.add("bench", "Bench", "coordinator", PASSWORD)
    client = httpx.Client(base_url=base, timeout=120)
    form = client.get("/entrar").text
    token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post("/entrar", data={"username": "bench", "password": PASSWORD,
                                     "csrf": token})
    if r.status_code != 303:
        raise SystemExit(f"bench cannot sign in: {r.status_code}")
    return client


def interleaved(client: httpx.Client, page: str, n: int) -> tuple[float, float]:
    """p95 seconds of `page` and of the static route, requests alternating."""
    pages, static = [], []
    for _ in range(n):
        for path, out in ((page, pages), ("/static/style.css", static)):
            t0 = time.perf_counter()
            r = client.get(path)
            out.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"{path}: {r.status_code}")
    return p95(pages), p95(static)


def config_for(folder: Path, url: str, port: int = 1883) -> HubConfig:
    return HubConfig(mqtt={"host": "127.0.0.1", "port": port, "prefix": PREFIX,
                           "client_id": f"bench-hub-{time.monotonic_ns()}"},
                     store={"url": url, "replicas": folder / "replicas"},
                     web={"host": "127.0.0.1", "port": 0, "secure_cookies": False,
                          "keys": folder / "keys"})


def machines_ratio(folder: Path) -> float:
    url = f"sqlite:///{folder / 'hub50.db'}"
    store = Store(url)
    for m in range(MACHINES):
        machine = f"m{m:02d}"
        rows, _ = _rows(machine, 1, 20, GENESIS)
        store.add_rows(rows)
        store.set_status(machine, "online")
        store.set_state(machine, _state(machine))
    try:
        with serving(config_for(folder, url), store) as base:
            client = signed_in(base, People(store.engine))
            page, static = interleaved(client, "/maquinas", 300)
            client.close()
    finally:
        store.close()
    print(f"# Máquinas (50 machines) p95 {page * 1000:.1f} ms, static {static * 1000:.2f} ms")
    return page / static


def accounts_ratio(config: HubConfig, store: Store, machine: str, month: str = "2026-03",
                   ) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    cfg = config.model_copy(update={"web": config_for(folder, config.store.url).web})
    try:
        with serving(cfg, store) as base:
            client = signed_in(base, People(store.engine))
            year, mon = (int(x) for x in month.split("-"))
            last = calendar.monthrange(year, mon)[1]
            page = f"/cuentas?from={month}-01&to={month}-{last}&machine={machine}"
            client.get(page)  # the replica brought up to the head once
            p_page, p_static = interleaved(client, page, 20)
            client.close()
    finally:
        store.close()
    print(f"# Cuentas ({machine}, {month}) p95 {p_page * 1000:.1f} ms, "
          f"static {p_static * 1000:.2f} ms")
    return p_page / p_static


# --- live ----------------------------------------------------------------------------------


class Watch:
    """Arrival times of seqs, from a callback fed by a subscriber."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.lock = threading.Lock()
        self.top = 0

    def head(self, seq: int) -> None:
        now = time.perf_counter()
        with self.lock:
            for s in range(self.top + 1, seq + 1):
                self.seen[s] = now
            self.top = max(self.top, seq)


def sse_reader(base: str, cookies: httpx.Cookies, machine: str, watch: Watch,
               ready: threading.Event, stop: threading.Event) -> Callable[[], None]:
    def run() -> None:
        try:
            with httpx.Client(base_url=base, cookies=cookies, timeout=None) as c, \
                    c.stream("GET", "/eventos") as r:
                for line in r.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("data:"):
                        heads = json.loads(line[5:])
                        ready.set()
                        watch.head(int(heads.get(machine, 0)))
        except httpx.HTTPError:
            if not stop.is_set():
                raise  # the stream broke during the run: the figures would be wrong
    return run


def live_latencies(folder: Path) -> tuple[float, float]:
    machine, n = "live", 200
    with private_broker(folder / "broker") as port:
        url = f"sqlite:///{folder / 'live.db'}"
        config = config_for(folder, url, port)
        store = Store(url)
        first, prev = _rows(machine, 1, 1, GENESIS)
        store.add_rows(first)
        ingest = Ingest(config, store)
        ingest.start()
        bare = Watch()
        sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare",
                          protocol=MQTTProtocolVersion.MQTTv5)
        subscribed = threading.Event()
        sub.on_connect = lambda cl, *a: cl.subscribe(f"{PREFIX}/{machine}/event/#", qos=1)
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.on_message = lambda cl, u, msg: bare.head(json.loads(msg.payload)["seq"])
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-machine",
                          protocol=MQTTProtocolVersion.MQTTv5)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        stop = threading.Event()
        try:
            with serving(config, store) as base:
                client = signed_in(base, People(store.engine))
                sse, ready = Watch(), threading.Event()
                reader = threading.Thread(target=sse_reader(base, client.cookies, machine, sse,
                                                            ready, stop), daemon=True)
                reader.start()
                if not (ready.wait(30) and subscribed.wait(30)):
                    raise SystemExit("the SSE stream or the subscriber did not start")
                sent: dict[int, float] = {}
                for seq in range(2, n + 2):
                    rows, prev = _rows(machine, seq, 1, prev)
                    r = rows[0]
                    payload = raw_payload(seq, r.ts, r.kind, machine, r.fields, r.hash)
                    sent[seq] = time.perf_counter()
                    pub.publish(f"{PREFIX}/{machine}/event/note", payload, qos=1)
                    time.sleep(0.05)  # a busy machine: 20 rows a second
                deadline = time.monotonic() + 60
                while sse.top < n + 1 and time.monotonic() < deadline:
                    time.sleep(0.05)
                stop.set()
                client.close()
        finally:
            pub.loop_stop()
            sub.loop_stop()
            ingest.stop()
            store.close()
    missing = [s for s in sent if s not in sse.seen or s not in bare.seen]
    if missing:
        raise SystemExit(f"{len(missing)} rows never reached the dashboard or the subscriber")
    live = p99([(sse.seen[s] - t) * 1000 for s, t in sent.items()])
    paho_ms = p99([(bare.seen[s] - t) * 1000 for s, t in sent.items()])
    return live, paho_ms


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    ratio = machines_ratio(folder)
    print(bench_line("dashboard_page_p95_vs_static", ratio, "<=5", ratio <= 5), flush=True)
    from bench.bench_hub import million_hub

    cuentas = accounts_ratio(*million_hub(Path("var/bench/hub-million")))
    print(bench_line("dashboard_cuentas_1M_p95_vs_static", cuentas, "figure", True),
          flush=True)
    live, bare = live_latencies(folder)
    print(f"# bare paho subscriber p99 {bare:.1f} ms, same rows, same run")
    print(bench_line("dashboard_live_p99_ms", live, "<=1000", live <= 1000), flush=True)
    print(bench_line("dashboard_live_paho_p99_ms", bare, "figure", True), flush=True)


if __name__ == "__main__":
    main()

