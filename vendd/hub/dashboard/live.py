"""The live parts: one poller notices when the store changed (a machine's verified head,
status, state, gaps or alarms; or a change's answer), and every open `/eventos` stream gets
a `tick` event naming each machine's verified head. Pages refetch their live fragment on it
(htmx `hx-trigger="sse:tick"`), so what a reader sees is always what her role may see.

The store is polled rather than told by the ingest component because ingest may run in other
processes (`vendd hub ingest` workers); the poll is one small aggregate query."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vendd.hub.store import Store, StoreError, machines_t

log = logging.getLogger(__name__)

POLL_S = 0.1
PING_S = 15.0


class Live:
    def __init__(self, store: Store, poll_s: float = POLL_S) -> None:
        self.store = store
        self.poll_s = poll_s
        self.version = 0
        self.heads: dict[str, int] = {}
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mark: tuple[object, ...] | None = None
        self.closing = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._poll(), name="dashboard-live")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _read(self) -> tuple[tuple[object, ...], dict[str, int]]:
        m = machines_t.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(m.id, m.head_seq, m.status, m.state_at, m.status_at,
                                          m.gap_count, m.alarm_count)).all()
        return tuple(tuple(r) for r in rows), {r[0]: int(r[1]) for r in rows}

    async def _poll(self) -> None:
        while True:
            try:
                mark, heads = await asyncio.to_thread(self._read)
            except StoreError as exc:
                log.warning("live: cannot read the store: %s", exc)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("live: cannot read the store: %s", exc)
            else:
                if mark != self._mark:
                    self._mark, self.heads = mark, heads
                    await self._bump()
            await asyncio.sleep(self.poll_s)

    async def _bump(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    def close_threadsafe(self) -> None:
        """End every open stream (the server is stopping: a stream never ends by itself)."""
        self.closing = True
        self.bump_threadsafe()

    def bump_threadsafe(self) -> None:
        """From another thread (a change's answer came): tell every stream."""
        if self._loop is not None and self._changed is not None:
            asyncio.run_coroutine_threadsafe(self._bump(), self._loop)

    async def wait(self, seen: int) -> int:
        assert self._changed is not None
        async with self._changed:
            await self._changed.wait_for(lambda: self.version != seen)
            return self.version

    async def events(self, request: Request) -> AsyncIterator[dict[str, str]]:
        seen = -1
        while not self.closing:
            if await request.is_disconnected():
                return
            if seen != self.version:
                seen = self.version
                yield {"event": "tick", "data": json.dumps(self.heads, separators=(",", ":"))}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wait(seen), PING_S)


def routes(guard: object) -> list[BaseRoute]:
    async def stream(request: Request) -> Response:
        live: Live = request.app.state.hub.live
        return EventSourceResponse(live.events(request), ping=int(PING_S))

    return [Route("/eventos", guard(stream))]  # type: ignore[operator]
