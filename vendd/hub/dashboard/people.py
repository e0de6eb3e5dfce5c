"""The dashboard's accounts and sessions, in the hub's database (migration d001).

Three roles: `coordinator` (everything, and sends changes to machines, signed with her own
Ed25519 key), `maker` (her products, her sales, her statement; tied to one maker id of the
machines' configs), `member` (read-only summaries). Passwords are argon2id hashes; a session
is a random token whose SHA-256 is stored (a copy of the table opens no session), with its own
CSRF token and an expiry. Sign-in attempts are counted per account and per address in memory
(`Throttle`): the hub is one process, and a restart forgetting them costs an attacker nothing
worth having."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vendd.errors import VenddError

Role = Literal["coordinator", "maker", "member"]
ROLES: tuple[Role, ...] = ("coordinator", "maker", "member")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MIN_PASSWORD = 8

meta = sa.MetaData()
users_t = sa.Table(
    "web_users", meta,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("maker", sa.String(64)),
    sa.Column("password", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
sessions_t = sa.Table(
    "web_sessions", meta,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

_hasher = PasswordHasher()
# Verified against when the account does not exist, so both answers take as long.
_DUMMY = _hasher.hash("not a password of anyone")


class PeopleError(VenddError):
    """An account cannot be added, changed or removed as asked."""


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: Role
    maker: str | None = None

    @property
    def coordinator(self) -> bool:
        return self.role == "coordinator"


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class People:
    def __init__(self, engine: sa.Engine, session_s: float = 12 * 3600) -> None:
        self.engine = engine
        self.session_s = session_s

    # --- accounts ----------------------------------------------------------------------------

    def add(self, username: str, name: str, role: str, password: str,
            maker: str | None = None) -> User:
        if not USERNAME.match(username):
            raise PeopleError(f"username {username!r}: use 1-64 lowercase letters, digits, "
                              f"'_', '.' or '-'")
        if role not in ROLES:
            raise PeopleError(f"role {role!r}: must be one of {', '.join(ROLES)}")
        if (role == "maker") != bool(maker):
            raise PeopleError("--maker is required for a maker, and only for a maker")
        _check_password(password)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users_t.c.username)
                            .where(users_t.c.username == username)).first():
                raise PeopleError(f"user {username!r} already exists")
            conn.execute(users_t.insert().values(
                username=username, name=name or username, role=role, maker=maker,
                password=_hasher.hash(password), created_at=time.time()))
        return User(username, name or username, role, maker)

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        with self.engine.begin() as conn:
            done = conn.execute(users_t.update().where(users_t.c.username == username)
                                .values(password=_hasher.hash(password))).rowcount
            if not done:
                raise PeopleError(f"no user {username!r}")
            # A new password ends every open session of the account.
            conn.execute(sessions_t.delete().where(sessions_t.c.username == username))

    def remove(self, username: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(users_t.delete().where(users_t.c.username == username)).rowcount
            if not done:
                raise PeopleError(f"no user {username!r}")
            conn.execute(sessions_t.delete().where(sessions_t.c.username == username))

    def get(self, username: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users_t.c.username, users_t.c.name, users_t.c.role,
                                         users_t.c.maker)
                               .where(users_t.c.username == username)).first()
        return None if row is None else User(*row)

    def all(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users_t.c.username, users_t.c.name, users_t.c.role,
                                          users_t.c.maker).order_by(users_t.c.username))
            return [User(*r) for r in rows]

    def check(self, username: str, password: str) -> User | None:
        """The user when the password is hers; None otherwise (same work either way)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users_t.c.password)
                               .where(users_t.c.username == username)).first()
        stored = row[0] if row else _DUMMY
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return self.get(username) if row else None

    # --- sessions ----------------------------------------------------------------------------

    def open_session(self, user: User) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token)."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(24), time.time()
        with self.engine.begin() as conn:
            conn.execute(sessions_t.delete().where(sessions_t.c.expires_at < now))
            conn.execute(sessions_t.insert().values(
                token=_digest(token), username=user.username, csrf=csrf, created_at=now,
                expires_at=now + self.session_s))
        return token, csrf

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        j = sessions_t.join(users_t, users_t.c.username == sessions_t.c.username)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users_t.c.username, users_t.c.name, users_t.c.role,
                                         users_t.c.maker, sessions_t.c.csrf,
                                         sessions_t.c.expires_at).select_from(j)
                               .where(sessions_t.c.token == _digest(token))).first()
        if row is None or row[5] < time.time():
            return None
        return Session(User(*row[:4]), row[4])

    def close_session(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as conn:
                conn.execute(sessions_t.delete().where(sessions_t.c.token == _digest(token)))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PeopleError(f"the password must have at least {MIN_PASSWORD} characters")


class Throttle:
    """At most `limit` failed sign-ins per account and per address in `window_s`."""

    def __init__(self, limit: int = 5, window_s: float = 900.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def blocked_for(self, keys: list[str], now: float | None = None) -> float:
        """Seconds until a sign-in may be tried again (0: now)."""
        now = time.time() if now is None else now
        with self._lock:
            waits = [q[0] + self.window_s - now for k in keys
                     if len(q := self._recent(k, now)) >= self.limit]
        return max(waits, default=0.0)

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
