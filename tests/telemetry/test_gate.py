"""The first look at a request's bytes: strict JSON, ids, and the only form in which a
request's bytes may reach the log."""

from __future__ import annotations

import pytest

from vendd.telemetry import gate


@pytest.mark.parametrize(("payload", "error"), [
    (b'{"request_id": "a", "price": 1, "price": 2}', "duplicate key 'price'"),
    (b'{"a": {"b": 1, "b": 2}}', "duplicate key 'b'"),
    (b'{"request_id": "a", "price": NaN}', "NaN is not a JSON number"),
    (b'{"x": Infinity}', "Infinity is not a JSON number"),
    (b"[" * 20 + b"]" * 20, "a JSON object is expected"),
    (b'{"x": ' + b"[" * 20 + b"]" * 20 + b"}", "nested deeper than 8"),
    (b'{"x": "\xff"}', "a JSON object is expected"),
    (b"", "a JSON object is expected"),
    (b'{"x": "' + b"a" * 5000 + b'"}', "request too large: 5009 bytes, at most 4096"),
])
def test_bad_bytes_are_refused_with_the_reason(payload: bytes, error: str) -> None:
    with pytest.raises(gate.Bad, match=error.replace("(", r"\(")):
        gate.parse(payload)


@pytest.mark.parametrize(("rid", "ok"), [
    ("r-1", True), ("0b4e8f4c9a2d4c0f9e1b2a3c4d5e6f70", True), ("hub:ana@2026.12.02", True),
    ("", False), ("a" * 65, False), ("evil\nline", False), ("tab\there", False),
    ("-leading", False), ("con espacio", False), ("ñandú", False), ("\x1b[31mred", False),
])
def test_request_ids_are_short_plain_words(rid: str, ok: bool) -> None:
    assert (gate.request_id_of({"request_id": rid}) == rid) is ok
    if ok:
        assert gate.check_request_id({"request_id": rid}) == rid
    else:
        with pytest.raises(gate.Bad, match="request_id: 1 to 64"):
            gate.check_request_id({"request_id": rid})


def test_the_log_summary_is_escaped_and_bounded() -> None:
    payload = b'{"request_id": "x\nFORGED 2026 INFO ok", "c": "\x1b[2J"}' + b"z" * 10_000
    line = gate.summary(payload)
    assert line.startswith(f"{len(payload)} bytes: ")
    assert "\n" not in line and "\x1b" not in line and line.endswith("...")
    assert len(line) < 120
    assert gate.summary(b"\xff\xfe", size=10_000_000) == "10000000 bytes: \\\\xff\\\\xfe..."
    cut = gate.safe_text("a\nb" * 40, 10)
    assert "\n" not in cut and len(cut) <= 13 and cut.endswith("...")
