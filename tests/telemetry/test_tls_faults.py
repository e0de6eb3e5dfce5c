"""A TLS failure is said as what it is, against the private Mosquitto's TLS listener: a broker
certificate from another CA is "unknown CA", a host the certificate does not name is "hostname
mismatch", an expired certificate "expired", a listener that wants a client certificate says
so. Each is logged once and journaled as the mqtt device's fault with its own code while the
machine keeps selling, and `vendd selftest` names the same cause."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from feed_helpers import Broker, Certs, journal, make_certs, mqtt_config, sell, wait_until

from vendd.cli.selftest_io import Status, broker_check


def _fault(config, code: str) -> dict[str, object]:
    def found() -> list[dict[str, object]]:
        return [r["fields"] for r in journal(config.ledger.path)
                if r["kind"] == "device_fault" and r["fields"]["code"] == code]
    wait_until(found, 15, f"the {code} fault")
    return found()[0]


def test_a_broker_certificate_from_another_ca_is_an_unknown_ca(
        tmp_path: Path, broker: Broker, start_daemon,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vendd")
    other = make_certs(tmp_path / "other-ca")
    config = mqtt_config(tmp_path, broker.tls_port, host="localhost",
                         tls={"ca_file": other.ca})
    daemon = start_daemon(config)
    fault = _fault(config, "tls_unknown_ca")
    assert "unknown CA" in str(fault["detail"])
    sell(daemon, "A1")  # the machine sells with the feed down
    said = [r.getMessage() for r in caplog.records if "unknown CA" in r.getMessage()]
    assert len(said) == 1, said  # once, not once per retry
    (result,) = broker_check(config)
    assert result.status is Status.FAIL and "unknown CA" in result.detail


def test_a_host_the_certificate_does_not_name_is_a_hostname_mismatch(
        tmp_path: Path, broker: Broker, certs: Certs, start_daemon) -> None:
    # The test certificate names 127.0.0.1 and localhost; 127.1 reaches the same listener.
    config = mqtt_config(tmp_path, broker.tls_port, host="127.1", tls={"ca_file": certs.ca})
    start_daemon(config)
    assert "hostname mismatch" in str(_fault(config, "tls_hostname_mismatch")["detail"])
    (result,) = broker_check(config)
    assert result.status is Status.FAIL and "hostname mismatch" in result.detail


def test_a_listener_that_wants_a_client_certificate_says_so(
        tmp_path: Path, broker: Broker, certs: Certs) -> None:
    config = mqtt_config(tmp_path, broker.mtls_port, host="localhost",
                         tls={"ca_file": certs.ca})
    (result,) = broker_check(config)
    assert result.status is Status.FAIL
    assert "client certificate" in result.detail, result.detail


def test_a_good_certificate_still_connects(tmp_path: Path, broker: Broker,
                                           certs: Certs) -> None:
    config = mqtt_config(tmp_path, broker.tls_port, host="localhost", tls={"ca_file": certs.ca})
    (result,) = broker_check(config)
    assert result.status is Status.OK, result.detail


def _expired_server_cert(certs: Certs, folder: Path) -> tuple[Path, Path]:
    """A server certificate from the test CA whose validity ended in 2020 (`openssl ca` is
    the openssl command that takes dates in the past)."""
    folder.mkdir()
    (folder / "index.txt").write_text("")
    (folder / "serial").write_text("1000\n")
    (folder / "ca.cnf").write_text(
        "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\n"
        "serial = serial\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n"
        "[ext]\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "old.key", "-out", "old.csr", "-subj", "/CN=127.0.0.1")
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", str(certs.ca), "-keyfile",
            str(certs.ca.parent / "ca.key"), "-in", "old.csr", "-out", "old.pem",
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
            "-extensions", "ext", "-notext")
    return folder / "old.pem", folder / "old.key"


def test_an_expired_broker_certificate_is_named(tmp_path: Path, certs: Certs) -> None:
    cert, key = _expired_server_cert(certs, tmp_path / "old")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:  # a TLS listener with the expired certificate: the handshake fails
        with listener:
            conn, _ = listener.accept()
            with contextlib.suppress(OSError), server.wrap_socket(conn, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    config = mqtt_config(tmp_path, port, host="localhost", tls={"ca_file": certs.ca})
    (result,) = broker_check(config)
    thread.join(10)
    assert result.status is Status.FAIL
    assert "the broker's certificate has expired" in result.detail, result.detail
