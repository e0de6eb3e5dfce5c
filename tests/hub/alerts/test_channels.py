"""Each channel against a real local server started by the test, down at first: the first
try fails (and shows as a failing channel), the delivery goes out once the server is up.
SMTP with STARTTLS and a login (aiosmtpd), a webhook whose HMAC the server checks, a
Bot-API-compatible `sendMessage` endpoint, and the retained `<prefix>/alerts` topic."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from alert_helpers import PREFIX, Clock, slot
from feed_helpers import Broker, make_certs
from support import wait_for

from simulator.broker import free_port
from vendd.hub.alerts.delivery import AlertsTopic, DeliveryThread, Outbox
from vendd.hub.alerts.engine import Engine
from vendd.hub.alerts.routing import links_of
from vendd.hub.config import HubConfig
from vendd.hub.store import Store

SECRET = "webhook-secret-1"
TOKEN = "123456:bot-token"


def _world(tmp: Path, **alerts: Any) -> tuple[HubConfig, Store, Engine, Outbox, Clock]:
    (tmp / "link-key").write_text("link-key\n")
    config = HubConfig(store={"url": f"sqlite:///{tmp / 'hub.db'}", "replicas": str(tmp)},
                       alerts={"base_url": "http://hub.local:8470",
                               "link_secret_file": str(tmp / "link-key"),
                               "retry_min_s": 30, **alerts})
    store = Store(config.store.url)
    store.set_status("quito-01", "online")
    store.set_state("quito-01", json.dumps({"slots": {"B4": slot(0, product="Bolso azul")},
                                            "faults": [], "cash_box": 0}))
    clock = Clock()
    engine = Engine(config, store, clock=clock)
    engine.tick()
    return config, store, engine, Outbox(config, engine.alerts, clock=clock), clock


def _down_then_up(outbox: Outbox, clock: Clock, start: Any) -> None:
    """First try with the server down: it fails and is shown; then it is delivered."""
    assert outbox.run_once() == 0
    failing = outbox.alerts.failing()
    assert failing and failing[0].attempts == 1 and failing[0].last_error
    assert outbox.run_once() == 0  # not again before its back-off
    start()
    clock.advance(31)
    assert outbox.run_once() == 1
    assert outbox.alerts.failing() == [] and outbox.alerts.due(clock() + 3600) == []


# --- e-mail --------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def test_email_over_starttls_with_a_credential(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    certs = make_certs(tmp_path / "certs")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    port = free_port()
    config, store, engine, outbox, clock = _world(tmp_path, smtp={
        "host": "127.0.0.1", "port": port, "username": "hub",
        "password_credential": "smtp-password", "ca_file": str(certs.ca),
        "sender": "hub@coop.ec"},
        people={"ana": {"role": "coordinator", "channels": ["email"],
                        "email": "ana@coop.ec"}})
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certs.server_cert, certs.server_key)
    inbox = Inbox()
    logins: list[tuple[bytes, bytes]] = []

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"hub" and data.password == b"s3cret")

    smtp = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=tls,
                      require_starttls=True, auth_require_tls=True, authenticator=auth)
    try:
        _down_then_up(outbox, clock, smtp.start)
    finally:
        smtp.stop()
    assert logins == [(b"hub", b"s3cret")]
    (mail,) = inbox.messages
    assert mail.rcpt_tos == ["ana@coop.ec"]
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert message["Subject"] == "[vendd] Alerta: quito-01 B4 agotado: Bolso azul"
    alert = engine.alerts.open_alerts()[0]
    body = message.get_content()  # type: ignore[attr-defined]
    assert links_of(config).link(alert.id, "ana") in body  # type: ignore[operator]
    store.close()


# --- HTTP: the webhook and the Bot API ------------------------------------------------------


class Http:
    """A stdlib HTTP server on a port chosen before it listens (so it can start late)."""

    def __init__(self, check: Any) -> None:
        self.port = free_port()
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.check = check
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, answer = outer.check(self.path, dict(self.headers), body)
                if status == 200:
                    outer.received.append((self.path, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def test_webhook_signed_with_hmac(tmp_path: Path) -> None:
    def check(path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(headers.get("X-Vendd-Signature", ""), want)
        return (200, {"ok": True}) if ok else (401, {"error": "bad signature"})

    server = Http(check)
    (tmp_path / "hook-secret").write_text(SECRET + "\n")
    _, store, _, outbox, clock = _world(tmp_path, webhook={
        "url": f"http://127.0.0.1:{server.port}/vendd",
        "secret_file": str(tmp_path / "hook-secret")},
        people={"rosa": {"role": "maker", "maker": "rosa", "channels": ["webhook"],
                         "webhook_to": "+593991234567"}})
    try:
        _down_then_up(outbox, clock, server.start)
    finally:
        server.stop()
    (path, _headers, body) = server.received[0]
    sent = json.loads(body)
    assert path == "/vendd"
    assert sent["to"] == "+593991234567" and sent["notice"] == "opened"
    assert sent["text"] == "Alerta: quito-01 B4 agotado: Bolso azul"
    assert len(sent["text"]) <= 120  # fits a phone's notification
    store.close()


def test_telegram_bot_api_send_message(tmp_path: Path) -> None:
    def check(path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path != f"/bot{TOKEN}/sendMessage":
            return 404, {"ok": False}
        return 200, {"ok": True, "result": {"message_id": 1}}

    server = Http(check)
    (tmp_path / "bot-token").write_text(TOKEN + "\n")
    _, store, _, outbox, clock = _world(tmp_path, telegram={
        "base_url": f"http://127.0.0.1:{server.port}",
        "token_file": str(tmp_path / "bot-token")},
        people={"ana": {"role": "coordinator", "channels": ["telegram"],
                        "telegram_chat_id": "-100200"}})
    try:
        _down_then_up(outbox, clock, server.start)
    finally:
        server.stop()
    sent = json.loads(server.received[0][2])
    assert sent["chat_id"] == "-100200"
    assert sent["text"].startswith("Alerta: quito-01 B4 agotado: Bolso azul\nConfirmar: http")
    error = TOKEN.split(":")[1]
    assert all(error not in (d.last_error or "") for d in outbox.alerts.deliveries())
    store.close()


# --- MQTT ------------------------------------------------------------------------------------


@pytest.fixture
def retained(broker: Broker) -> Iterator[Any]:
    def read() -> list[dict[str, Any]] | None:
        got: list[bytes] = []
        c = paho.Client(paho.CallbackAPIVersion.VERSION2)
        c.on_message = lambda cl, u, msg: got.append(msg.payload)
        try:
            c.connect("127.0.0.1", broker.port)
        except OSError:
            return None
        c.subscribe(f"{PREFIX}/alerts", qos=1)
        c.loop_start()
        try:
            wait_for(lambda: got, 3, "the retained alerts")
        except AssertionError:
            return None
        finally:
            c.disconnect()
            c.loop_stop()
        return json.loads(got[-1])  # type: ignore[no-any-return]

    yield read


def test_mqtt_topic_keeps_the_open_alerts(tmp_path: Path, broker: Broker, retained: Any,
                                          ) -> None:
    config, store, engine, _, clock = _world(tmp_path)
    config = config.model_copy(update={"mqtt": config.mqtt.model_copy(update={
        "host": "127.0.0.1", "port": broker.port, "prefix": PREFIX, "keepalive_s": 5})})
    topic = AlertsTopic(config)
    thread = DeliveryThread(Outbox(config, engine.alerts, clock=clock), topic)
    thread.start()
    try:
        first = wait_for(retained, 15, "the open alert on the topic")
        assert [(a["rule"], a["slot"]) for a in first] == [("slot_empty", "B4")]
        assert first[0]["text"] == "quito-01 B4 agotado: Bolso azul"
        broker.stop()  # down for a while: an alert opens and another closes meanwhile
        store.set_state("quito-01", json.dumps({"slots": {"B4": slot(5)}, "faults": ["coins"],
                                                "cash_box": 0}))
        engine.tick()
        broker.start()
        thread.wake.set()

        def fresh() -> list[Any] | None:
            got = retained()
            return got if got and got[0]["rule"] == "device_fault" else None
        after = wait_for(fresh, 30, "the topic republished after the broker came back")
        assert [a["rule"] for a in after] == ["device_fault"]
    finally:
        thread.stop()
        store.close()
