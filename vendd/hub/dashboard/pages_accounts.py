"""Cuentas (statement by maker with the split; printable; CSV; a PDF per maker) and Caja
(cash collections: expected, counted, who, the difference)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vendd.hub.dashboard.accounts import Accounts, SharesDiffer, accounts
from vendd.hub.dashboard.app import BadInput, Hub, language, page, render, user_of
from vendd.hub.dashboard.data import replica
from vendd.hub.dashboard.pdf import statement_pdf
from vendd.hub.dashboard.periods import period_of
from vendd.ledger.cash import cash_report
from vendd.ledger.statements import Period, render_statement
from vendd.messages_web import web_text


def _machines(hub: Hub, request: Request) -> tuple[str, list[str]]:
    machine = request.query_params.get("machine") or ""
    ids = hub.machine_ids()
    if machine and machine not in ids:
        raise BadInput(f"machine {machine!r}")
    return machine, ([machine] if machine else ids)


async def _accounts(request: Request, maker: str | None, products: bool = False,
                    ) -> tuple[Accounts, Period, str]:
    hub: Hub = request.app.state.hub
    period = period_of(request, hub.config, "month")
    machine, chosen = _machines(hub, request)
    try:
        acc = await asyncio.to_thread(accounts, hub.config, hub.store, chosen, period, maker,
                                      products)
    except SharesDiffer as exc:
        raise BadInput(str(exc)) from exc
    return acc, period, machine


def _maker_scope(request: Request) -> str | None:
    user = user_of(request)
    return user.maker if user.role == "maker" else None


@page("coordinator", "member", "maker")
async def statement_page(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    maker = _maker_scope(request)
    machine, _ = _machines(hub, request)
    if not hub.store.machines():
        return render(request, "accounts.html", acc=None, machine=machine,
                      machine_ids=hub.machine_ids(), period=period_of(request, hub.config,
                                                                     "month"))
    acc, period, machine = await _accounts(request, maker)
    return render(request, "accounts.html", acc=acc, st=acc.statement, period=period,
                  machine=machine, machine_ids=hub.machine_ids(), money=hub.money(machine or
                                                                                 None),
                  rows=list(zip(acc.statement.report.rows, acc.statement.splits,
                                strict=True)), query=_query(period, machine))


def _query(period: Period, machine: str) -> str:
    q = f"from={period.start}&to={period.end}" if period.start and period.end else ""
    return q + (f"&machine={machine}" if machine else "")


@page("coordinator", "member", "maker")
async def statement_csv(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    acc, period, machine = await _accounts(request, _maker_scope(request))
    text = render_statement(acc.statement, "csv", hub.money(machine or None))
    name = f"statement-{period.start}-{period.end}{'-' + machine if machine else ''}.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@page("coordinator", "member", "maker")
async def statement_pdf_route(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    user = user_of(request)
    maker = request.path_params["maker"]
    if user.role == "maker" and maker != user.maker:
        return render(request, "error.html", 403, message_key="forbidden")
    acc, period, machine = await _accounts(request, maker, products=True)
    if not acc.statement.report.rows:
        return render(request, "error.html", 404, message_key="not_found")
    lang = language(request, hub)

    def t(key: str, **params: Any) -> str:
        return web_text(key, lang, **{k: str(v) for k, v in params.items()})

    name = acc.statement.report.rows[0][1]
    data = await asyncio.to_thread(statement_pdf, acc, maker, str(name), t,
                                   hub.money(machine or None),
                                   machine or ", ".join(acc.machines))
    fname = f"{maker}-{period.start}-{period.end}{'-' + machine if machine else ''}.pdf"
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{fname}"'})


def _cash(hub: Hub, machines: list[str]) -> list[tuple[str, Any]]:
    out = []
    known = {m.id for m in hub.store.machines() if m.head_seq > 0}
    for m in machines:
        if m in known:
            with replica(hub.config, hub.store, m) as db:
                out.append((m, cash_report(db, hub.config.accounts_of(m).timezone)))
    return out


@page("coordinator", "member")
async def cash_page(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    machine, chosen = _machines(hub, request)
    reports = await asyncio.to_thread(_cash, hub, chosen)
    return render(request, "cash.html", reports=reports, money=hub.money, machine=machine,
                  machine_ids=hub.machine_ids())


def routes() -> list[BaseRoute]:
    return [
        Route("/cuentas", statement_page),
        Route("/cuentas.csv", statement_csv),
        Route("/cuentas/{maker}.pdf", statement_pdf_route),
        Route("/caja", cash_page),
    ]
