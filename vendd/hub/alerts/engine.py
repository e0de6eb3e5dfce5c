"""The alerts' lifecycle, one `tick()` at a time (a thread calls it every `tick_s`; tests call
it with their own clock):

1. event rules read the new verified rows and alarms (rules.EventScanner);
2. each condition that holds and has no open alert opens one (once: a unique key) and
   notifies everyone it concerns;
3. an open alert whose condition ended is closed (`resolved`, by `condition`) and its people
   are told; an event alert stays until a person acknowledges it;
4. an open, unacknowledged alert past `next_notify_at` is sent again (a reminder).

A notice becomes rows of the outbox (one per person and channel) in the transaction that
changes the alert, so a crash never loses nor repeats one; the deliveries go out on their own
thread (delivery.py). A person in her quiet hours gets the new alert when they end, no
reminders, and nothing at all of an alert that ended before she was told."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Connection

from vendd.hub.alerts.routing import quiet_end, recipients
from vendd.hub.alerts.rules import EVENT_RULES, Condition, EventScanner, evaluate
from vendd.hub.alerts.store import Alert, AlertStore
from vendd.hub.config import HubConfig
from vendd.hub.store import Store, StoreError

log = logging.getLogger(__name__)

Clock = Callable[[], float]
_SECTION = {"email": "smtp", "webhook": "webhook", "telegram": "telegram"}  # [alerts.<section>]


class Engine:
    def __init__(self, config: HubConfig, store: Store, *, clock: Clock = time.time,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.on_change = on_change
        self.alerts = AlertStore(store.engine)
        self.scanner = EventScanner(config, store, self.alerts, self._opened)
        self.configured = {name for name in ("email", "webhook", "telegram")
                           if getattr(config.alerts, _SECTION[name]) is not None}

    def tick(self) -> None:
        now = self.clock()
        self.scanner.scan(now)
        found = evaluate(self.config, self.store, self.alerts.cursors(), now)
        held = {a.key: a for a in self.alerts.open_alerts()}
        for key, c in found.conditions.items():
            if key not in held:
                with self.alerts.begin() as conn:
                    alert_id = self.alerts.insert(conn, c.key, c.machine, c.rule, c.slot,
                                                  c.maker, c.params, now)
                    if alert_id is not None:
                        self._opened(conn, alert_id, c, now)
        renotify = self.config.alerts.renotify_minutes * 60
        for a in held.values():
            if a.rule not in EVENT_RULES and a.key not in found.conditions \
                    and a.key not in found.held:
                with self.alerts.begin() as conn:
                    if self.alerts.close(conn, a.id, "condition", now):
                        self._notify(conn, a, "resolved", now)
                continue
            if a.acked_at is None and a.next_notify_at is not None and a.next_notify_at <= now:
                with self.alerts.begin() as conn:
                    if self.alerts.notified(conn, a, now, now + renotify):
                        self._notify(conn, a, "reminder", now)
        self.on_change()

    def _opened(self, conn: Connection, alert_id: int, c: Condition, now: float) -> None:
        alert = Alert(alert_id, c.key, c.machine, c.rule, c.slot, c.maker, c.params, now, 0,
                      None, None, None, None, None)
        renotify = self.config.alerts.renotify_minutes * 60
        self.alerts.notified(conn, alert, now, now + renotify)
        self._notify(conn, alert, "opened", now)
        log.info("alert %s opened", c.key)

    def _notify(self, conn: Connection, alert: Alert, notice: str, now: float) -> None:
        for r in recipients(self.config, alert):
            quiet = quiet_end(r, now)
            if quiet is not None and notice == "reminder":
                continue
            if quiet is not None and notice == "resolved" \
                    and self.alerts.cancel_pending(conn, alert.id, r.name, now):
                continue  # she was never told it opened: nothing to say now
            for channel in dict.fromkeys(r.person.channels):
                if channel in self.configured:
                    self.alerts.enqueue(conn, alert.id, r.name, channel, notice, now,
                                        quiet or now)


class EngineThread:
    """Runs `tick()` every `tick_s` until stopped; a failing tick is logged and tried again."""

    def __init__(self, engine: Engine, tick_s: float) -> None:
        self.engine = engine
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alerts-rules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.engine.tick()
            except StoreError as exc:
                log.warning("alerts: %s", exc)
            except Exception:  # the thread's boundary: the next tick tries again
                log.exception("alerts: a tick failed")
            self._stop.wait(self.tick_s)
