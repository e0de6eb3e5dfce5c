"""`vendd watch`: a coordinator's view of the MQTT feed in the terminal: online status, live
sales with product and maker, faults, stock and price changes, cash collection.
With the machine's config it follows that machine on the broker the config names (TLS,
username/password as configured); with `--host/--port/--prefix` it needs no config and follows
every machine under the prefix (or the ones named), each line marked with its machine.

    watch_main(config)                                  # until Ctrl-C
    watch_main(config, out=buf, stop_after=5.0)         # tests
    watch_broker("hub.local", 1883, "vendd", ["quito-01", "quito-02"])"""

from __future__ import annotations

import json
import logging
import queue
import sys
import time
import uuid
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from vendd.config import Config, MqttConfig
from vendd.errors import TelemetryError
from vendd.money import Money
from vendd.telemetry.client import make_client, refusal

log = logging.getLogger(__name__)

QUIET = frozenset({"credit", "vend_intent", "service_key", "note", "maker_added",
                   "slot_configured", "payout", "card_approved", "card_denied",
                   "coin_counter"})


class WatchView:
    """Turns feed messages into lines; dedupes events by (machine, seq) (the feed is
    at-least-once). `machines`: the ids followed; empty: every machine under the prefix.
    With more than one machine possible, each line names its machine."""

    def __init__(self, out: TextIO, prefix: str, machines: list[str], *,
                 tz: ZoneInfo | None = None, money: Money | None = None,
                 makers: dict[str, str] | None = None) -> None:
        self.out = out
        self.prefix = prefix.rstrip("/")
        self.machines = machines
        self.tz = tz or datetime.now().astimezone().tzinfo
        self.money = money or Money()
        self.makers = makers or {}
        self.tagged = len(machines) != 1
        self.seen: dict[str, set[int]] = {}
        self.stocks: dict[str, dict[str, int]] = {}
        self.statuses: dict[str, str] = {}
        self.machine = machines[0] if machines else ""

    @classmethod
    def of_config(cls, config: Config, out: TextIO) -> WatchView:
        return cls(out, config.mqtt.prefix, [config.machine.id],
                   tz=ZoneInfo(config.machine.timezone),
                   money=Money(config.machine.currency, config.machine.decimals),
                   makers={m.id: m.name for m in config.makers})

    def filters(self) -> list[str]:
        ids = self.machines or ["+"]
        return [f"{self.prefix}/{m}/{part}" for m in ids
                for part in ("status", "state", "event/#", "response/#")]

    def line(self, text: str, ts: str | None = None) -> None:
        when = datetime.fromisoformat(ts).astimezone(self.tz) if ts else datetime.now(self.tz)
        tag = f"{self.machine:<12} " if self.tagged else ""
        self.out.write(f"{when:%H:%M:%S}  {tag}{text}\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.out.write(f"vendd watch: {text}\n")
        self.out.flush()

    def handle(self, topic: str, payload: bytes) -> None:
        self.machine, _, rel = topic.removeprefix(self.prefix + "/").partition("/")
        self.seen_here = self.seen.setdefault(self.machine, set())
        self.stock = self.stocks.setdefault(self.machine, {})
        try:
            if rel == "status":
                self._status(payload.decode("utf-8", "replace"))
            elif rel == "state":
                self._state(json.loads(payload))
            elif rel.startswith("event/"):
                self._event(json.loads(payload))
            elif rel.startswith("response/"):
                body = json.loads(payload)
                verdict = "ok" if body.get("ok") else f"refused: {body.get('error')}"
                self.line(f"reply  {rel.removeprefix('response/')} "
                          f"{body.get('request_id')}: {verdict}")
        except (ValueError, KeyError, TypeError) as exc:
            self.line(f"?      unreadable message on {topic}: {exc}")

    def _status(self, status: str) -> None:
        if status != self.statuses.get(self.machine):
            self.statuses[self.machine] = status
            mark = "●" if status == "online" else "○"
            self.line(f"{mark}      {self.machine} is {status}")

    def _state(self, state: dict[str, Any]) -> None:
        slots = state.get("slots", {})
        if not self.stock:
            summary = "  ".join(f"{sid} {s['stock']}/{s['capacity']}"
                                for sid, s in sorted(slots.items()))
            self.line(f"stock  {summary}")
            faults = state.get("faults") or []
            if faults:
                self.line(f"FAULT  open: {', '.join(faults)}")
        for sid, s in slots.items():
            if s["stock"] == 0 and self.stock.get(sid, 1) != 0:
                self.line(f"stock  {sid} {s['product']} is sold out")
            self.stock[sid] = s["stock"]

    def _maker(self, maker_id: str) -> str:
        return self.makers.get(maker_id, maker_id)

    def _event(self, e: dict[str, Any]) -> None:
        seq = int(e["seq"])
        if seq in self.seen_here:
            return
        self.seen_here.add(seq)
        kind, f, ts = e["kind"], e.get("fields", {}), e.get("ts")
        if kind in QUIET:
            return
        if f.get("coordinator") and f.get("by") == "coordinator":  # a signed request's change
            f = {**f, "by": f"coordinator {f['coordinator']}"}
        m = self.money
        match kind:
            case "sale":
                text = (f"SALE   {f['slot']} {f['product']} — {self._maker(f['maker'])}  "
                        f"{m(f['price'])} ({f['payment']})")
            case "vend_failed":
                text = f"FAIL   {f['slot']} did not deliver ({f['outcome']}), {m(f['price'])} back"
            case "device_fault":
                text = f"FAULT  {f['device']}: {f['code']} {f.get('detail', '')}".rstrip()
            case "device_recovered":
                text = f"ok     {f['device']} works again"
            case "slot_fault":
                text = f"FAULT  slot {f.get('slot')}: {f.get('fault', f.get('code', ''))}"
            case "slot_fault_cleared":
                text = f"ok     slot {f['slot']} fault cleared by {self._maker(f['by'])}"
            case "stock_set":
                text = (f"stock  {f['slot']} {f['before']} -> {f['after']} ({f['reason']}, "
                        f"by {self._maker(f['by'])})")
            case "price_set":
                text = (f"price  {f['slot']} {m(f['before'])} -> {m(f['price'])} "
                        f"(by {self._maker(f['by'])})")
            case "slot_enabled":
                state = "enabled" if f["enabled"] else "disabled"
                text = f"slot   {f['slot']} {state} by {self._maker(f['by'])}"
            case "service_mode":
                text = (f"mode   out of service: {f['reason']}" if f["out_of_service"]
                        else "mode   back in service")
            case "cash_collected":
                text = (f"cash   box collected by {self._maker(f['by'])}: counted "
                        f"{m(f['counted'])}, expected {m(f['expected'])}")
            case "unclaimed":
                text = f"credit {m(f.get('amount', 0))} left unclaimed"
            case "request":
                answer = "ok" if f["ok"] else f"refused: {f.get('error', '')}"
                text = (f"remote {f['action']} signed by {f['coordinator']} "
                        f"({f['request_id']}): {answer}")
            case "started":
                text = f"start  vendd {f.get('version', '')} started"
            case _:
                detail = " ".join(f"{k}={v}" for k, v in sorted(f.items()))
                text = f"{kind:<6} {detail}"
        self.line(f"{text}  [#{seq}]", ts)


def watch_main(config: Config, out: TextIO = sys.stdout, stop_after: float | None = None,
               ) -> int:
    """Follow one machine's feed with its config until Ctrl-C (or `stop_after` seconds).
    0 on a normal end, 1 when the broker refuses the credentials or cannot be reached,
    2 when the MQTT settings cannot be used."""
    return _follow(config.mqtt, WatchView.of_config(config, out), stop_after)


def watch_broker(host: str, port: int, prefix: str, machines: list[str],
                 out: TextIO = sys.stdout, stop_after: float | None = None,
                 timezone: str | None = None) -> int:
    """Follow machines on a broker without any machine's config (anonymous, plain MQTT)."""
    try:
        mqtt = MqttConfig(host=host, port=port, prefix=prefix)
    except ValueError as exc:
        out.write(f"vendd watch: {str(exc).splitlines()[-1].strip()}\n")
        return 2
    view = WatchView(out, prefix, machines, tz=ZoneInfo(timezone) if timezone else None)
    return _follow(mqtt, view, stop_after)


def _follow(cfg: MqttConfig, view: WatchView, stop_after: float | None) -> int:
    out = view.out
    try:
        client = make_client(cfg, f"vendd-watch-{uuid.uuid4().hex[:8]}")
    except TelemetryError as exc:
        out.write(f"vendd watch: {exc}\n")
        return 2
    inbox: queue.Queue[tuple[str, bytes] | str] = queue.Queue()
    state = {"connected": False, "ever": False, "failures": 0}
    where = f"{cfg.host}:{cfg.port}"

    def on_connect(c: paho.Client, userdata: Any, flags: Any, rc: ReasonCode,
                   props: Any) -> None:
        if rc.is_failure:
            inbox.put(f"the broker refused the connection: {rc} ({refusal(rc) or 'refused'})")
            return
        if state["failures"] or state["ever"]:
            inbox.put(("", f"connected to {where}".encode()))
        state["connected"] = state["ever"] = True
        state["failures"] = 0
        c.subscribe([(f, 1) for f in view.filters()])

    def on_disconnect(c: paho.Client, userdata: Any, flags: Any, rc: ReasonCode,
                      props: Any) -> None:
        if state["connected"]:
            inbox.put(("", f"lost the broker at {where}; reconnecting".encode()))
        state["connected"] = False

    def on_connect_fail(c: paho.Client, userdata: Any) -> None:
        state["failures"] += 1
        if state["failures"] == 1:
            inbox.put(("", f"cannot connect to the MQTT broker at {where} (is it running, "
                           f"are --host/--port right?); still trying".encode()))

    def on_message(c: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        inbox.put((msg.topic, bytes(msg.payload)))

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_connect_fail = on_connect_fail
    client.on_message = on_message
    client.reconnect_delay_set(1, 10)
    shown = " ".join(view.machines) if view.machines else "every machine"
    out.write(f"watching {shown} under {view.prefix}/ on {where} (Ctrl-C to stop)\n")
    try:
        client.connect_async(cfg.host, cfg.port, cfg.keepalive_s, clean_start=True)
    except ValueError as exc:
        out.write(f"vendd watch: cannot connect to {cfg.host}: {exc}\n")
        return 2
    client.loop_start()
    deadline = None if stop_after is None else time.monotonic() + stop_after
    rc = 0
    try:
        while deadline is None or time.monotonic() < deadline:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                continue
            if isinstance(item, str):
                out.write(f"vendd watch: {item}\n")
                rc = 1
                break
            if not item[0]:
                view.note(item[1].decode())
                continue
            view.handle(*item)
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    if rc == 0 and not state["ever"]:
        rc = 1  # never reached the broker: said so above
    return rc
