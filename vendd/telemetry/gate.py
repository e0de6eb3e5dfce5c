"""The first look at a request's bytes, before anything trusts them: size, strict JSON (no
duplicate key, no NaN, bounded nesting), the request id's shape, the retain flag. Also the
bounded, escaped summary that is the only form in which a request's bytes reach the log."""

from __future__ import annotations

import json
import re
from typing import Any

from vendd.errors import VenddError

MAX_PAYLOAD = 4096  # bytes; every valid request is far smaller
MAX_DEPTH = 8
SUMMARY_CHARS = 80
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")


class Bad(VenddError):
    """A request refused at the gate; the message is the answer's `error`."""


def summary(payload: bytes, size: int | None = None) -> str:
    """At most SUMMARY_CHARS printable characters of the payload, escaped, with its length
    (`size` when only the start of it was kept): safe for a log line whatever the bytes are
    (no newline, no terminal control)."""
    size = len(payload) if size is None else size
    head = payload[:SUMMARY_CHARS].decode("utf-8", "backslashreplace")
    escaped = head.encode("unicode_escape").decode("ascii")[:SUMMARY_CHARS]
    more = "..." if size > SUMMARY_CHARS else ""
    return f"{size} bytes: {escaped}{more}"


def safe_text(value: object, limit: int = 64) -> str:
    """A value from a request as it may appear in an answer or a log: escaped and cut."""
    text = value if isinstance(value, str) else repr(value)
    escaped = text[:limit].encode("unicode_escape").decode("ascii")[:limit]
    return escaped + ("..." if len(text) > limit else "")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise Bad(f"malformed request: duplicate key {safe_text(key, 32)!r}")
        obj[key] = value
    return obj


def _constant(name: str) -> Any:
    raise Bad(f"malformed request: {name} is not a JSON number")


def _depth(value: Any, level: int = 0) -> None:
    if level > MAX_DEPTH:
        raise Bad(f"malformed request: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, level + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, level + 1)


def parse(payload: bytes) -> dict[str, Any]:
    """The request as a JSON object, or Bad with the reason."""
    if len(payload) > MAX_PAYLOAD:
        raise Bad(f"request too large: {len(payload)} bytes, at most {MAX_PAYLOAD}")
    try:
        text = payload.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Bad("malformed request: a JSON object is expected") from exc
    if not isinstance(data, dict):
        raise Bad("malformed request: a JSON object is expected")
    _depth(data)
    return data


def request_id_of(data: Any) -> str | None:
    """The request id when it is well formed (the only form that is echoed back)."""
    rid = data.get("request_id") if isinstance(data, dict) else None
    return rid if isinstance(rid, str) and REQUEST_ID.fullmatch(rid) else None


def check_request_id(data: dict[str, Any]) -> str:
    rid = data.get("request_id")
    if rid is None:
        raise Bad("request_id: missing (every request needs one)")
    if not isinstance(rid, str) or REQUEST_ID.fullmatch(rid) is None:
        raise Bad("request_id: 1 to 64 letters, digits or _.:@- (no spaces, newlines or "
                  "control characters)")
    return rid
