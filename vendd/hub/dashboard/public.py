"""What answers without a session: the machine-facing routes the hub always had (`/status`,
`/machines/<id>/journal.jsonl`, read by `vendd verify --against`) and a public page per
machine for a QR code on its front (`/m/<id>`: its products and makers, no money)."""

from __future__ import annotations

import asyncio
import json
import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from vendd.errors import LedgerError
from vendd.hub.dashboard.app import Hub, render
from vendd.hub.dashboard.data import maker_names, parse_state, replica
from vendd.hub.export import export_lines
from vendd.hub.status import status_data
from vendd.hub.store import StoreError

MACHINE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


async def status(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    try:
        data = await asyncio.to_thread(status_data, hub.store)
    except StoreError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


async def journal_export(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    machine = request.path_params["machine"]
    if not MACHINE_ID.match(machine):
        return PlainTextResponse("no such machine", status_code=404)
    try:
        if await asyncio.to_thread(hub.store.machine, machine) is None:
            return PlainTextResponse("no such machine", status_code=404)
    except StoreError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    # Starlette iterates a sync generator in a worker thread: the store is never read on
    # the event loop.
    return StreamingResponse(export_lines(hub.store, machine), media_type="application/x-ndjson")


def _public_items(hub: Hub, machine: str) -> list[dict[str, object]] | None:
    m = hub.store.machine(machine)
    if m is None:
        return None
    slots = parse_state(m.state).get("slots") or {}
    names: dict[str, str] = {}
    if m.head_seq:
        try:
            with replica(hub.config, hub.store, machine) as db:
                names = maker_names(db)
        except LedgerError:
            names = {}
    items = [{"slot": sid, "product": s.get("product", ""),
              "maker": names.get(s.get("maker", ""), s.get("maker", "")),
              "available": bool(s.get("enabled", True)) and not s.get("fault")
              and s.get("stock", 0) > 0}
             for sid, s in sorted(slots.items()) if isinstance(s, dict)]
    return items


async def public_page(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    machine = request.path_params["machine"]
    items = (await asyncio.to_thread(_public_items, hub, machine)
             if MACHINE_ID.match(machine) else None)
    if items is None:
        return render(request, "error.html", 404, message_key="not_found")
    return render(request, "public.html", machine=hub.machine_name(machine), items=items)


def routes() -> list[BaseRoute]:
    return [
        Route("/status", status),
        Route("/machines/{machine}/journal.jsonl", journal_export),
        Route("/m/{machine}", public_page),
    ]
