"""Test tools for the dashboard: a hub store holding a real machine ledger's rows (built by
the ledger's own code, verified by the hub's chain walk), the accounts of every role, and a
signed-in test client."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accounts_data import MAKERS, SLOTS, known_ledger
from starlette.testclient import TestClient

from vendd.hub.config import HubConfig
from vendd.hub.dashboard.people import People
from vendd.hub.dashboard.site import create_app
from vendd.hub.store import RowIn, Store
from vendd.ledger.db import connect

MACHINE = "quito-01"
PASSWORD = "correct horse battery"
ROLES = {"coord": ("coordinator", None), "member": ("member", None),
         "rosa": ("maker", "rosa"), "carmen": ("maker", "carmen")}


def ledger_rows(path: Path, machine: str) -> list[RowIn]:
    db = connect(path, readonly=True)
    try:
        return [RowIn(machine, *r) for r in db.conn.execute(
            "SELECT seq, ts, kind, fields, hash FROM journal ORDER BY seq")]
    finally:
        db.close()


def state_of(machine: str) -> str:
    return json.dumps({
        "machine": machine, "mode": "idle", "credit": 0, "currency": "USD", "decimals": 2,
        "cash_box": 1550, "out_of_service": None, "faults": [], "vending": None,
        "slots": {s: {"product": p, "maker": m, "price": price, "stock": 9, "capacity": 20,
                      "enabled": True, "fault": None} for s, p, m, price in SLOTS},
        "sales_today": {"count": 2, "total": 475}})


@dataclass
class Dash:
    config: HubConfig
    store: Store
    ledger: Path
    people: People
    app: Any = None

    def client(self, username: str | None = None, own_app: bool = False) -> TestClient:
        """A client of its own (its own cookies) on the module's one app, or on an app of its
        own (its own sign-in counts)."""
        if self.app is None:
            self.app = create_app(self.config, self.store, live=False, mqtt=False)
        app = create_app(self.config, self.store, live=False, mqtt=False) if own_app else self.app
        client = TestClient(app, base_url="https://testserver", follow_redirects=False)
        if username is not None:
            sign_in(client, username)
        return client


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    form = client.get("/entrar")
    r = client.post("/entrar", data={"username": username, "password": password,
                                     "csrf": csrf_of(form.text), "next": "/"})
    assert r.status_code == 303, r.text


def make_dash(tmp: Path) -> Dash:
    ledger = known_ledger(tmp / "vendd.db")
    config = HubConfig(store={"url": f"sqlite:///{tmp / 'hub.db'}",
                              "replicas": str(tmp / "replicas")},
                       web={"keys": str(tmp / "keys")},
                       accounts={"timezone": "America/Guayaquil"})
    store = Store(config.store.url)
    store.add_rows(ledger_rows(ledger, MACHINE))
    store.set_status(MACHINE, "online")
    store.set_state(MACHINE, state_of(MACHINE))
    people = People(store.engine)
    for username, (role, maker) in ROLES.items():
        people.add(username, MAKERS.get(username, username), role, PASSWORD, maker)
    return Dash(config, store, ledger, people)
