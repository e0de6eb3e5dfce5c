"""TLS with a CA made by the test (with and without a client certificate), a password
listener (password from a file or the environment), and a wrong password: one clear
journaled fault, paho backing off, the machine still selling."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from feed_helpers import PASSWORD, USER, Broker, Certs, Feed, journal, mqtt_config, sell, wait_until

from vendd.config import Config


def feed_flows(daemon, feed: Feed, config: Config) -> None:
    sell(daemon, "B3")
    head = journal(config.ledger.path)[-1]["seq"]
    wait_until(lambda: feed.has_all(head), 10, "the feed through this listener")
    wait_until(lambda: feed.statuses and feed.statuses[-1] == "online", 5, "online")


def test_tls_with_the_test_ca(tmp_path: Path, broker: Broker, certs: Certs, feed: Feed,
                              start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.tls_port, host="localhost",
                         tls={"ca_file": certs.ca})
    feed_flows(start_daemon(config), feed, config)


def test_tls_with_a_client_certificate(tmp_path: Path, broker: Broker, certs: Certs,
                                       feed: Feed, start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.mtls_port, tls={
        "ca_file": certs.ca, "cert_file": certs.client_cert, "key_file": certs.client_key})
    feed_flows(start_daemon(config), feed, config)


def test_password_from_a_file(tmp_path: Path, broker: Broker, feed: Feed,
                              start_daemon) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o640)  # a password file others can read is refused
    config = mqtt_config(tmp_path, broker.pw_port, username=USER, password_file=secret)
    feed_flows(start_daemon(config), feed, config)


def test_password_from_a_systemd_credential(tmp_path: Path, broker: Broker, feed: Feed,
                                            start_daemon, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    # What LoadCredential=mqtt-password:/etc/vendd/mqtt-password hands the service.
    folder = tmp_path / "credentials"
    folder.mkdir()
    (folder / "mqtt-password").write_text(PASSWORD + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    config = mqtt_config(tmp_path, broker.pw_port, username=USER,
                         password_credential="mqtt-password")
    feed_flows(start_daemon(config), feed, config)


def test_password_from_the_environment(tmp_path: Path, broker: Broker, feed: Feed,
                                       start_daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDD_MQTT__PASSWORD", PASSWORD)
    config = mqtt_config(tmp_path, broker.pw_port, username=USER)
    assert config.mqtt.password is not None
    feed_flows(start_daemon(config), feed, config)


def refused_attempts(broker: Broker) -> int:
    return broker.log.read_text().count("not authorised")


def test_wrong_password_is_one_clear_fault_not_a_crash_loop(
        tmp_path: Path, broker: Broker, start_daemon, caplog: pytest.LogCaptureFixture,
        ) -> None:
    caplog.set_level(logging.INFO, logger="vendd")
    secret = tmp_path / "mqtt-password"
    secret.write_text("not-the-password\n")
    secret.chmod(0o600)
    config = mqtt_config(tmp_path, broker.pw_port, username=USER, password_file=secret)
    daemon = start_daemon(config)

    def faults() -> list[dict[str, object]]:
        return [r for r in journal(config.ledger.path)
                if r["kind"] == "device_fault" and r["fields"]["device"] == "mqtt"]

    wait_until(faults, 10, "the refusal to be journaled")
    # paho retries with back-off (1 s, 2 s, ...): a second refusal, still one fault.
    wait_until(lambda: refused_attempts(broker) >= 2, 10, "paho to retry")
    assert [f["fields"]["code"] for f in faults()] in (["not_authorized"], ["bad_credentials"])
    assert "mqtt" in daemon.controller.state.faults
    refusals = [r for r in caplog.records if "refused the connection" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.ERROR
    assert "check mqtt.username and the password" in refusals[0].getMessage()
    sell(daemon, "A1")  # the machine keeps selling; the journal keeps the feed for later
    telemetry = daemon.extras[0]
    assert telemetry.relay is not None and telemetry.relay._thread.is_alive()
    assert telemetry.relay.acked_seq == 0
    assert refused_attempts(broker) <= 4  # backing off, not hammering the broker


def test_unreadable_password_file_leaves_the_machine_selling(
        tmp_path: Path, broker: Broker, start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.pw_port, username=USER,
                         password_file=tmp_path / "missing")
    daemon = start_daemon(config)
    sell(daemon, "A1")
    faults = [r["fields"] for r in journal(config.ledger.path) if r["kind"] == "device_fault"]
    assert faults[0]["code"] == "setup_failed" and "missing" in faults[0]["detail"]


def test_tls_with_a_missing_ca_file_is_a_setup_fault(tmp_path: Path, broker: Broker,
                                                     start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.tls_port, tls={"ca_file": tmp_path / "nope.pem"})
    start_daemon(config)
    wait_until(lambda: [r for r in journal(config.ledger.path) if r["kind"] == "device_fault"
                   and "ca_file" in r["fields"]["detail"]], 5, "the setup fault")
