"""Máquinas (live) and Stock (fill, thresholds, days left, restock lists)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vendd.hub.dashboard.app import BadInput, Hub, page, render, user_of
from vendd.hub.dashboard.data import machine_views
from vendd.hub.dashboard.stock import needs_restock, stocks

EVERYONE = ("coordinator", "member", "maker")
OVERSEERS = ("coordinator", "member")


@page(*OVERSEERS)
async def machines(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    views = await asyncio.to_thread(machine_views, hub.config, hub.store)
    name = "machines_part.html" if "part" in request.query_params else "machines.html"
    return render(request, name, machines=views, money=hub.money)


def _machine_filter(hub: Hub, request: Request) -> list[str]:
    wanted = request.query_params.get("machine") or ""
    ids = hub.machine_ids()
    if wanted and wanted not in ids:
        raise BadInput(f"machine {wanted!r}")
    return [wanted] if wanted else ids


@page(*EVERYONE)
async def stock(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    user = user_of(request)
    chosen = _machine_filter(hub, request)
    maker = user.maker if user.role == "maker" else None
    found = await asyncio.to_thread(stocks, hub.config, hub.store, chosen, maker)
    name = "stock_part.html" if "part" in request.query_params else "stock.html"
    return render(request, name, stocks=found, money=hub.money, machine_ids=hub.machine_ids(),
                  machine=request.query_params.get("machine", ""))


@page(*EVERYONE)
async def restock(request: Request) -> Response:
    """A printable list: by machine (what to carry to each cabinet) or by maker (what each
    maker must bring, machine by machine)."""
    hub: Hub = request.app.state.hub
    user = user_of(request)
    group = request.query_params.get("by", "machine")
    if group not in ("machine", "maker"):
        raise BadInput(f"by={group!r}")
    maker = user.maker if user.role == "maker" else None
    found = await asyncio.to_thread(stocks, hub.config, hub.store,
                                    _machine_filter(hub, request), maker)
    lists: dict[str, list[object]] = defaultdict(list)
    for ms in found:
        for s in ms.slots:
            if needs_restock(s):
                lists[s.machine if group == "machine" else s.maker_name].append(s)
    return render(request, "restock.html", group=group, lists=dict(sorted(lists.items())))


@page(*EVERYONE)
async def banners(request: Request) -> Response:
    """The banner area of every page, refetched on each live tick."""
    return render(request, "banners_part.html")


def routes() -> list[BaseRoute]:
    return [
        Route("/avisos", banners),
        Route("/maquinas", machines),
        Route("/stock", stock),
        Route("/stock/reponer", restock),
    ]
