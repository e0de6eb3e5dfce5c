"""What every page of the dashboard shares (the app itself is put together in `site.py`).

Room for the alerts: every page has a banner area (`#banners`, refreshed on each live tick
from `/avisos`) filled by the functions in `Hub.banners` (each gives the banners of one
reader); a part of the hub adds its pages with `extend(fn)`, where `fn(hub)` returns its
routes and may add a `NavItem` (the catalogue has `nav_alerts` for an Alertas page) to
`hub.nav` and a banner function to `hub.banners`.

Every page is a `page(...)` handler naming the roles that may see it: no session sends the
reader to the sign-in page, a session of another role gets 403. Every POST carries the
session's CSRF token (the sign-in form a cookie-bound one). The hub's machine-facing routes
(`/status`, `/machines/<id>/journal.jsonl`, what `vendd verify --against` reads) and the
public page of each machine (`/m/<id>`) answer without a session.

Pages are rendered from Jinja2 templates in the reader's language (cookie `lang`, default
`[web] language`), every text from `vendd.messages_web`."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from vendd.errors import VenddError
from vendd.hub.config import HubConfig
from vendd.hub.dashboard.people import People, Session, Throttle, User
from vendd.hub.store import Store
from vendd.messages_web import LANGUAGES, Language, web_text
from vendd.money import Money

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "vendd_session"
SIGNIN_COOKIE = "vendd_signin"  # the sign-in form's CSRF token, before any session
LANG_COOKIE = "lang"

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Banner:
    """A line shown on top of every page of a reader (alerts add theirs)."""

    text: str
    level: str = "warn"  # warn | alarm | info
    href: str | None = None


@dataclass
class NavItem:
    key: str  # message key of its label
    href: str
    roles: tuple[str, ...]


@dataclass
class Hub:
    """What every handler needs: the config, the replica store, the accounts."""

    config: HubConfig
    store: Store
    people: People
    throttle: Throttle
    env: Environment
    nav: list[NavItem] = field(default_factory=list)
    # Functions giving the banners of a reader (the alert engine registers one).
    banners: list[Callable[[User], Iterable[Banner]]] = field(default_factory=list)
    live: Any = None  # live.Live, set by create_app
    sender: Any = None  # changes.Sender, set by create_app when MQTT is reachable

    def money(self, machine: str | None = None) -> Money:
        acc = self.config.accounts_of(machine) if machine else self.config.accounts
        return Money(acc.currency, acc.decimals)

    def machine_ids(self) -> list[str]:
        return [m.id for m in self.store.machines()]

    def machine_name(self, machine: str) -> str:
        entry = self.config.machines.get(machine)
        return entry.name if entry and entry.name else machine


# Other parts of the hub add pages here (the alert engine: its Alertas page, a NavItem and
# a banner function), each a function of the Hub returning its routes.
EXTENSIONS: list[Callable[[Hub], list[BaseRoute]]] = []


def extend(fn: Callable[[Hub], list[BaseRoute]]) -> None:
    EXTENSIONS.append(fn)


NAV = [
    NavItem("nav_machines", "/maquinas", ("coordinator", "member")),
    NavItem("nav_stock", "/stock", ("coordinator", "member", "maker")),
    NavItem("nav_sales", "/ventas", ("coordinator", "member", "maker")),
    NavItem("nav_accounts", "/cuentas", ("coordinator", "member", "maker")),
    NavItem("nav_cash", "/caja", ("coordinator", "member")),
    NavItem("nav_journal", "/diario", ("coordinator", "member", "maker")),
    NavItem("nav_changes", "/cambios", ("coordinator",)),
    NavItem("nav_people", "/personas", ("coordinator",)),
]


def language(request: Request, hub: Hub) -> Language:
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in LANGUAGES else hub.config.web.language


def when_in(tz: ZoneInfo) -> Callable[[float | None], str]:
    """UNIX seconds as the collective's local time (its default time zone)."""

    def when(t: float | None) -> str:
        return "-" if t is None else datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M:%S")

    return when


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    hub: Hub = request.app.state.hub
    lang = language(request, hub)
    session: Session | None = getattr(request.state, "session", None)
    user = session.user if session else None

    def t(key: str, **params: Any) -> str:
        return web_text(key, lang, **{k: str(v) for k, v in params.items()})

    banners = [b for f in hub.banners for b in f(user)] if user else []
    html = hub.env.get_template(name).render(
        request=request, t=t, lang=lang, user=user,
        csrf=session.csrf if session else "",
        when=when_in(ZoneInfo(hub.config.accounts.timezone)),
        nav=[n for n in hub.nav if user and user.role in n.roles], banners=banners,
        path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status)
    if user is not None:
        # A signed-in page is nobody else's: not stored by any cache, nor kept by the
        # browser's back-forward cache with its live stream still open.
        response.headers["Cache-Control"] = "no-store"
    return response


def page(*roles: str) -> Callable[[Handler], Handler]:
    """A handler for readers signed in with one of `roles`; POSTs must carry the CSRF token."""

    def wrap(fn: Handler) -> Handler:
        async def handler(request: Request) -> Response:
            hub: Hub = request.app.state.hub
            session = await asyncio.to_thread(hub.people.session,
                                              request.cookies.get(SESSION_COOKIE))
            if session is None:
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/entrar?next={_quote(nxt)}", status_code=303)
            request.state.session = session
            if session.user.role not in roles:
                return render(request, "error.html", 403, message_key="forbidden")
            if request.method == "POST":
                form = await request.form()
                request.state.form = form
                if not secrets.compare_digest(str(form.get("csrf", "")), session.csrf):
                    return render(request, "error.html", 403, message_key="csrf_failed")
            try:
                return await fn(request)
            except BadInput as exc:
                return render(request, "error.html", 400, message_key="bad_input",
                              what=str(exc))
            except VenddError as exc:  # the store or a replica cannot be read just now
                log.warning("%s: %s", request.url.path, exc)
                return render(request, "error.html", 503, message_key="unavailable",
                              what=str(exc))
        handler.__name__ = fn.__name__
        return handler

    return wrap


class BadInput(VenddError):
    """A query or form value that cannot be used; shown to the reader, status 400."""


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def user_of(request: Request) -> User:
    return request.state.session.user


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "svg"]), trim_blocks=True,
                      lstrip_blocks=True)
    return env
