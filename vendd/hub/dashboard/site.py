"""The dashboard put together: `create_app(config, store)` gives the Starlette app with every
page module's routes, the static files, the live stream and the MQTT sender of Cambios."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from vendd.hub.config import HubConfig
from vendd.hub.dashboard import (
    live as live_mod,
)
from vendd.hub.dashboard import (
    pages_accounts,
    pages_admin,
    pages_machines,
    pages_sales,
    public,
    signin,
)
from vendd.hub.dashboard.app import EXTENSIONS, HERE, NAV, SESSION_COOKIE, Hub, make_env, page
from vendd.hub.dashboard.changes import Sender
from vendd.hub.dashboard.people import People, Throttle
from vendd.hub.store import Store


def create_app(config: HubConfig, store: Store, *, live: bool = True,
               mqtt: bool = True) -> Starlette:

    people = People(store.engine, session_s=config.web.session_hours * 3600)
    hub = Hub(config, store, people, Throttle(config.web.signin_attempts), make_env(),
              nav=list(NAV))
    hub.live = live_mod.Live(store)
    if mqtt:
        hub.sender = Sender(config, store, on_answer=hub.live.bump_threadsafe)
    routes: list[BaseRoute] = [
        Route("/", _home),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    for module in (signin, public, pages_machines, pages_sales, pages_accounts, pages_admin):
        routes += module.routes()
    routes += live_mod.routes(page("coordinator", "member", "maker"))
    for add in EXTENSIONS:
        routes += add(hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if live:
            hub.live.start()
        if hub.sender is not None:
            await asyncio.to_thread(hub.sender.start)
        try:
            yield
        finally:
            await hub.live.stop()
            if hub.sender is not None:
                await asyncio.to_thread(hub.sender.stop)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.hub = hub
    return app


async def _home(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    session = await asyncio.to_thread(hub.people.session, request.cookies.get(SESSION_COOKIE))
    if session is None:
        return RedirectResponse("/entrar", status_code=303)
    first = next(n for n in hub.nav if session.user.role in n.roles)
    return RedirectResponse(first.href, status_code=303)
