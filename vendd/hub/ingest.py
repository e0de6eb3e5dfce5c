"""The hub's MQTT side: every machine's journal rows, status and state in; replay requests out.

- Subscribes (MQTT v5, persistent session: a stable client id, clean_start off and a
  SessionExpiryInterval) to `<p>/+/event/#` at QoS 1, shared as `$share/<group>/<p>/+/event/#`
  when several workers split the stream, plus `<p>/+/status`, `<p>/+/state` and
  `<p>/+/response/replay`, which every worker follows unshared (a broker hands a retained
  message to every member of a share group anyway).
- Acknowledges a message only after the batch holding it is committed (paho's manual acks):
  a hub killed at any moment loses nothing, the broker delivers the unacknowledged rows again
  and the store takes each `(machine, seq)` once.
- One thread runs paho's network loop itself and, between two reads, parses a batch, hands it
  to the writer (writer.py: a child process that stores it and moves the verified heads),
  acknowledges the batch the writer committed, and asks machines for missing rows (gaps.py).
  The writer stores on the other core while this thread reads on; a second thread here would
  fight this one for the interpreter lock on every packet instead."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from vendd.errors import TelemetryError
from vendd.hub.config import HubConfig
from vendd.hub.feedrow import parse_row
from vendd.hub.gaps import GapKeeper
from vendd.hub.store import Store, StoreError
from vendd.hub.writer import RESULT_S, Done, Job, writer_for
from vendd.telemetry.client import (
    RECONNECT_MAX_S,
    RECONNECT_MIN_S,
    connect_properties,
    make_client,
)

log = logging.getLogger(__name__)

BATCH = 5000  # messages per transaction at most
LINGER_S = 0.02  # how long a batch waits for more messages once one came
WRITER_POLL_S = 0.002  # while the writer stores, how often its answer is looked for
RETRY_S = 2.0  # a failed write is tried again after this (nothing is acked meanwhile)
REPORT_S = 5.0  # how often the counters are logged while they change


class Received(NamedTuple):
    topic: str
    payload: bytes
    mid: int
    qos: int


@dataclass
class Counters:
    messages: int = 0
    rows: int = 0
    duplicates: int = 0
    malformed: int = 0
    alarms: int = 0
    replays_asked: int = 0
    last_error: str = ""
    extra: dict[str, int] = field(default_factory=dict)


class Ingest:
    """A component of `hub run` / `hub ingest`: start() returns at once, stop() drains."""

    name = "ingest"

    def __init__(self, config: HubConfig, store: Store, *, worker: str | None = None,
                 batch: int = BATCH, linger_s: float = LINGER_S) -> None:
        self.config = config
        self.store = store
        mq = config.mqtt
        self.prefix = mq.prefix.rstrip("/")
        self.client_id = mq.client_id + (f"-{worker}" if worker else "")
        self.batch = batch
        self.linger_s = linger_s
        self.counters = Counters()
        self.connected = threading.Event()  # subscribed: the broker took the subscriptions
        self._pending: list[Received] = []  # not yet handed to the writer
        self._inflight: list[Received] = []  # with the writer, not yet acked
        self._inflight_job = Job()
        self._writer = writer_for(store)
        self._session_open = False  # the broker accepted the last connection
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._online: dict[str, str] = {}
        # request_id -> (machine, the head the hub had verified when it asked): an answer
        # whose head is below that proves the machine's journal went backwards.
        self._asked: dict[str, tuple[str, int]] = {}
        self._catch_up = threading.Event()
        self._reported: tuple[int, int] = (0, 0)
        self._reported_at = 0.0
        try:
            self.client = make_client(mq.client_config(), self.client_id)
        except TelemetryError as exc:
            raise TelemetryError(f"hub mqtt: {exc}") from exc
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.gaps = GapKeeper(config.gaps, store, self.request_replay)

    # --- topics --------------------------------------------------------------------------

    @property
    def event_filter(self) -> str:
        base = f"{self.prefix}/+/event/#"
        group = self.config.mqtt.share_group
        return f"$share/{group}/{base}" if group else base

    def follow_filters(self) -> list[str]:
        return [f"{self.prefix}/+/status", f"{self.prefix}/+/state",
                f"{self.prefix}/+/response/replay"]

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        mq = self.config.mqtt
        props = connect_properties(mq.session_expiry_s)
        props.ReceiveMaximum = 65535  # as many unacked rows in flight as the broker allows
        try:
            self.client.connect_async(mq.host, mq.port, mq.keepalive_s, clean_start=False,
                                      properties=props)
        except ValueError as exc:
            raise TelemetryError(f"hub mqtt: cannot connect to {mq.host}: {exc}") from exc
        self._writer.open()
        self._thread = threading.Thread(target=self._run, name="hub-ingest", daemon=True)
        self._thread.start()
        log.info("ingest %s: following %s on %s:%d", self.client_id, self.event_filter,
                 mq.host, mq.port)

    def stop(self) -> None:
        """Store and acknowledge what came in, then leave (the session stays: what arrives
        meanwhile is delivered to the next start)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)
        self._writer.close()
        self._report(force=True)

    def _report(self, force: bool = False) -> None:
        c = self.counters
        now = time.monotonic()
        if not force and ((c.messages, c.rows) == self._reported
                          or now - self._reported_at < REPORT_S):
            return
        self._reported, self._reported_at = (c.messages, c.rows), now
        log.info("ingest %s: %d messages, %d new rows, %d duplicates, %d malformed, "
                 "%d alarms, %d replays asked", self.client_id, c.messages, c.rows,
                 c.duplicates, c.malformed, c.alarms, c.replays_asked)

    # --- paho's callbacks (run by the ingest thread, inside client.loop) -----------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode,
                    props: Properties | None) -> None:
        if rc.is_failure:
            log.error("the broker refused the hub: %s", rc)
            self.counters.last_error = f"broker refused the connection: {rc}"
            return
        log.info("hub connected (session present: %s)", getattr(flags, "session_present", None))
        client.subscribe([(self.event_filter, 1), *((f, 1) for f in self.follow_filters())])
        self._session_open = True
        self._catch_up.set()

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int,
                      codes: list[ReasonCode], props: Properties | None) -> None:
        # Connected means subscribed: a row published before the broker took the SUBSCRIBE
        # would not reach a new session.
        refused = [str(c) for c in codes if c.is_failure]
        if refused:
            log.error("the broker refused the hub's subscriptions: %s", ", ".join(refused))
            self.counters.last_error = f"subscriptions refused: {', '.join(refused)}"
            return
        self.connected.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode,
                       props: Properties | None) -> None:
        if self.connected.is_set() and not self._stopping.is_set():
            log.warning("hub lost the broker (%s); reconnecting", rc)
        self.connected.clear()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        # Only what is needed later: thousands of paho's messages (and their properties' dicts)
        # held until stored would be walked by every garbage collection, a third of the rate.
        self._pending.append(Received(msg.topic, bytes(msg.payload), msg.mid, msg.qos))

    # --- the ingest thread ---------------------------------------------------------------

    def _run(self) -> None:
        backoff = RECONNECT_MIN_S
        try:
            while not self._stopping.is_set():
                self._session_open = False  # set by _on_connect once the broker accepts
                if self._connect():
                    self._serve_once()
                if self._session_open:
                    backoff = RECONNECT_MIN_S  # it worked: the next attempt comes at once
                    continue
                # Unreachable, or refused (credentials, ACL): wait longer each time.
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, RECONNECT_MAX_S)
        finally:
            self.client.disconnect()

    def _serve_once(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # the thread boundary: ingest must not end silently
            log.exception("hub ingest failed; starting again")
            self.counters.last_error = f"{type(exc).__name__}: {exc}"
            self.connected.clear()
            self.client.disconnect()
            self._stopping.wait(RETRY_S)

    def _connect(self) -> bool:
        """(Re)open the session; False when the broker cannot be reached yet."""
        try:
            return self.client.reconnect() == paho.MQTT_ERR_SUCCESS
        except OSError as exc:
            if self.counters.last_error != f"cannot reach the broker: {exc}":
                log.warning("hub cannot reach the broker: %s (retrying)", exc)
            self.counters.last_error = f"cannot reach the broker: {exc}"
            return False

    def _serve(self) -> None:
        """Read; hand the writer the pending batch whenever it is free and the batch is full or
        has waited `linger_s`, and acknowledge a batch once the writer committed it. Returns
        when the connection is lost (what was not acknowledged comes again) or, having stored
        what came, when stop() was called. Raises on a bug."""
        first_at: float | None = None
        try:
            while True:
                stopping = self._stopping.is_set()
                if self._writer.busy:
                    timeout = WRITER_POLL_S
                else:
                    timeout = min(self.linger_s, 0.5) if self._pending else 0.5
                rc = self.client.loop(timeout=timeout)
                if not self._collect(0):
                    return
                if self._pending and first_at is None:
                    first_at = time.monotonic()
                if (first_at is not None and not self._writer.busy
                        and (stopping or len(self._pending) >= self.batch
                             or time.monotonic() - first_at >= self.linger_s)):
                    if not self._submit():
                        return
                    first_at = time.monotonic() if self._pending else None
                if rc != paho.MQTT_ERR_SUCCESS:  # on_disconnect said so
                    return
                if stopping:  # what was handed over is stored and acked; the rest comes again
                    if self._collect(RESULT_S) and self._pending and self._submit():
                        self._collect(RESULT_S)
                    return
                if not self._writer.busy:
                    self._housekeeping()
        finally:
            self._abandon()

    def _submit(self) -> bool:
        """Hand the writer the next batch; False when it cannot take it (nothing acked)."""
        batch, self._pending = self._pending[:self.batch], self._pending[self.batch:]
        job = self._job(batch)
        try:
            self._writer.submit(job)
        except StoreError as exc:
            self._write_failed(exc)
            return False
        self._inflight, self._inflight_job = batch, job
        return True

    def _collect(self, timeout: float) -> bool:
        """Acknowledge the batch the writer stored, if it did; False after a failed write."""
        try:
            done = self._writer.result(timeout)
        except StoreError as exc:
            self._write_failed(exc)
            return False
        if done is not None:
            batch = self._inflight
            self._settle(done)
            for msg in batch:
                if msg.qos:
                    self.client.ack(msg.mid, msg.qos)
        return True

    def _settle(self, done: Done) -> None:
        c, job = self.counters, self._inflight_job
        c.rows += done.result.inserted
        c.duplicates += done.result.duplicates
        c.alarms += len(done.result.alarms) + done.head_alarms
        self._inflight, self._inflight_job = [], Job()
        for machine, status in job.statuses.items():
            if status == "online" and self._online.get(machine) != "online":
                self._ask_catch_up(machine)
            self._online[machine] = status

    def _abandon(self) -> None:
        """The session ended: a batch still in the writer is stored but not acknowledged (its
        message ids belonged to that session), and nothing pending is."""
        self._pending.clear()
        if not self._writer.busy:
            return
        try:
            done = self._writer.result(RESULT_S)
        except StoreError as exc:
            log.error("hub cannot write: %s", exc)
            done = None
        if done is not None:
            self._settle(done)
        else:
            self._writer.close()  # hung or failed: a fresh child takes the next batch
        self._inflight, self._inflight_job = [], Job()

    def _write_failed(self, exc: StoreError) -> None:
        # Nothing is acked: the broker sends the same messages again on the next session.
        log.error("hub cannot write: %s (retrying)", exc)
        self.counters.last_error = str(exc)
        self._pending.clear()
        self._inflight, self._inflight_job = [], Job()
        self.connected.clear()
        self.client.disconnect()
        self._stopping.wait(RETRY_S)

    def _job(self, messages: list[Received]) -> Job:
        """What the messages ask of the store (rows parsed here, in the reading process)."""
        job = Job()
        plen = len(self.prefix) + 1
        for msg in messages:
            topic = msg.topic
            machine, _, rel = topic[plen:].partition("/")
            try:
                if rel.startswith("event/"):
                    job.rows.append(parse_row(machine, msg.payload))
                elif rel == "status":
                    job.statuses[machine] = msg.payload.decode("utf-8", "replace")[:16]
                elif rel == "state":
                    job.states[machine] = msg.payload.decode("utf-8")
                elif rel == "response/replay":
                    self._replay_answer(machine, msg.payload, job.heads)
            except (ValueError, UnicodeDecodeError) as exc:
                self.counters.malformed += 1
                log.warning("unreadable message on %s: %s", topic, exc)
        self.counters.messages += len(messages)
        return job

    def _replay_answer(self, machine: str, payload: bytes,
                       heads: dict[str, tuple[int, int | None]]) -> None:
        body = json.loads(payload)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        head = body.get("head")
        asked = self._asked.pop(str(body.get("request_id")), None)
        if body.get("ok") and isinstance(head, int) and not isinstance(head, bool):
            ours = asked[1] if asked is not None and asked[0] == machine else None
            heads[machine] = (head, ours)
        elif not body.get("ok"):
            log.info("%s: replay %s refused: %s", machine, body.get("request_id"),
                     body.get("error"))

    def _housekeeping(self) -> None:
        if self._catch_up.is_set() and self.connected.is_set():
            self._catch_up.clear()
            for m in self.store.machines():
                self._ask_catch_up(m.id)
        self.gaps.tick(time.time())
        self._report()

    def _ask_catch_up(self, machine: str) -> None:
        """Rows the machine journaled after the last one the hub holds: a hub that was away
        longer than its session would otherwise not know they exist until the next sale."""
        m = self.store.machine(machine)
        head = m.head_seq if m else 0
        self.request_replay(machine, head + 1, head + self.config.gaps.max_rows)

    def request_replay(self, machine: str, first: int, last: int) -> None:
        rid = f"hub-{uuid.uuid4().hex[:12]}"
        m = self.store.machine(machine)
        if len(self._asked) > 10_000:  # answers that never came
            self._asked.clear()
        self._asked[rid] = (machine, m.head_seq if m else 0)
        body = json.dumps({"request_id": rid, "from": first, "to": last})
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = 60  # a request nobody took in time is stale
        self.client.publish(f"{self.prefix}/{machine}/request/replay", body, qos=1,
                            properties=props)
        self.counters.replays_asked += 1
        log.info("%s: asked for rows %d..%d", machine, first, last)
