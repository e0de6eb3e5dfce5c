"""Diario (the journal rows behind every figure), Cambios (signed changes sent to machines)
and Personas (accounts)."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from vendd.hub.dashboard import changes as ch
from vendd.hub.dashboard.app import BadInput, Hub, page, render, user_of
from vendd.hub.dashboard.data import machine_views
from vendd.hub.dashboard.journal import journal_rows, kinds
from vendd.hub.dashboard.people import PeopleError
from vendd.hub.dashboard.periods import period_of


def _int(text: str | None, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise BadInput(f"{name}={text!r}")
    return int(text)


@page("coordinator", "member", "maker")
async def journal(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    user = user_of(request)
    q = request.query_params
    ids = hub.machine_ids()
    machine = q.get("machine") or (ids[0] if ids else "")
    if not machine:
        return render(request, "journal.html", machine="", machine_ids=[], rows=[])
    m = await asyncio.to_thread(hub.store.machine, machine)
    if m is None:
        raise BadInput(f"machine {machine!r}")
    kind, maker = q.get("kind") or None, q.get("maker") or None
    if user.role == "maker":
        # A maker reads the rows behind her statement: her sales and what she was paid.
        kind = kind if kind in ("sale", "maker_paid") else "sale"
        maker = user.maker
    period = period_of(request, hub.config, "") if (q.get("from") or q.get("to")) else None
    tz = ZoneInfo(hub.config.accounts_of(machine).timezone)
    rows = await asyncio.to_thread(journal_rows, hub.store, machine, tz, m.head_seq,
                                   kind=kind, period=period, maker=maker,
                                   before=_int(q.get("before"), "before"))
    gaps = await asyncio.to_thread(hub.store.gaps, machine)
    alarms = await asyncio.to_thread(hub.store.alarms, machine)
    all_kinds = await asyncio.to_thread(kinds, hub.store, machine)
    keep = {k: v for k, v in q.items() if k not in ("before",)}
    return render(request, "journal.html", machine=machine, machine_ids=ids, m=m, rows=rows,
                  gaps=gaps, alarms=alarms, kinds=all_kinds, kind=kind or "",
                  maker=maker or "", period=period, keep=keep)


@page("coordinator")
async def changes_page(request: Request) -> Response:
    return await _changes(request, None)


async def _changes(request: Request, error: str | None, status: int = 200) -> Response:
    hub: Hub = request.app.state.hub
    views = await asyncio.to_thread(machine_views, hub.config, hub.store)
    recent = await asyncio.to_thread(ch.recent, hub.store)
    heads = {v.id: v.head_seq for v in views}
    name = "changes_part.html" if "part" in request.query_params else "changes.html"
    return render(request, name, status, machines=views, recent=recent, error=error,
                  actions=ch.ACTIONS, heads=heads, money=hub.money)


@page("coordinator")
async def send_change(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    user = user_of(request)
    form = request.state.form
    machine = str(form.get("machine", ""))
    if hub.sender is None:
        return await _changes(request, "no MQTT connection", 503)
    if await asyncio.to_thread(hub.store.machine, machine) is None:
        return await _changes(request, f"machine {machine!r}", 400)
    try:
        body = ch.body_of(str(form.get("action", "")), str(form.get("slot", "")),
                          str(form.get("value", "")),
                          hub.config.accounts_of(machine).decimals)
        await asyncio.to_thread(hub.sender.send, user.username, machine,
                                str(form.get("action")), body)
    except ch.ChangeError as exc:
        return await _changes(request, str(exc), 400)
    return RedirectResponse("/cambios", status_code=303)


@page("coordinator")
async def people_page(request: Request) -> Response:
    return await _people(request, None)


async def _people(request: Request, error: str | None, status: int = 200) -> Response:
    hub: Hub = request.app.state.hub
    users = await asyncio.to_thread(hub.people.all)
    return render(request, "people.html", status, users=users, error=error)


@page("coordinator")
async def people_change(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    form = request.state.form
    try:
        if form.get("remove"):
            target = str(form.get("remove"))
            if target == user_of(request).username:
                raise PeopleError("you cannot remove your own account")
            await asyncio.to_thread(hub.people.remove, target)
        else:
            role = str(form.get("role", ""))
            username = str(form.get("username", "")).strip().lower()
            await asyncio.to_thread(hub.people.add, username, str(form.get("name", "")),
                                    role, str(form.get("password", "")),
                                    str(form.get("maker", "")).strip() or None)
            if role == "coordinator":
                await asyncio.to_thread(ch.make_key, hub.config, username)
    except (PeopleError, ch.ChangeError) as exc:
        return await _people(request, str(exc), 400)
    return RedirectResponse("/personas", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/diario", journal),
        Route("/cambios", changes_page, methods=["GET"]),
        Route("/cambios", send_change, methods=["POST"]),
        Route("/personas", people_page, methods=["GET"]),
        Route("/personas", people_change, methods=["POST"]),
    ]
