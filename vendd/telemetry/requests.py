"""Coordinator requests: `<p>/<id>/request/<action>` -> `<p>/<id>/response/<action>`.

Each action is off unless `mqtt.requests.<action>` is true. Every answer is JSON
`{request_id, ok, error?, ...}`; a refused request changes nothing. A request acts at most once:

- the bytes first (gate.py): at most 4096 bytes, strict JSON (a duplicate key is refused), a
  `request_id` of 1-64 letters, digits or `_.:@-`; a retained request is refused (the
  subscription keeps the retain flag as published, so this holds live and after a restart);
- a change (set_price, set_stock, enable_slot, disable_slot, out_of_service, back_in_service)
  must be signed by a coordinator listed in the config (signing.py: Ed25519 over the canonical
  JSON, naming this machine and this action);
- a `request_id` the journal already closed is answered from the journal (`duplicate: true`,
  the `seq` of its row and its original answer), without acting again (from another
  coordinator or for another action, the id is refused as taken);
- its `counter` must be above the last one journaled for that coordinator: a replay fails
  without any clock;
- it must still be valid (freshness.py): an MQTT 5 message expiry of at most `max_age_s`
  (the broker drops it if it waited longer, e.g. while the machine was offline), and an
  `issued_at` no older than `max_age_s` before the journal's newest row (and the clock, when
  NTP has set it);
- then it goes through the controller queue (`submit`) and is journaled like a button press,
  its change rows naming `by: "coordinator"`, the `coordinator` and the `request_id`, plus a
  `request` row (action, coordinator, counter, request_id, ok, error) in the same transaction,
  even when the machine refuses it (the counter is used either way).

Read-only actions (report, ping) change nothing and are not journaled: they need no signature
(a signed one is checked all the same), and a repeated id is simply answered again.

Bytes from a request never reach the log raw: only an escaped summary of at most 80 characters.
paho's thread only enqueues the message; a worker thread checks, waits for the controller's
reply and publishes the answer."""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
import sqlite_utils
from pydantic import ValidationError

from vendd.config import CHANGE_ACTIONS, Config
from vendd.errors import LedgerError
from vendd.events import AdminEvent, RequestOrigin
from vendd.ledger.db import connect
from vendd.machine import Reply
from vendd.telemetry import gate
from vendd.telemetry.actions import (
    MODELS,
    READ_ONLY,
    ReplayRequest,
    ReportRequest,
    Request,
    sales_report,
    to_event,
    validation_message,
)
from vendd.telemetry.client import Topics
from vendd.telemetry.freshness import Freshness
from vendd.telemetry.memory import RequestMemory
from vendd.telemetry.replay import Replayer
from vendd.telemetry.signing import Refused, Signed, parse_public_key, verify_request

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 5.0
MAX_PAYLOAD = gate.MAX_PAYLOAD

__all__ = ["MAX_PAYLOAD", "MODELS", "READ_ONLY", "Requests"]


@dataclass(frozen=True)
class Incoming:
    """A request as paho handed it over: at most MAX_PAYLOAD + 1 bytes of it are kept."""

    action: str
    payload: bytes
    size: int
    retained: bool
    expiry_s: int | None


def expiry_of(message: paho.MQTTMessage) -> int | None:
    """What is left of an MQTT 5 message's expiry interval, in seconds (None: it has none)."""
    props = getattr(message, "properties", None)
    value = getattr(props, "MessageExpiryInterval", None) if props is not None else None
    return int(value) if value is not None else None


