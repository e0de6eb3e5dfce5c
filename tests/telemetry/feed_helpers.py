"""Test tools for the MQTT feed: a private Mosquitto (plain, TLS, mutual-TLS and password
listeners on free loopback ports), a test CA made with the openssl CLI, an independent paho
subscriber, and a scripted buyer. Imported by conftest.py and by daemon_proc.py."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from support import wait_for

from simulator.broker import free_ports
from vendd.config import Config
from vendd.ledger import read_rows
from vendd.ledger.db import connect
from vendd.ledger.journal import GENESIS, canonical, chain_hash
from vendd.telemetry.relay import load_acked
from vendd.telemetry.signing import generate_key, next_counter, public_key_text, sign_request

USER, PASSWORD = "vendd", "hilo-y-aguja"


def feed_config(tmp_path: Path, **sections: Any) -> Config:
    """tests/support.py's sim config (virtual devices, temp ledger); `sections` replace
    whole sections."""
    from support import sim_config

    return sim_config(tmp_path, **sections)


PREFIX = "test"
MACHINE = "quito-01"


def mqtt_section(port: int, **overrides: Any) -> dict[str, Any]:
    return {"enabled": True, "host": "127.0.0.1", "port": port, "prefix": PREFIX,
            "client_id": f"vendd-test-{uuid.uuid4().hex[:8]}", "keepalive_s": 10, **overrides}


def mqtt_config(tmp_path: Path, port: int, **overrides: Any) -> Config:
    return feed_config(tmp_path, mqtt=mqtt_section(port, **overrides))


def mosquitto_bin() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise RuntimeError("mosquitto not found on PATH nor at /usr/sbin/mosquitto")
    return found


# The tests here and daemon_proc.py (a child process with tests/ on PYTHONPATH) import it
# under its old name.
wait_until = wait_for


# --- certificates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certs(folder: Path) -> Certs:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make the test CA")
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=vendd test CA")
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "quito-01")):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key",
                 folder / "client.pem", folder / "client.key")


# --- the broker ----------------------------------------------------------------------------


class Broker:
    """A private Mosquitto. `port`: anonymous; `tls_port`: TLS; `mtls_port`: TLS with a client
    certificate required; `pw_port`: username and password. Persistence is on, so a stop
    (SIGTERM) and start keep sessions and queued messages, like a real broker restart.
    `acl`: the text of a Mosquitto ACL file for the anonymous listener (`set_acl` changes it
    on the running broker)."""

    def __init__(self, folder: Path, certs: Certs | None, acl: str | None = None) -> None:
        self.folder = folder
        self.certs = certs
        self.acl: Path | None = None
        folder.mkdir(parents=True, exist_ok=True)
        if acl is not None:
            self.acl = folder / "acl"
            self.acl.write_text(acl)
        self.port, self.tls_port, self.mtls_port, self.pw_port = free_ports(4)
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        pwfile = self.folder / "passwords"
        subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), USER, PASSWORD],
                       check=True, capture_output=True)
        user = pwd.getpwuid(os.getuid()).pw_name
        lines = [
            "per_listener_settings true",
            f"user {user}",
            "persistence true",
            f"persistence_location {self.folder}/",
            f"log_dest file {self.log}",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
            "max_queued_messages 0",
            "max_inflight_messages 0",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
        ]
        if self.acl is not None:
            lines.append(f"acl_file {self.acl}")
        if self.certs is not None:
            c = self.certs
            tls = [f"cafile {c.ca}", f"certfile {c.server_cert}", f"keyfile {c.server_key}"]
            lines += [f"listener {self.tls_port} 127.0.0.1", "allow_anonymous true", *tls]
            lines += [f"listener {self.mtls_port} 127.0.0.1", "allow_anonymous true", *tls,
                      "require_certificate true"]
        lines += [f"listener {self.pw_port} 127.0.0.1", "allow_anonymous false",
                  f"password_file {pwfile}"]
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        assert self.proc is None
        since = self.log.stat().st_size if self.log.exists() else 0  # this start's lines
        self.proc = subprocess.Popen([mosquitto_bin(), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def listening() -> bool:
            # Mosquitto says "running" once every listener is open; a port that answers
            # before that may belong to a listener of a broker about to exit on the next.
            assert self.proc is not None
            log = self.log.read_bytes()[since:] if self.log.exists() else b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err}\n{log.decode()}")
            return b" running" in log

        wait_for(listening, 10, "mosquitto to listen")

    def set_acl(self, text: str) -> None:
        """Rewrite the ACL file and have the running broker reload it (SIGHUP)."""
        assert self.acl is not None and self.proc is not None, "a broker started with an acl"
        self.acl.write_text(text)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence file and exits."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None


# --- an independent subscriber -------------------------------------------------------------


class Feed:
    """A coordinator's paho client with a persistent session, recording everything under
    `<prefix>/<machine>/` (and optionally other filters) in arrival order."""

    def __init__(self, port: int, prefix: str, machine: str, *extra_filters: str) -> None:
        self.base = f"{prefix}/{machine}"
        self.filters = [f"{self.base}/#", *extra_filters]
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.statuses: list[str] = []
        self.states: list[dict[str, Any]] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.other: list[tuple[str, bytes, bool]] = []
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"feed-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect_async("127.0.0.1", port, 30, clean_start=False, properties=props)
        self.client.loop_start()
        wait_for(self.subscribed.is_set, 10, "the test subscriber to subscribe")

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any,
                    props: Any) -> None:
        client.subscribe([(f, 1) for f in self.filters])

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        rel = msg.topic.removeprefix(self.base + "/")
        with self.lock:
            if rel.startswith("event/"):
                body = json.loads(msg.payload)
                assert rel == f"event/{body['kind']}"
                self.events.append(body)
            elif rel == "status":
                self.statuses.append(msg.payload.decode())
            elif rel == "state":
                self.states.append(json.loads(msg.payload))
            elif rel.startswith("response/"):
                body = json.loads(msg.payload)
                self.responses.setdefault(str(body.get("request_id")), []).append(
                    {"action": rel.removeprefix("response/"), **body})
            else:
                self.other.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def seqs(self) -> list[int]:
        with self.lock:
            return [e["seq"] for e in self.events]

    def has_all(self, last: int) -> bool:
        return set(range(1, last + 1)) <= set(self.seqs())

    def request(self, action: str, body: dict[str, Any] | bytes | str, *,
                expiry: int | None = 60, retain: bool = False) -> None:
        """Publish a request at QoS 1, with an MQTT 5 message expiry (None: without)."""
        payload = body if isinstance(body, bytes | str) else json.dumps(body)
        props = None
        if expiry is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = expiry
        self.client.publish(f"{self.base}/request/{action}", payload, qos=1, retain=retain,
                            properties=props)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# --- a coordinator who signs ---------------------------------------------------------------


class Signer:
    """A coordinator's key and her counter (her clock in ms, then one up per request)."""

    def __init__(self, coordinator: str = "ana") -> None:
        self.id = coordinator
        self.key = generate_key()
        self.counter = next_counter()

    def entry(self) -> dict[str, str]:
        """Her `[[mqtt.requests.coordinators]]` entry."""
        return {"id": self.id, "public_key": public_key_text(self.key)}

    def sign(self, action: str, body: dict[str, Any], rid: str, *, counter: int | None = None,
             machine: str = MACHINE, issued_at: str | None = None) -> dict[str, Any]:
        if counter is None:
            self.counter += 1
            counter = self.counter
        return sign_request(self.key, self.id, counter, action, body, machine=machine,
                            request_id=rid, issued_at=issued_at)


