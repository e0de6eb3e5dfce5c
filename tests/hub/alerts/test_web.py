"""The alerts on the dashboard, through the framework's test client: the banner and the
Alertas page show a person the alerts that concern her (a coordinator all, a maker her
slots'), acknowledging there stops the reminders, the signed link works without signing in
and only with its own signature, and a failing channel shows for coordinators."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alert_helpers import Clock, slot
from starlette.testclient import TestClient

from vendd.hub.alerts.delivery import Outbox
from vendd.hub.alerts.engine import Engine
from vendd.hub.alerts.routing import links_of
from vendd.hub.alerts.web import routes as alert_routes
from vendd.hub.config import HubConfig
from vendd.hub.dashboard import app as dash
from vendd.hub.dashboard.people import People
from vendd.hub.dashboard.site import create_app
from vendd.hub.store import Store

PASSWORD = "correct horse battery"


@dataclass
class Site:
    config: HubConfig
    store: Store
    engine: Engine
    clock: Clock

    def client(self, username: str | None = None) -> TestClient:
        # Only this app gets the alerts: other tests' dashboards stay as they are.
        dash.EXTENSIONS.append(alert_routes)
        try:
            app = create_app(self.config, self.store, live=False, mqtt=False)
        finally:
            dash.EXTENSIONS.remove(alert_routes)
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        if username:
            form = c.get("/entrar")
            r = c.post("/entrar", data={"username": username, "password": PASSWORD,
                                        "csrf": _csrf(form.text), "next": "/"})
            assert r.status_code == 303, r.text
        return c


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    (tmp_path / "link-key").write_text("k\n")
    config = HubConfig(
        store={"url": f"sqlite:///{tmp_path / 'hub.db'}", "replicas": str(tmp_path)},
        web={"keys": str(tmp_path / "keys")},
        alerts={"link_secret_file": str(tmp_path / "link-key"),
                "webhook": {"url": "http://127.0.0.1:9/down"},
                "people": {"coord": {"channels": ["webhook"]},
                           "rosa": {"role": "maker", "maker": "rosa",
                                    "channels": ["webhook"]}}})
    store = Store(config.store.url)
    people = People(store.engine)
    people.add("coord", "Ana", "coordinator", PASSWORD)
    people.add("rosa", "Rosa", "maker", PASSWORD, maker="rosa")
    people.add("carmen", "Carmen", "maker", PASSWORD, maker="carmen")
    store.set_status("quito-01", "online")
    store.set_state("quito-01", json.dumps({"slots": {"B4": slot(0, maker="rosa")},
                                            "faults": [], "cash_box": 0}))
    clock = Clock()
    engine = Engine(config, store, clock=clock)
    engine.tick()
    yield Site(config, store, engine, clock)
    store.close()


def test_banner_and_page_by_role(site: Site) -> None:
    for who, sees in (("coord", True), ("rosa", True), ("carmen", False)):
        c = site.client(who)
        banner = c.get("/alertas/banner")
        assert banner.status_code == 200
        assert ("B4 agotado" in banner.text) is sees, who
        assert ("B4 agotado" in c.get("/alertas").text) is sees, who
        page = c.get("/stock")
        assert 'hx-get="/alertas/banner"' in page.text
        assert ("B4 agotado" in page.text) is sees, who
    assert site.client().get("/alertas/banner").status_code == 303  # sign in first


def test_acknowledged_on_the_page_stops_reminders(site: Site) -> None:
    (alert,) = site.engine.alerts.open_alerts()
    carmen = site.client("carmen")
    r = carmen.post(f"/alertas/{alert.id}/ack",
                    data={"csrf": _csrf(carmen.get("/alertas").text)})
    assert r.status_code == 403  # not her slot
    rosa = site.client("rosa")
    assert rosa.post(f"/alertas/{alert.id}/ack", data={"csrf": "forged"}).status_code == 403
    r = rosa.post(f"/alertas/{alert.id}/ack", data={"csrf": _csrf(rosa.get("/alertas").text)})
    assert r.status_code == 303
    assert "Vista por rosa" in rosa.get("/alertas").text
    assert "B4 agotado" not in rosa.get("/alertas/banner").text
    site.clock.advance(5 * 3600)
    site.engine.tick()
    notices = [d.notice for d in site.engine.alerts.deliveries(alert.id)]
    assert notices == ["opened", "opened"]  # one per person, no reminder


def test_signed_link_and_failing_channel(site: Site) -> None:
    (alert,) = site.engine.alerts.open_alerts()
    link = links_of(site.config).link(alert.id, "coord")
    assert link is not None
    path = link.split("8470", 1)[1]
    anon = site.client()
    assert anon.get(path[:-4] + "0000").status_code == 403
    assert anon.post(path.replace("/coord/", "/rosa/")).status_code == 403
    page = anon.get(path)  # a link preview: shows a button, changes nothing
    assert page.status_code == 200 and "Enterada" in page.text
    assert site.engine.alerts.alert(alert.id).acked_at is None  # type: ignore[union-attr]
    done = anon.post(path)
    assert "Alerta confirmada" in done.text
    assert site.engine.alerts.alert(alert.id).acked_by == "coord"  # type: ignore[union-attr]
    outbox = Outbox(site.config, site.engine.alerts, clock=site.clock)
    outbox.run_once()
    coord, rosa = site.client("coord"), site.client("rosa")
    assert "webhook a coord" in coord.get("/alertas").text
    assert "webhook a" not in rosa.get("/alertas").text
    assert "Canal webhook falla" not in coord.get("/alertas/banner").text  # once is a blip
    site.clock.advance(3600)
    outbox.run_once()
    assert "Canal webhook falla" in coord.get("/alertas/banner").text
    assert "Canal webhook" not in rosa.get("/alertas/banner").text