class Requests:
    def __init__(self, config: Config, client: paho.Client, topics: Topics,
                 submit: Callable[[AdminEvent], Future[Reply]]) -> None:
        self._config = config
        self._enabled = config.mqtt.requests
        self._client = client
        self._topics = topics
        self._submit = submit
        self._keys = {c.id: parse_public_key(c.public_key) for c in self._enabled.coordinators}
        self._freshness = Freshness(self._enabled.max_age_s, self._enabled.trust_clock)
        self._memory = RequestMemory(config.ledger.path)
        # Sent to the controller but not (yet) seen in the journal: a reply that timed out.
        self._claimed: dict[str, int] = {}
        self._claimed_ids: set[str] = set()
        self._queue: queue.Queue[Incoming | None] = queue.Queue(maxsize=100)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: sqlite_utils.Database | None = None
        self.replayer: Replayer | None = None  # set when `replay` is switched on
        # Called on the worker thread (must not block): a request failed on a bug.
        self.on_fault: Callable[[str, str], None] = lambda code, detail: None

    @property
    def any_enabled(self) -> bool:
        return any(self._enabled.enabled(action) for action in MODELS)

    def on_message(self, message: paho.MQTTMessage) -> None:
        """paho's thread: enqueue and return (a flood is answered with nothing, not a stall)."""
        action = message.topic.rsplit("/", 1)[-1]
        payload = message.payload
        # Only what the gate needs to refuse a huge one: a flood of them costs no memory.
        item = Incoming(action, bytes(payload[:MAX_PAYLOAD + 1]), len(payload),
                        bool(message.retain), expiry_of(message))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            log.warning("too many coordinator requests at once: dropped one for %s",
                        gate.safe_text(action, 32))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-requests", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(REPLY_TIMEOUT_S + 1)

    def _run(self) -> None:
        try:
            self._memory.refresh()  # the one full read of the journal's request rows, up front
        except (LedgerError, sqlite3.Error) as exc:
            log.error("requests cannot read the journal yet: %s", exc)  # retried per request
        while (item := self._queue.get()) is not None:
            if item.retained and not item.size:
                continue  # a retained request being cleared: nothing was asked
            response = self._safe_answer(item)
            name = gate.safe_text(item.action, 32)
            if response["ok"]:
                log.info("request %s %s: ok%s", name, response.get("request_id"),
                         " (answered from the journal)" if response.get("duplicate") else "")
            else:
                log.info("request %s %s refused: %s [%s]", name, response.get("request_id"),
                         response["error"], gate.summary(item.payload, item.size))
            body = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
            self._client.publish(self._topics.response(item.action), body, qos=1)
        self._memory.close()
        if self._db is not None:
            self._db.close()

    def _safe_answer(self, item: Incoming) -> dict[str, Any]:
        if item.size > MAX_PAYLOAD:
            return {"request_id": None, "ok": False,
                    "error": f"request too large: {item.size} bytes, at most {MAX_PAYLOAD}"}
        try:
            return self.answer(item.action, item.payload, retained=item.retained,
                               expiry_s=item.expiry_s)
        except Exception as exc:  # the thread's boundary: a bug must not end every answer
            log.exception("request %s failed", gate.safe_text(item.action, 32))
            self.on_fault("request_error", f"{type(exc).__name__}: {gate.safe_text(exc, 120)}")
            return {"request_id": None, "ok": False,
                    "error": "internal error, journaled as a fault: ask with the same "
                             "request_id to learn whether it was acted on"}

    # --- one request --------------------------------------------------------------------------

    def answer(self, action: str, payload: bytes, *, retained: bool = False,
               expiry_s: int | None = None) -> dict[str, Any]:
        rid: str | None = None
        try:
            data = gate.parse(payload)
            rid = gate.request_id_of(data)
            return self._answer(action, data, retained, expiry_s)
        except (gate.Bad, Refused) as exc:
            return {"request_id": rid, "ok": False, "error": str(exc)}
        except (LedgerError, sqlite3.Error) as exc:
            log.error("requests cannot read the journal: %s", exc)
            return {"request_id": rid, "ok": False, "error": "the ledger cannot be read now"}

    def _answer(self, action: str, data: dict[str, Any], retained: bool,
                expiry_s: int | None) -> dict[str, Any]:
        model = MODELS.get(action)
        if model is None:
            raise gate.Bad(f"unknown action {gate.safe_text(action, 32)!r}")
        if not self._enabled.enabled(action):
            raise gate.Bad(f"{action} is not enabled on this machine")
        if retained:
            raise gate.Bad("retained requests are refused: publish requests without the "
                           "retain flag (and clear this one)")
        rid = gate.check_request_id(data)
        signed: Signed | None = None
        if action in CHANGE_ACTIONS or "signature" in data:
            signed = verify_request(data, self._keys, machine=self._topics.machine,
                                    action=action)
            data = {**signed.body, "request_id": rid}
        try:
            request = model.model_validate(data)
        except ValidationError as exc:
            raise gate.Bad(validation_message(exc)) from exc
        if action in READ_ONLY:
            if isinstance(request, ReportRequest):
                return self._report(request)
            if isinstance(request, ReplayRequest):
                if self.replayer is None:
                    raise gate.Bad("replay is not available on this machine")
                return self.replayer.answer(request)
            return self._ping(rid)
        assert signed is not None
        return self._change(action, request, signed, expiry_s)

    def _change(self, action: str, request: Request, signed: Signed,
                expiry_s: int | None) -> dict[str, Any]:
        rid, coordinator = request.request_id, signed.coordinator
        memory = self._memory
        memory.refresh()
        closed = memory.closed.get(rid)
        if closed is not None:
            if (closed.coordinator, closed.action) != (coordinator, action):
                raise Refused(f"request_id {rid} is taken: journal row {closed.seq} closed a "
                              f"{closed.action} request of coordinator {closed.coordinator}")
            return closed.answer(rid)
        if rid in self._claimed_ids:
            raise Refused("this request_id was received already and is not answered yet")
        last = max(memory.last_counter(coordinator), self._claimed.get(coordinator, 0))
        if signed.counter <= last:
            raise Refused(f"stale counter: {signed.counter} is not above {last}, the last "
                          f"one of coordinator {coordinator} (a replay?)")
        self._freshness.check(expiry_s=expiry_s, issued_at=signed.issued_at,
                              floor=memory.latest_ts)
        origin = RequestOrigin(action, coordinator, signed.counter, rid)
        event = to_event(action, request, origin)
        assert event is not None
        self._claimed[coordinator] = signed.counter
        self._claimed_ids.add(rid)
        reply = self._wait(self._submit(event))
        if reply is None:
            return {"request_id": rid, "ok": False,
                    "error": "the machine did not answer in time (ask again with the same "
                             "request_id to learn what happened)"}
        memory.refresh()
        answer: dict[str, Any] = {"request_id": rid, "ok": reply.ok,
                                  "coordinator": coordinator}
        closed = memory.closed.get(rid)
        if closed is not None:
            answer["seq"] = closed.seq
            self._claimed_ids.discard(rid)
        if not reply.ok:
            answer["error"] = reply.error
        return answer

    def _wait(self, future: Future[Reply]) -> Reply | None:
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                if self._stopping.is_set() or time.monotonic() > deadline:
                    return None

    def _ledger(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect(self._config.ledger.path, readonly=True)
        return self._db

    def _report(self, request: ReportRequest) -> dict[str, Any]:
        report = sales_report(self._ledger(), request.start, request.end, request.maker)
        machine = self._config.machine
        return {"request_id": request.request_id, "ok": True, "machine": machine.id,
                "currency": machine.currency, "decimals": machine.decimals, **report}

    def _ping(self, rid: str) -> dict[str, Any]:
        seq = None
        try:
            seq = self._ledger().conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0]
        except (LedgerError, sqlite3.Error) as exc:
            log.warning("ping cannot read the journal head: %s", exc)
        return {"request_id": rid, "ok": True, "pong": True, "machine": self._topics.machine,
                "seq": seq, "time": datetime.now(UTC).isoformat(timespec="seconds")}
