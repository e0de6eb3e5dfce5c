"""Coordinator requests: `<p>/<id>/request/<action>` -> `<p>/<id>/response/<action>`.

Each action is off unless `mqtt.requests.<action>` is true. Payloads are validated with
pydantic; a malformed, unknown, disabled or out-of-range request is answered with
`ok: false` and an error and changes nothing. An accepted change goes through the controller
queue (`submit`) and is journaled like a button press, with `by: "coordinator"`.

paho's thread only enqueues the message; a worker thread validates, waits for the
controller's reply and publishes the response."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import paho.mqtt.client as paho
import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vendd.config import Config, RequestsConfig
from vendd.errors import LedgerError
from vendd.events import AdminEvent, SetOutOfService, SetPrice, SetSlotEnabled, SetStock
from vendd.ledger.db import connect
from vendd.machine import Reply
from vendd.telemetry.client import Topics
from vendd.worker import FaultLatch, Post, Worker

log = logging.getLogger(__name__)

ACTOR = "coordinator"
REPLY_TIMEOUT_S = 5.0
MAX_REPORT_DAYS = 366
MAX_PAYLOAD = 4096  # bytes; every valid request is far smaller

SlotId = Annotated[str, Field(pattern=r"^[A-Z][0-9]{1,2}$")]
Cents = Annotated[int, Field(strict=True)]


class Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(min_length=1, max_length=64)


class SlotRequest(Request):
    slot: SlotId


class SetPriceRequest(SlotRequest):
    price: Cents = Field(gt=0, le=1_000_000)


class SetStockRequest(SlotRequest):
    stock: Cents = Field(ge=0, le=99)
    reason: Literal["restock", "adjust"] = "adjust"


class OutOfServiceRequest(Request):
    reason: str = Field(default="coordinator", min_length=1, max_length=80)


class ReportRequest(Request):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    maker: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")

    @model_validator(mode="after")
    def _period(self) -> ReportRequest:
        if self.end < self.start:
            raise ValueError("'to' is before 'from'")
        if (self.end - self.start).days >= MAX_REPORT_DAYS:
            raise ValueError(f"a report covers at most {MAX_REPORT_DAYS} days")
        return self


MODELS: dict[str, type[Request]] = {
    "set_price": SetPriceRequest,
    "set_stock": SetStockRequest,
    "enable_slot": SlotRequest,
    "disable_slot": SlotRequest,
    "out_of_service": OutOfServiceRequest,
    "back_in_service": Request,
    "report": ReportRequest,
    "ping": Request,
}
assert set(MODELS) == set(RequestsConfig.model_fields)


def to_event(action: str, request: Request) -> AdminEvent | None:
    """The controller event of a change request; None for read-only actions."""
    match action, request:
        case "set_price", SetPriceRequest(slot=slot, price=price):
            return SetPrice(ACTOR, slot, price)
        case "set_stock", SetStockRequest(slot=slot, stock=stock, reason=reason):
            return SetStock(ACTOR, slot, stock, reason)
        case "enable_slot", SlotRequest(slot=slot):
            return SetSlotEnabled(ACTOR, slot, True)
        case "disable_slot", SlotRequest(slot=slot):
            return SetSlotEnabled(ACTOR, slot, False)
        case "out_of_service", OutOfServiceRequest(reason=reason):
            return SetOutOfService(ACTOR, True, reason)
        case "back_in_service", _:
            return SetOutOfService(ACTOR, False)
    return None


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid request: " + "; ".join(parts)


def sales_report(db: sqlite_utils.Database, start: date, end: date,
                 maker: str | None = None) -> dict[str, Any]:
    """Sales of the local days start..end (inclusive), by maker, slot, day and payment."""
    where = "day BETWEEN ? AND ?" + (" AND maker = ?" if maker else "")
    args: tuple[Any, ...] = (start.isoformat(), end.isoformat(), *([maker] if maker else []))

    def grouped(columns: str) -> list[dict[str, Any]]:
        names = [c.strip() for c in columns.split(",")]
        cur = db.conn.execute(
            f"SELECT {columns}, COUNT(*), SUM(price) FROM sales WHERE {where} "
            f"GROUP BY {columns} ORDER BY {columns}", args)
        return [{**dict(zip(names, r[:-2], strict=True)), "count": r[-2], "total": r[-1]}
                for r in cur]

    count, total = db.conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM(price), 0) FROM sales WHERE {where}", args).fetchone()
    return {
        "from": start.isoformat(), "to": end.isoformat(), "maker": maker,
        "count": count, "total": total,
        "makers": grouped("maker"),
        "products": grouped("slot, product, maker"),
        "days": grouped("day"),
        "payments": grouped("payment"),
    }


class Requests(Worker):
    def __init__(self, config: Config, client: paho.Client, topics: Topics,
                 submit: Callable[[AdminEvent], Future[Reply]], *, device: str = "mqtt") -> None:
        super().__init__("mqtt-requests", [FaultLatch(device)])
        self._config = config
        self._enabled = config.mqtt.requests
        self._client = client
        self._topics = topics
        self._submit = submit
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=100)
        self._db: sqlite_utils.Database | None = None

    @property
    def any_enabled(self) -> bool:
        return any(self._enabled.model_dump().values())

    def on_message(self, message: paho.MQTTMessage) -> None:
        """paho's thread: enqueue and return (a flood is answered with nothing, not a stall)."""
        action = message.topic.rsplit("/", 1)[-1]
        try:
            self._queue.put_nowait((action, bytes(message.payload)))
        except queue.Full:
            log.warning("too many coordinator requests at once: dropped one for %r", action)

    def start(self, post: Post | None = None) -> None:
        """`post`: where a bug in the thread is reported (the controller's queue)."""
        self.start_worker(post)

    def stop(self) -> None:
        self.stop_worker(REPLY_TIMEOUT_S + 1)

    # --- the thread ---------------------------------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(queue.Full):  # full: the thread is busy and sees the stop
            self._queue.put_nowait(None)

    def turn(self) -> bool:
        item = self._queue.get()
        if item is None:
            return True
        action, payload = item
        response = self.answer(action, payload)
        log.info("request %s %s: %s", action, response.get("request_id"),
                 "ok" if response["ok"] else response["error"])
        body = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        self._client.publish(self._topics.response(action), body, qos=1)
        return True

    def go_safe(self) -> None:
        self.finish()  # the ledger connection is opened again on the next request

    def finish(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- one request --------------------------------------------------------------------------

    def answer(self, action: str, payload: bytes) -> dict[str, Any]:
        data: Any = None
        if len(payload) <= MAX_PAYLOAD:
            with contextlib.suppress(ValueError, RecursionError):  # not JSON: answered below
                data = json.loads(payload)
        rid = data.get("request_id") if isinstance(data, dict) else None
        rid = rid if isinstance(rid, str) and len(rid) <= 64 else None

        def fail(error: str) -> dict[str, Any]:
            return {"request_id": rid, "ok": False, "error": error}

        model = MODELS.get(action)
        if model is None:
            return fail(f"unknown action {action!r}")
        if not getattr(self._enabled, action):
            return fail(f"{action} is not enabled on this machine")
        if not isinstance(data, dict):
            return fail("malformed request: a JSON object is expected")
        try:
            request = model.model_validate(data)
        except ValidationError as exc:
            return fail(validation_message(exc))
        event = to_event(action, request)
        if event is not None:
            return self._change(request.request_id, event)
        if isinstance(request, ReportRequest):
            return self._report(request)
        return self._ping(request.request_id)

    def _change(self, rid: str, event: AdminEvent) -> dict[str, Any]:
        future = self._submit(event)
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            try:
                reply = future.result(timeout=0.2)
                break
            except FutureTimeout:
                if self._stopping.is_set() or time.monotonic() > deadline:
                    return {"request_id": rid, "ok": False,
                            "error": "the machine did not answer in time"}
        if not reply.ok:
            return {"request_id": rid, "ok": False, "error": reply.error}
        return {"request_id": rid, "ok": True}

    def _ledger(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect(self._config.ledger.path, readonly=True)
        return self._db

    def _report(self, request: ReportRequest) -> dict[str, Any]:
        try:
            report = sales_report(self._ledger(), request.start, request.end, request.maker)
        except (LedgerError, sqlite3.Error) as exc:
            log.error("report failed: %s", exc)
            return {"request_id": request.request_id, "ok": False,
                    "error": "the ledger cannot be read now"}
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

