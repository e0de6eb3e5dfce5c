"""The alerts on the dashboard: a banner on every page of the people an alert concerns
(refreshed every few seconds), the Alertas page (open alerts with an acknowledge button,
the latest closed ones with their history, failing channels for coordinators) and the signed
acknowledge links sent in the messages (`/alertas/ack/<id>/<person>/<token>`, no sign-in).

`install()` adds all this to the dashboard through its extension points (`app.extend`, the
Hub's `banners` and `nav`), before the app is created."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from vendd.hub.alerts import texts
from vendd.hub.alerts.routing import Links, links_of, sees, shown_params
from vendd.hub.alerts.rules import EVENT_RULES
from vendd.hub.alerts.store import Alert, AlertStore
from vendd.hub.dashboard import app as dash
from vendd.hub.dashboard.people import User

HERE = Path(__file__).resolve().parent
EVERYONE = ("coordinator", "member", "maker")
BANNER_URL = "/alertas/banner"


def visible(alerts: list[Alert], user: User) -> list[Alert]:
    return [a for a in alerts if sees(user.role, user.maker, a)]


def _context(request: Request) -> dict[str, Any]:
    hub: dash.Hub = request.app.state.hub
    lang: texts.Language = dash.language(request, hub)

    def at(key: str, **params: Any) -> str:
        return texts.page_text(key, lang, **params)

    def text(a: Alert) -> str:
        return texts.line(a.rule, lang, shown_params(hub.config, a))

    return {"at": at, "alert_text": text}


class AlertsPages:
    def __init__(self, hub: dash.Hub) -> None:
        self.hub = hub
        self.alerts = AlertStore(hub.store.engine)
        self.links: Links = links_of(hub.config)

    def banners(self, user: User) -> list[dash.Banner]:
        lang = self.hub.config.web.language
        out = []
        if user.role == "coordinator":
            # A channel that keeps failing: the people it should reach are not being told.
            for channel, error in {d.channel: d.last_error for d in self.alerts.failing()
                                   if d.attempts >= 2}.items():
                out.append(dash.Banner(texts.word("channel_failing", lang, channel=channel,
                                                  error=error), "alarm", "/alertas"))
        found = visible(self.alerts.open_alerts(), user)
        unacked = [a for a in found if a.acked_at is None]
        if not unacked:
            return out
        first = texts.line(unacked[0].rule, lang, shown_params(self.hub.config, unacked[0]))
        text = (texts.word("banner_one", lang, text=first) if len(unacked) == 1
                else texts.word("banner", lang, count=len(unacked)) + f" · {first}")
        level = "alarm" if any(a.rule in ("integrity", "offline") for a in unacked) else "warn"
        return [dash.Banner(text, level, "/alertas"), *out]

    async def banner(self, request: Request) -> Response:
        items = await asyncio.to_thread(self.banners, dash.user_of(request))
        return dash.render(request, "alerts_banner.html", items=items)

    async def page(self, request: Request) -> Response:
        user = dash.user_of(request)
        recent = await asyncio.to_thread(self.alerts.recent, 200)
        shown = visible(recent, user)
        history = {a.id: await asyncio.to_thread(self.alerts.transitions, a.id)
                   for a in shown if a.closed_at is not None}
        failing = (await asyncio.to_thread(self.alerts.failing)
                   if user.role == "coordinator" else [])
        name = "alerts_part.html" if "part" in request.query_params else "alerts.html"
        return dash.render(request, name, open_alerts=[a for a in shown if a.closed_at is None],
                           closed_alerts=[a for a in shown if a.closed_at is not None][:50],
                           history=history, failing=failing, **_context(request))

    async def acknowledge(self, request: Request) -> Response:
        user = dash.user_of(request)
        alert = await asyncio.to_thread(self.alerts.alert, _id(request))
        if alert is None or not sees(user.role, user.maker, alert):
            return dash.render(request, "error.html", 403, message_key="forbidden")
        await asyncio.to_thread(self._ack, alert, user.username)
        return RedirectResponse("/alertas", status_code=303)

    def _ack(self, alert: Alert, who: str) -> bool:
        return self.alerts.acknowledge(alert.id, who, time.time(),
                                       close=alert.rule in EVENT_RULES)

    async def link(self, request: Request) -> Response:
        """The signed link: GET shows a button, POST acknowledges (a link preview that
        fetches the page does not acknowledge anything)."""
        person = request.path_params["person"]
        ok = self.links.check(_id(request), person, request.path_params["token"])
        ctx = _context(request)
        if not ok:
            return dash.render(request, "alerts_ack.html", 403, state="ack_bad", **ctx)
        alert = await asyncio.to_thread(self.alerts.alert, _id(request))
        if alert is None:
            return dash.render(request, "alerts_ack.html", 404, state="ack_bad", **ctx)
        if request.method == "POST":
            done = await asyncio.to_thread(self._ack, alert, person)
            return dash.render(request, "alerts_ack.html", state="ack_done" if done
                               else "ack_gone", alert=alert, **ctx)
        state = "ask" if alert.acked_at is None and alert.closed_at is None else "ack_gone"
        return dash.render(request, "alerts_ack.html", state=state, alert=alert, **ctx)


def _id(request: Request) -> int:
    try:
        return int(request.path_params["id"])
    except ValueError as exc:
        raise dash.BadInput(f"alert {request.path_params['id']!r}") from exc


def routes(hub: dash.Hub) -> list[BaseRoute]:
    pages = AlertsPages(hub)
    hub.banners.append(pages.banners)
    if not any(n.href == "/alertas" for n in hub.nav):
        hub.nav.append(dash.NavItem("nav_alerts", "/alertas", EVERYONE))
    loader = hub.env.loader
    assert loader is not None
    hub.env.loader = ChoiceLoader([loader, FileSystemLoader(HERE / "templates")])
    hub.env.globals["banner_url"] = BANNER_URL
    return [
        Route("/alertas", dash.page(*EVERYONE)(pages.page)),
        Route(BANNER_URL, dash.page(*EVERYONE)(pages.banner)),
        Route("/alertas/{id}/ack", dash.page(*EVERYONE)(pages.acknowledge), methods=["POST"]),
        Route("/alertas/ack/{id}/{person}/{token}", pages.link, methods=["GET", "POST"]),
    ]


def install() -> None:
    """Add the alerts to every dashboard app created from now on (once)."""
    if routes not in dash.EXTENSIONS:
        dash.extend(routes)