def signed_by(actions: dict[str, bool], *signers: Signer, **options: Any) -> dict[str, Any]:
    """An `[mqtt.requests]` section: these actions, these coordinators."""
    return {**actions, "coordinators": [s.entry() for s in signers], **options}


# --- the ledger, as the tests read it ------------------------------------------------------


def journal(path: Path) -> list[dict[str, object]]:
    db = connect(path, readonly=True)
    try:
        return [{"seq": r.seq, "ts": r.ts, "kind": r.kind, "fields": r.fields, "hash": r.hash}
                for r in read_rows(db, 0, 1_000_000)]
    finally:
        db.close()


def acked(path: Path) -> int:
    db = connect(path, readonly=True)
    try:
        return load_acked(db)
    finally:
        db.close()


def check_chain(events: list[dict[str, object]]) -> None:
    """The feed alone proves its rows: each hash chains over the previous one."""
    prev = GENESIS
    for e in events:
        assert chain_hash(prev, e["seq"], e["ts"], e["kind"], canonical(e["fields"])) == e["hash"]
        prev = str(e["hash"])


# --- a scripted buyer ---------------------------------------------------------------------

COINS = (100, 50, 25, 10, 5)


def sell(daemon: Any, slot_id: str, timeout: float = 5.0) -> None:
    """Insert the price in coins, press the slot, wait for the sale to be journaled."""
    controller = daemon.controller
    state = controller.state
    if state.slots[slot_id].stock == 0:
        from vendd.events import SetStock

        slot = state.slots[slot_id]
        assert controller.submit(SetStock("rosa", slot_id, slot.capacity)).result(timeout).ok
    vends = controller.state.last_vend_id
    credit = controller.state.credit
    owed = max(controller.state.slots[slot_id].price - credit, 0)
    acceptor = daemon.devices.acceptors[0]
    wait_for(lambda: acceptor.accepting, timeout, "the acceptor to take coins")
    for coin in COINS:
        while owed >= coin:
            assert acceptor.insert(coin), "coin rejected"
            owed -= coin
    price = controller.state.slots[slot_id].price
    wait_for(lambda: controller.state.credit >= price, timeout, "the credit")
    daemon.devices.inputs[0].press(slot_id)
    wait_for(lambda: controller.state.last_vend_id > vends and controller.state.vend is None,
             timeout, f"the sale of {slot_id}")
