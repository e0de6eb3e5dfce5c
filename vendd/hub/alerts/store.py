"""The alerts' tables in the hub's database (created by migration `a001_alerts`).

- `alerts`: one row per alert. `key` names the condition (`machine/rule/slot-or-item`); at most
  one open alert per key (a unique index over the open ones), so a restarted or a second
  engine never opens it twice. `params` (JSON) fill its texts; `notices` counts the times it
  was sent, `next_notify_at` is the next reminder (NULL once acknowledged); `acked_*` and
  `closed_*` say who and when (`closed_by` is `condition` when the machine recovered).
- `alert_events`: every transition (`opened`, `notified`, `acknowledged`, `resolved`) with
  who and when.
- `alert_outbox`: one delivery per person, channel and notice (`opened`, `reminder`,
  `resolved`); pending while `delivered_at` and `cancelled_at` are NULL, tried again at
  `next_try_at` with back-off, `last_error` shown on the Alertas page. A restarted hub picks
  the pending ones up.
- `alert_cursors`: how far the event rules have read (each machine's verified rows, the
  integrity alarms), so a restart neither repeats nor skips an event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from vendd.hub.store import StoreError

metadata = sa.MetaData()

alerts_t = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("machine", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(32), nullable=False),
    sa.Column("slot", sa.String(32)),
    sa.Column("maker", sa.String(64)),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("opened_at", sa.Float, nullable=False),
    sa.Column("notices", sa.Integer, nullable=False),
    sa.Column("next_notify_at", sa.Float),
    sa.Column("acked_at", sa.Float),
    sa.Column("acked_by", sa.String(64)),
    sa.Column("closed_at", sa.Float),
    sa.Column("closed_by", sa.String(64)),
)

events_t = sa.Table(
    "alert_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("by", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

outbox_t = sa.Table(
    "alert_outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, nullable=False),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("notice", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("next_try_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("delivered_at", sa.Float),
    sa.Column("cancelled_at", sa.Float),
    sa.Column("last_error", sa.Text),
)

cursors_t = sa.Table(
    "alert_cursors", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True)
class Alert:
    id: int
    key: str
    machine: str
    rule: str
    slot: str | None
    maker: str | None
    params: dict[str, Any]
    opened_at: float
    notices: int
    next_notify_at: float | None
    acked_at: float | None
    acked_by: str | None
    closed_at: float | None
    closed_by: str | None


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: int
    person: str
    channel: str
    notice: str
    created_at: float
    next_try_at: float
    attempts: int
    delivered_at: float | None
    last_error: str | None


@dataclass(frozen=True)
class Transition:
    alert_id: int
    at: float
    action: str
    by: str
    detail: str


def _alert(r: Any) -> Alert:
    m = r._mapping
    return Alert(m["id"], m["key"], m["machine"], m["rule"], m["slot"], m["maker"],
                 json.loads(m["params"]), m["opened_at"], m["notices"], m["next_notify_at"],
                 m["acked_at"], m["acked_by"], m["closed_at"], m["closed_by"])


def _delivery(r: Any) -> Delivery:
    m = r._mapping
    return Delivery(m["id"], m["alert_id"], m["person"], m["channel"], m["notice"],
                    m["created_at"], m["next_try_at"], m["attempts"], m["delivered_at"],
                    m["last_error"])


class AlertStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write the alerts: {str(exc).splitlines()[0]}") from exc

    def _read(self, query: Any) -> list[Any]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query).all())
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the alerts: {str(exc).splitlines()[0]}") from exc

    # --- alerts ---------------------------------------------------------------------------

    def insert(self, conn: Connection, key: str, machine: str, rule: str, slot: str | None,
               maker: str | None, params: dict[str, Any], now: float) -> int | None:
        """Open an alert; None when one is open under `key` already (in a savepoint, so the
        caller's transaction goes on)."""
        try:
            with conn.begin_nested():
                result = conn.execute(alerts_t.insert().values(
                    key=key, machine=machine, rule=rule, slot=slot, maker=maker,
                    params=json.dumps(params, ensure_ascii=False, sort_keys=True),
                    opened_at=now, notices=0))
        except IntegrityError:
            return None
        key_row = result.inserted_primary_key
        assert key_row is not None
        alert_id = int(key_row[0])
        self.transition(conn, alert_id, now, "opened", "hub")
        return alert_id

    def transition(self, conn: Connection, alert_id: int, at: float, action: str, by: str,
                   detail: str = "") -> None:
        conn.execute(events_t.insert().values(alert_id=alert_id, at=at, action=action, by=by,
                                              detail=detail))

    def open_alerts(self) -> list[Alert]:
        return [_alert(r) for r in self._read(
            sa.select(alerts_t).where(alerts_t.c.closed_at.is_(None)).order_by(alerts_t.c.id))]

    def alert(self, alert_id: int) -> Alert | None:
        found = self._read(sa.select(alerts_t).where(alerts_t.c.id == alert_id))
        return _alert(found[0]) if found else None

    def recent(self, limit: int = 200) -> list[Alert]:
        """Open alerts first, then the latest closed ones."""
        a = alerts_t.c
        return [_alert(r) for r in self._read(
            sa.select(alerts_t).order_by(a.closed_at.is_not(None), a.id.desc()).limit(limit))]

    def notified(self, conn: Connection, alert: Alert, now: float, next_at: float | None,
                 ) -> bool:
        """Count a notice and set the next reminder; False when the alert was acknowledged or
        closed meanwhile (by a person on the dashboard)."""
        a = alerts_t.c
        done = conn.execute(alerts_t.update().where(
            a.id == alert.id, a.closed_at.is_(None), a.acked_at.is_(None),
            a.notices == alert.notices).values(notices=alert.notices + 1,
                                               next_notify_at=next_at))
        if done.rowcount:
            self.transition(conn, alert.id, now, "notified", "hub", str(alert.notices + 1))
        return bool(done.rowcount)

    def acknowledge(self, alert_id: int, by: str, now: float, close: bool = False) -> bool:
        """A person saw it: no more reminders (an event alert is also closed by it)."""
        a = alerts_t.c
        values: dict[str, Any] = {"acked_at": now, "acked_by": by, "next_notify_at": None}
        if close:
            values |= {"closed_at": now, "closed_by": by}
        with self.begin() as conn:
            done = conn.execute(alerts_t.update().where(
                a.id == alert_id, a.closed_at.is_(None), a.acked_at.is_(None)).values(**values))
            if not done.rowcount:
                return False
            self.transition(conn, alert_id, now, "acknowledged", by)
            if close:
                self.transition(conn, alert_id, now, "resolved", by)
        return True

    def close(self, conn: Connection, alert_id: int, by: str, now: float) -> bool:
        a = alerts_t.c
        done = conn.execute(alerts_t.update().where(a.id == alert_id, a.closed_at.is_(None))
                            .values(closed_at=now, closed_by=by, next_notify_at=None))
        if done.rowcount:
            self.transition(conn, alert_id, now, "resolved", by)
        return bool(done.rowcount)

    def transitions(self, alert_id: int) -> list[Transition]:
        e = events_t.c
        return [Transition(r.alert_id, r.at, r.action, r.by, r.detail) for r in self._read(
            sa.select(events_t).where(e.alert_id == alert_id).order_by(e.id))]

    # --- outbox ---------------------------------------------------------------------------

    def enqueue(self, conn: Connection, alert_id: int, person: str, channel: str, notice: str,
                now: float, not_before: float) -> None:
        conn.execute(outbox_t.insert().values(
            alert_id=alert_id, person=person, channel=channel, notice=notice, created_at=now,
            next_try_at=max(now, not_before), attempts=0))

    def cancel_pending(self, conn: Connection, alert_id: int, person: str, now: float) -> int:
        """Withdraw what was not delivered yet to `person` (held through her quiet hours):
        the alert is over, there is nothing left to say."""
        o = outbox_t.c
        return int(conn.execute(outbox_t.update().where(
            o.alert_id == alert_id, o.person == person, o.delivered_at.is_(None),
            o.cancelled_at.is_(None)).values(cancelled_at=now)).rowcount)

    def due(self, now: float, limit: int = 50) -> list[Delivery]:
        o = outbox_t.c
        return [_delivery(r) for r in self._read(
            sa.select(outbox_t).where(o.delivered_at.is_(None), o.cancelled_at.is_(None),
                                      o.next_try_at <= now).order_by(o.id).limit(limit))]

    def next_due(self) -> float | None:
        o = outbox_t.c
        found = self._read(sa.select(sa.func.min(o.next_try_at)).where(
            o.delivered_at.is_(None), o.cancelled_at.is_(None)))
        return found[0][0] if found else None

    def delivered(self, delivery_id: int, now: float) -> None:
        with self.begin() as conn:
            conn.execute(outbox_t.update().where(outbox_t.c.id == delivery_id)
                         .values(delivered_at=now, attempts=outbox_t.c.attempts + 1))

    def failed(self, delivery_id: int, error: str, next_at: float) -> None:
        with self.begin() as conn:
            conn.execute(outbox_t.update().where(outbox_t.c.id == delivery_id).values(
                attempts=outbox_t.c.attempts + 1, last_error=error[:500], next_try_at=next_at))

    def deliveries(self, alert_id: int | None = None) -> list[Delivery]:
        o = outbox_t.c
        query = sa.select(outbox_t).order_by(o.id)
        if alert_id is not None:
            query = query.where(o.alert_id == alert_id)
        return [_delivery(r) for r in self._read(query)]

    def failing(self) -> list[Delivery]:
        """Pending deliveries whose last try failed: a channel that is down."""
        o = outbox_t.c
        return [_delivery(r) for r in self._read(
            sa.select(outbox_t).where(o.delivered_at.is_(None), o.cancelled_at.is_(None),
                                      o.last_error.is_not(None)).order_by(o.id))]

    # --- cursors --------------------------------------------------------------------------

    def cursors(self) -> dict[str, int]:
        return {r.name: int(r.value) for r in self._read(sa.select(cursors_t))}

    def set_cursor(self, conn: Connection, name: str, value: int) -> None:
        done = conn.execute(cursors_t.update().where(cursors_t.c.name == name)
                            .values(value=value))
        if not done.rowcount:
            conn.execute(cursors_t.insert().values(name=name, value=value))
