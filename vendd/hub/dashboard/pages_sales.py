"""Ventas: totals, a series by day/week/month, rankings by product and maker, and when the
museum's visitors buy (hour of the day, day of the week); SVG drawn on the server."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vendd.hub.dashboard import svg
from vendd.hub.dashboard.app import BadInput, Hub, language, page, render, user_of
from vendd.hub.dashboard.periods import last_days, period_of
from vendd.hub.dashboard.sales import ranked, sales_view
from vendd.messages_web import web_text


@page("coordinator", "member", "maker")
async def sales(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    user = user_of(request)
    lang = language(request, hub)
    unit = request.query_params.get("unit", "day")
    if unit not in ("day", "week", "month"):
        raise BadInput(f"unit={unit!r}")
    if request.query_params.get("period") or request.query_params.get("from"):
        period = period_of(request, hub.config, "month")
    else:
        period = last_days(hub.config, 30)
    assert period.start is not None and period.end is not None
    machine = request.query_params.get("machine") or ""
    ids = hub.machine_ids()
    if machine and machine not in ids:
        raise BadInput(f"machine {machine!r}")
    maker = user.maker if user.role == "maker" else None
    view = await asyncio.to_thread(sales_view, hub.config, hub.store,
                                   [machine] if machine else ids, period.start, period.end,
                                   maker)
    money = hub.money(machine or None)

    def t(key: str) -> str:
        return web_text(key, lang)

    days = t("weekdays").split()
    charts = {
        "series": svg.columns(view.series(unit), title=t(f"by_{unit}"), label=money),
        "product": svg.bars([(k, g) for k, _, g in ranked(view.by_product)][:15],
                            title=t("by_product"), label=money),
        "maker": svg.bars([(k, g) for k, _, g in ranked(view.by_maker)],
                          title=t("by_maker"), label=money),
        "hour": svg.columns([(f"{h}", v[0]) for h, v in enumerate(view.by_hour)],
                            title=t("by_hour")),
        "weekday": svg.columns([(days[d], v[0]) for d, v in enumerate(view.by_weekday)],
                               title=t("by_weekday")),
    }
    name = "sales_part.html" if "part" in request.query_params else "sales.html"
    return render(request, name, view=view, charts=charts, money=money, unit=unit,
                  period=period, machine=machine, machine_ids=ids,
                  products=ranked(view.by_product), makers=ranked(view.by_maker))


def routes() -> list[BaseRoute]:
    return [Route("/ventas", sales)]
