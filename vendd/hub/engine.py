"""Opening the hub's database: the URL (psycopg 3 for PostgreSQL, a password from a file), and
SQLite's pragmas (WAL, synchronous=FULL, a busy timeout, write transactions that take the lock
at BEGIN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from vendd.hub.records import StoreError


def database_url(url: str, password_file: Path | None = None) -> URL:
    """The SQLAlchemy URL: `postgresql://` goes through psycopg 3; a password from a file."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"store.url: not a database URL: {url!r}") from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as exc:
            raise StoreError(f"store.password_file: cannot read {password_file}") from exc
        parsed = parsed.set(password=password)
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "isolation_level": None})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers (status, reports) never block ingest
        cur.execute("PRAGMA synchronous=FULL")  # a batch acked to the broker survives power loss
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Take the write lock at the start: a head read inside cannot go stale before its
        # update, even with a second process writing.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(url: str, password_file: Path | None = None) -> Engine:
    parsed = database_url(url, password_file)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True)




def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "store.url"
