"""Signed coordinator requests: keys, the canonical encoding, signing and checking. Pure (no
MQTT, no ledger), so the daemon, the `vendd request` command and the hub share it.

A signed request is one JSON object: the action's own fields (`slot`, `price`, ...) plus

- `request_id`: the signer's id for it (letters, digits and `_.:@-`, at most 64 characters);
- `machine`: the machine id it is meant for (a request cannot be moved to another machine);
- `action`: the action (the topic's last level; it cannot be moved to another topic);
- `coordinator`: who signs (an id listed in the machine's `[[mqtt.requests.coordinators]]`);
- `counter`: an integer that grows with every request of that coordinator (1 .. 2^53-1); by
  default the signer's clock in milliseconds, so it grows without any stored state;
- `issued_at`: the signer's UTC time, `YYYY-MM-DDTHH:MM:SSZ`;
- `signature`: base64 (standard alphabet, padded) of the Ed25519 signature.

The signature covers the bytes `vendd-request-v1\\n` followed by the canonical JSON of the
object without `signature`: keys sorted by code point, no whitespace (`,` and `:` separators),
strings as UTF-8 with non-ASCII characters as themselves and only the escapes JSON requires
(exactly `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`).
Numbers are integers only: a float has no single canonical text, so a signed request with one
is refused. Public keys are written as base64 of their 32 raw bytes; private keys are PKCS#8
PEM files."""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from vendd.errors import VenddError

DOMAIN = b"vendd-request-v1\n"
ENVELOPE = ("request_id", "machine", "action", "coordinator", "counter", "issued_at",
            "signature")
MAX_COUNTER = 2**53 - 1  # exact in every JSON reader
ISSUED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class SigningError(VenddError):
    """A key cannot be read or made, or a request cannot be signed."""


class Refused(VenddError):
    """A signed request that must not be acted on; the message is the answer's `error`."""


@dataclass(frozen=True)
class Signed:
    """A request whose signature checked out: who signed it and what it asks."""

    coordinator: str
    counter: int
    request_id: str
    issued_at: datetime
    body: dict[str, Any]  # the action's own fields, without the envelope


# --- keys ------------------------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read the key file {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise SigningError("not an Ed25519 public key (base64 of 32 bytes)") from exc


def config_lines(coordinator_id: str, key: Ed25519PrivateKey) -> str:
    """What goes into the machine's config for this key."""
    return (f'[[mqtt.requests.coordinators]]\nid = "{coordinator_id}"\n'
            f'public_key = "{public_key_text(key)}"\n')


# --- the encoding ----------------------------------------------------------------------------


def canonical(request: Mapping[str, Any]) -> bytes:
    """The signed bytes of a request (its `signature` member left out)."""
    unsigned = {k: v for k, v in request.items() if k != "signature"}
    _no_floats(unsigned)
    text = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return DOMAIN + text.encode("utf-8")


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise Refused("a signed request holds no fractional numbers (use integer cents)")
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    elif isinstance(value, list):
        for item in value:
            _no_floats(item)


def next_counter() -> int:
    """A counter that grows without stored state: the signer's clock in milliseconds."""
    return time.time_ns() // 1_000_000


def issued_now() -> str:
    return datetime.now(UTC).strftime(ISSUED_AT_FORMAT)


def sign_request(private_key: Ed25519PrivateKey, coordinator_id: str, counter: int,
                 action: str, body: Mapping[str, Any], *, machine: str,
                 request_id: str | None = None, issued_at: str | None = None,
                 ) -> dict[str, Any]:
    """The request to publish on `<prefix>/<machine>/request/<action>` (QoS 1, not retained,
    with an MQTT 5 message expiry of at most the machine's `max_age_s`). `request_id`: a new
    random one when not given; `issued_at`: now."""
    if not 1 <= counter <= MAX_COUNTER:
        raise SigningError(f"counter {counter} is outside 1..{MAX_COUNTER}")
    clash = sorted(set(body) & set(ENVELOPE))
    if clash:
        raise SigningError(f"the body may not set {', '.join(clash)}")
    request = {**body, "request_id": request_id or uuid.uuid4().hex, "machine": machine,
               "action": action, "coordinator": coordinator_id, "counter": counter,
               "issued_at": issued_at or issued_now()}
    try:
        message = canonical(request)
    except Refused as exc:
        raise SigningError(str(exc)) from exc
    request["signature"] = base64.b64encode(private_key.sign(message)).decode("ascii")
    return request


def verify_request(request: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey], *,
                   machine: str, action: str) -> Signed:
    """Check the envelope and the signature; raises Refused with the answer's error. The
    counter is only checked for shape here: whether it grew is the journal's to say."""
    signature = request.get("signature")
    if signature is None:
        raise Refused("unsigned: change requests must be signed by a coordinator")
    coordinator = request.get("coordinator")
    if not isinstance(coordinator, str) or coordinator not in keys:
        raise Refused("unknown coordinator: no public key for it in this machine's config")
    counter = request.get("counter")
    if type(counter) is not int or not 1 <= counter <= MAX_COUNTER:
        raise Refused(f"counter must be an integer in 1..{MAX_COUNTER}")
    issued = request.get("issued_at")
    try:
        issued_at = datetime.strptime(issued, ISSUED_AT_FORMAT).replace(tzinfo=UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise Refused("issued_at must be a UTC time like 2026-01-31T12:00:00Z") from exc
    if not isinstance(signature, str):
        raise Refused("signature must be base64 text")
    try:
        raw = base64.b64decode(signature, validate=True)
        keys[coordinator].verify(raw, canonical(request))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise Refused(f"bad signature: not signed by coordinator {coordinator}'s key") from exc
    # Signed, so these are what the signer meant: check they are meant for here.
    if request.get("machine") != machine:
        raise Refused("the request is signed for another machine")
    if request.get("action") != action:
        raise Refused("the request is signed for another action")
    body = {k: v for k, v in request.items() if k not in ENVELOPE}
    return Signed(coordinator, counter, str(request.get("request_id")), issued_at, body)
