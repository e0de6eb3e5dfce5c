"""Bad input on the MQTT request handler: random actions and payloads, and mutations of valid
signed requests, get `ok: false` with a one-line error and leave the ledger unchanged; signed
requests act at most once, in counter order; ids with control characters are never echoed.

Most examples call the handler (`Requests.answer`) directly against a running daemon; a
small sample makes the real round trip through a private Mosquitto."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import sim_config

from vendd.config import CHANGE_ACTIONS
from vendd.daemon.app import Daemon
from vendd.telemetry import gate
from vendd.telemetry.client import Topics
from vendd.telemetry.requests import MODELS, READ_ONLY, Requests
from vendd.telemetry.signing import verify_request

sys.path.insert(0, str(Path(__file__).resolve().parent / "telemetry"))
from feed_helpers import (
    MACHINE,
    PREFIX,
    Broker,
    Feed,
    Signer,
    mqtt_section,
    signed_by,
    wait_until,
)

SIGNER = Signer("ana")
ALL_ON = signed_by({action: True for action in MODELS}, SIGNER)
KEYS = {SIGNER.id: SIGNER.key.public_key()}
EXPIRY_S = 60  # every example is published with an MQTT message expiry this long
VALID: dict[str, dict[str, Any]] = {
    "set_price": {"slot": "A1", "price": 375},
    "set_stock": {"slot": "A2", "stock": 3, "reason": "restock"},
    "enable_slot": {"slot": "B1"},
    "disable_slot": {"slot": "B2"},
    "out_of_service": {"reason": "coordinator"},
    "back_in_service": {},
    "report": {"from": "2026-01-01", "to": "2026-01-31"},
    "ping": {},
    "replay": {"from": 1, "to": 5},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
# Topic levels a publisher can send: no wildcards, no separator, no NUL; Mosquitto also drops
# the connection of a client that publishes control characters (seen), so the broker sample
# leaves them out (the handler itself gets them).
action_names = st.sampled_from(sorted(MODELS)) | st.text(
    st.characters(blacklist_characters="/+#\x00", blacklist_categories=("Cs",)),
    min_size=1, max_size=30)
topic_names = st.sampled_from(sorted(MODELS)) | st.text(
    st.characters(blacklist_characters="/+#", blacklist_categories=("Cs", "Cc")),
    min_size=1, max_size=30)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid request of some action, broken in one of several ways."""
    action = draw(st.sampled_from(sorted(MODELS)))
    rid = f"fz-{draw(st.uuids()).hex[:12]}"
    body: dict[str, Any] = {"request_id": rid, **VALID[action]}
    if action in CHANGE_ACTIONS:
        body = SIGNER.sign(action, VALID[action], rid)
    how = draw(st.sampled_from(["drop", "retype", "extra", "truncate", "flip", "rid"]))
    if how == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    elif how == "retype":
        key = draw(st.sampled_from(sorted(body)))
        body[key] = draw(json_values)
    elif how == "extra":
        body[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in body))] = draw(
            json_values)
    elif how == "rid":
        body["request_id"] = draw(st.text(min_size=65, max_size=80) | st.just("") | json_values)
    raw = json.dumps(body).encode()
    if how == "truncate":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        i = draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1:]
    return action, raw




def requests_of(actions: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(
        st.tuples(actions, st.binary(max_size=200)),
        st.tuples(actions, json_values.map(lambda v: json.dumps(v).encode())),
        mutated(),
        st.tuples(st.sampled_from(sorted(MODELS)), st.just(b"x" * 5000)),
    )


def ledger_fingerprint(path: Path) -> tuple[Any, ...]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (conn.execute("SELECT COUNT(*), MAX(seq) FROM journal").fetchone(),
                conn.execute("SELECT * FROM slots ORDER BY id").fetchall(),
                conn.execute("SELECT * FROM machine").fetchall())
    finally:
        conn.close()


def is_valid(action: str, payload: bytes) -> bool:
    """The oracle: strict JSON, a good id, a good signature where one is needed or given,
    and the action's own fields."""
    model = MODELS.get(action)
    if model is None:
        return False
    try:
        data = gate.parse(payload)
        rid = gate.check_request_id(data)
        if action in CHANGE_ACTIONS or "signature" in data:
            data = {**verify_request(data, KEYS, machine=MACHINE, action=action).body,
                    "request_id": rid}
        model.model_validate(data)
    except Exception:
        return False
    return True


def check_answer(action: str, payload: bytes, response: dict[str, Any],
                 before: tuple[Any, ...], after: tuple[Any, ...]) -> None:
    json.dumps(response)  # publishable
    assert set(response) >= {"request_id", "ok"}
    rid = response["request_id"]
    assert rid is None or gate.REQUEST_ID.fullmatch(rid), rid
    if response.get("duplicate"):
        assert after == before  # answered from the journal
        return
    if response["ok"] is True:
        # A random request that happens to be well formed: accepted as a real one would be.
        assert is_valid(action, payload), (action, payload, response)
        if action in READ_ONLY:
            assert after == before
        return
    assert response["ok"] is False
    error = response["error"]
    assert isinstance(error, str) and error
    # One line, nothing a terminal would act on, bounded whatever the payload was.
    assert len(error) <= 2000 and not any(ord(c) < 32 or ord(c) == 127 for c in error), error
    assert after == before, f"a refused request changed the ledger: {action} {payload!r}"


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Requests, Path]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    base = sim_config(tmp)
    config = sim_config(tmp, mqtt={**base.mqtt.model_dump(), "requests": ALL_ON})
    daemon = Daemon(config)
    daemon.start()
    daemon.wait_ready()
    assert daemon.controller is not None
    requests = Requests(config, None, Topics(PREFIX, MACHINE),  # type: ignore[arg-type]
                        daemon.controller.submit)
    yield requests, config.ledger.path
    daemon.stop()


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests_of(action_names))
def test_random_requests_are_refused_and_change_nothing(
        handler: tuple[Requests, Path], request: tuple[str, bytes]) -> None:
    requests, db = handler
    action, payload = request
    before = ledger_fingerprint(db)
    response = requests.answer(action, payload, expiry_s=EXPIRY_S)
    check_answer(action, payload, response, before, ledger_fingerprint(db))


