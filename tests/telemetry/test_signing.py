"""The signed-request format: the exact bytes that are signed, keys in and out of text, and
every way a signature or its envelope can be wrong."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vendd.config import CoordinatorConfig
from vendd.telemetry.freshness import Freshness
from vendd.telemetry.signing import (
    Refused,
    SigningError,
    canonical,
    config_lines,
    generate_key,
    load_private_key,
    parse_public_key,
    private_key_pem,
    public_key_text,
    sign_request,
    verify_request,
)

# RFC 8032, section 7.1, test 1: a fixed key makes the signature a fixed vector.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def fixed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC_SEED)


def test_the_signed_bytes_are_the_sorted_compact_json_without_the_signature() -> None:
    request = {"slot": "A1", "price": 350, "request_id": "r-1", "machine": "quito-01",
               "action": "set_price", "coordinator": "ana", "counter": 17,
               "issued_at": "2026-12-02T01:00:00Z", "signature": "ignored",
               "note": "año"}
    assert canonical(request) == (
        b'vendd-request-v1\n{"action":"set_price","coordinator":"ana","counter":17,'
        b'"issued_at":"2026-12-02T01:00:00Z","machine":"quito-01","note":"a\xc3\xb1o",'
        b'"price":350,"request_id":"r-1","slot":"A1"}')


def test_a_fixed_key_gives_a_fixed_signature_the_verifier_accepts() -> None:
    key = fixed_key()
    assert public_key_text(key) == base64.b64encode(RFC_PUBLIC).decode()
    signed = sign_request(key, "ana", 17, "set_price", {"slot": "A1", "price": 350},
                          machine="quito-01", request_id="r-1",
                          issued_at="2026-12-02T01:00:00Z")
    # Ed25519 is deterministic: the same request always carries the same signature.
    again = sign_request(key, "ana", 17, "set_price", {"price": 350, "slot": "A1"},
                         machine="quito-01", request_id="r-1",
                         issued_at="2026-12-02T01:00:00Z")
    assert signed["signature"] == again["signature"]
    assert len(base64.b64decode(signed["signature"])) == 64
    checked = verify_request(json.loads(json.dumps(signed)),
                             {"ana": parse_public_key(public_key_text(key))},
                             machine="quito-01", action="set_price")
    assert (checked.coordinator, checked.counter, checked.request_id) == ("ana", 17, "r-1")
    assert checked.body == {"slot": "A1", "price": 350}
    assert checked.issued_at == datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(("change", "error"), [
    ({"price": 351}, "bad signature"),
    ({"counter": 18}, "bad signature"),
    ({"extra": 1}, "bad signature"),
    ({"signature": "!!!"}, "bad signature"),
    ({"signature": base64.b64encode(b"x" * 64).decode()}, "bad signature"),
    ({"signature": 5}, "base64 text"),
    ({"signature": None}, "unsigned"),
    ({"coordinator": "bea"}, "unknown coordinator"),
    ({"coordinator": ["ana"]}, "unknown coordinator"),
    ({"counter": 0}, "counter"),
    ({"counter": "18"}, "counter"),
    ({"counter": True}, "counter"),
    ({"counter": 2**53}, "counter"),
    ({"issued_at": "yesterday"}, "issued_at"),
    ({"price": 3.5}, "fractional"),
])
def test_a_changed_or_malformed_envelope_is_refused(change: dict[str, object],
                                                    error: str) -> None:
    key = generate_key()
    signed = sign_request(key, "ana", 17, "set_price", {"slot": "A1", "price": 350},
                          machine="quito-01", request_id="r-1")
    tampered = {**signed, **change}
    if change.get("signature", "") is None:
        del tampered["signature"]
    with pytest.raises(Refused, match=error):
        verify_request(tampered, {"ana": key.public_key()}, machine="quito-01",
                       action="set_price")


def test_a_request_for_another_machine_or_action_is_refused() -> None:
    key = generate_key()
    signed = sign_request(key, "ana", 17, "enable_slot", {"slot": "A1"}, machine="quito-01",
                          request_id="r-1")
    keys = {"ana": key.public_key()}
    with pytest.raises(Refused, match="another machine"):
        verify_request(signed, keys, machine="lima-02", action="enable_slot")
    with pytest.raises(Refused, match="another action"):
        verify_request(signed, keys, machine="quito-01", action="disable_slot")


def test_the_signer_refuses_what_it_cannot_sign_exactly() -> None:
    key = generate_key()
    with pytest.raises(SigningError, match="fractional"):
        sign_request(key, "ana", 1, "set_price", {"price": 3.5}, machine="m", request_id="r")
    with pytest.raises(SigningError, match="counter"):
        sign_request(key, "ana", 0, "ping", {}, machine="m", request_id="r")
    with pytest.raises(SigningError, match="may not set"):
        sign_request(key, "ana", 1, "ping", {"counter": 9}, machine="m", request_id="r")


def test_keys_go_to_files_and_config_lines_and_back(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "ana.pem"
    path.write_bytes(private_key_pem(key))
    loaded = load_private_key(path)
    assert public_key_text(loaded) == public_key_text(key)
    lines = config_lines("ana", key)
    entry = dict(line.split(" = ") for line in lines.splitlines()[1:])
    assert CoordinatorConfig(id=entry["id"].strip('"'),
                             public_key=entry["public_key"].strip('"')).id == "ana"
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(SigningError, match="not an unencrypted PEM"):
        load_private_key(tmp_path / "bad.pem")
    with pytest.raises(SigningError, match="cannot read"):
        load_private_key(tmp_path / "missing.pem")
    with pytest.raises(SigningError, match="Ed25519 public key"):
        parse_public_key("AAAA")


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_freshness_without_a_trusted_clock_uses_the_journal_as_a_lower_bound() -> None:
    fresh = Freshness(300, "never")
    floor = NOW - timedelta(hours=1)  # the journal's newest row
    # The machine's clock may say anything; only the journal's time counts.
    fresh.check(expiry_s=60, issued_at=floor - timedelta(seconds=299), floor=floor,
                now=NOW + timedelta(days=400))
    with pytest.raises(Refused, match="expired"):
        fresh.check(expiry_s=60, issued_at=floor - timedelta(seconds=301), floor=floor, now=NOW)
    fresh.check(expiry_s=60, issued_at=NOW + timedelta(days=1), floor=floor, now=NOW)
    fresh.check(expiry_s=60, issued_at=NOW - timedelta(days=1), floor=None, now=NOW)


def test_freshness_with_a_trusted_clock_checks_age_both_ways() -> None:
    fresh = Freshness(300, "always")
    fresh.check(expiry_s=300, issued_at=NOW - timedelta(seconds=299), floor=None, now=NOW)
    with pytest.raises(Refused, match="expired"):
        fresh.check(expiry_s=60, issued_at=NOW - timedelta(seconds=301), floor=None, now=NOW)
    with pytest.raises(Refused, match="future"):
        fresh.check(expiry_s=60, issued_at=NOW + timedelta(seconds=301), floor=None, now=NOW)


def test_freshness_needs_a_bounded_message_expiry() -> None:
    fresh = Freshness(300, "never")
    with pytest.raises(Refused, match="no message expiry"):
        fresh.check(expiry_s=None, issued_at=NOW, floor=None, now=NOW)
    with pytest.raises(Refused, match="longer than"):
        fresh.check(expiry_s=301, issued_at=NOW, floor=None, now=NOW)