def request_rows(path: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [json.loads(f) for (f,) in conn.execute(
            "SELECT fields FROM journal WHERE kind = 'request' ORDER BY seq")]
    finally:
        conn.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sends=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 3)), min_size=1,
                      max_size=10))
def test_signed_requests_act_at_most_once_in_counter_order(
        handler: tuple[Requests, Path], sends: list[tuple[int, int]]) -> None:
    """Counters and ids in any order: a request acts iff its id is new and its counter is
    above every one acted on before; a known id is answered from the journal."""
    requests, db = handler
    base = SIGNER.counter  # above everything this coordinator sent before
    SIGNER.counter += 100
    acted: dict[str, bool] = {}  # rid -> its journaled answer
    last = 0
    rows_before = len(request_rows(db))
    tag = uuid.uuid4().hex[:10]  # new ids for every example (hypothesis repeats its draws)
    for step, (offset, which) in enumerate(sends):
        rid = f"{tag}-{which}"
        price = 100 + 5 * step
        body = SIGNER.sign("set_price", {"slot": "B1", "price": price}, rid,
                           counter=base + offset)
        before = ledger_fingerprint(db)
        response = requests.answer("set_price", json.dumps(body).encode(), expiry_s=EXPIRY_S)
        after = ledger_fingerprint(db)
        if rid in acted:
            assert response["duplicate"] is True and response["ok"] is acted[rid]
            assert after == before
        elif offset <= last:
            assert response["ok"] is False and "stale counter" in response["error"]
            assert after == before
        else:
            assert response["ok"] is True, response
            assert "duplicate" not in response
            acted[rid], last = True, offset
            assert requests_price(db, "B1") == price
    assert len(request_rows(db)) - rows_before == len(acted)


def requests_price(path: Path, slot: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT price FROM slots WHERE id = ?", (slot,)).fetchone()[0])
    finally:
        conn.close()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rid=st.text(max_size=70), action=st.sampled_from(sorted(MODELS)),
       duplicate=st.sampled_from([None, "request_id", "slot", "price", "signature"]))
def test_odd_ids_and_duplicate_keys_are_refused_and_never_echoed(
        handler: tuple[Requests, Path], rid: str, action: str, duplicate: str | None) -> None:
    requests, db = handler
    fields = {"request_id": rid, **VALID[action]}
    if action in CHANGE_ACTIONS and gate.REQUEST_ID.fullmatch(rid):
        fields = SIGNER.sign(action, VALID[action], rid)
    raw = json.dumps(fields)
    if duplicate is not None:
        raw = raw[:-1] + f', "{duplicate}": 1}}'
    before = ledger_fingerprint(db)
    response = requests.answer(action, raw.encode(), expiry_s=EXPIRY_S)
    after = ledger_fingerprint(db)
    if duplicate is not None and duplicate in fields:
        assert response["ok"] is False and "duplicate key" in response["error"]
        assert response["request_id"] is None
    if gate.REQUEST_ID.fullmatch(rid) is None:
        assert response["ok"] is False and response["request_id"] is None
        assert after == before
    check_answer(action, raw.encode(), response, before, after)


# --- a small sample over a real broker -----------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Feed, Path]]:
    tmp = tmp_path_factory.mktemp("fuzz-live")
    broker = Broker(tmp / "broker", None)
    broker.start()
    config = sim_config(tmp, mqtt=mqtt_section(broker.port, requests=ALL_ON))
    daemon = Daemon(config)
    daemon.start()
    daemon.wait_ready()
    feed = Feed(broker.port, PREFIX, MACHINE)
    try:
        # The daemon subscribes before it says `online` on the same connection: a request sent
        # before that would reach no one (a busy machine connects after it is ready).
        wait_until(lambda: "online" in feed.statuses, 15, "the daemon to be online")
        rid = uuid.uuid4().hex
        feed.request("ping", {"request_id": rid})
        wait_until(lambda: rid in feed.responses, 15, "the daemon to answer requests")
        yield feed, config.ledger.path
    finally:
        feed.close()
        daemon.stop()
        broker.stop()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests_of(topic_names))
def test_random_requests_over_the_broker(live: tuple[Feed, Path],
                                         request: tuple[str, bytes]) -> None:
    feed, db = live
    action, payload = request
    before = ledger_fingerprint(db)
    with feed.lock:
        seen = {k: len(v) for k, v in feed.responses.items()}
    feed.request(action, payload)
    # Requests are answered in order by one worker: once the ping is answered, so is ours.
    marker = uuid.uuid4().hex
    feed.request("ping", {"request_id": marker})
    wait_until(lambda: marker in feed.responses, 10, "the ping after the random request")
    with feed.lock:
        new = [r for k, v in feed.responses.items() for r in v[seen.get(k, 0):]
               if k != marker]
    after = ledger_fingerprint(db)
    for response in new:
        response = {k: v for k, v in response.items() if k != "action"}
        check_answer(action, payload, response, before, after)
    if not new:  # not delivered as a request (e.g. too long for a topic, or dropped)
        assert after == before
