"""In a real Chromium, against `vendd hub run` following a simulated machine through a real
Mosquitto: a slot running empty shows the banner on its maker's dashboard within seconds,
without a reload, and acknowledging it there stops the reminders (while another alert, not
hers, keeps being sent again)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alert_helpers import PREFIX, FeedMachine, slot
from browser import Browser, chrome
from feed_helpers import Broker
from hub_helpers import HubProc, vendd

from vendd.hub.alerts.store import Alert, AlertStore

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[3]


def _config(folder: Path, port: int) -> Path:
    path = folder / "hub.toml"
    path.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nprefix = "{PREFIX}"\n'
        f'client_id = "hub-{uuid.uuid4().hex[:6]}"\nkeepalive_s = 5\n'
        f'\n[store]\nurl = "sqlite:///{folder / "hub.db"}"\n'
        f'replicas = "{folder / "replicas"}"\n'
        f'\n[web]\nhost = "127.0.0.1"\nport = 0\nkeys = "{folder / "keys"}"\n'
        # Reminders every 3 s, so the test sees them without waiting for an hour.
        '\n[alerts]\ntick_s = 0.5\nrenotify_minutes = 0.05\n'
        '\n[alerts.people.coord]\nrole = "coordinator"\n'
        '\n[alerts.people.rosa]\nrole = "maker"\nmaker = "rosa"\n', encoding="utf-8")
    pw = folder / "pw"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    for user, role in (("coord", "coordinator"), ("rosa", "maker")):
        ran = vendd("hub", "user", "add", user, "--role", role, "--password-file", str(pw),
                    "--config", str(path), *(["--maker", "rosa"] if role == "maker" else []))
        assert ran.returncode == 0, ran.stderr
    return path


@pytest.fixture
def site(tmp_path: Path, broker: Broker) -> Iterator[tuple[HubProc, FeedMachine, AlertStore]]:
    config = _config(tmp_path, broker.port)
    machine = FeedMachine("quito-01", broker.port,
                          slots={"B4": slot(3, maker="rosa"), "A1": slot(5, maker="carmen")})
    machine.status("online")
    machine.state()
    hub = HubProc(config, "run")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        hub.start()
        yield hub, machine, AlertStore(engine)
    finally:
        hub.stop()
        machine.close()
        engine.dispose()


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    driver = chrome()
    b = Browser(driver)
    yield b
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        folder = ROOT / "var" / "dashboard-screenshots" / request.node.name
        for shot in b.screenshots(folder, ["/alertas", "/stock"]):
            print(f"screenshot: {shot}")
    driver.quit()


def _click(b: Browser, css: str) -> None:
    """Click once the element is there (htmx may still be bringing it in)."""
    b.until(lambda: b.click(css) or True, f"a {css}")


def _alert(alerts: AlertStore, slot_id: str) -> Alert | None:
    found = [a for a in alerts.open_alerts() if a.slot == slot_id]
    return found[0] if found else None


def test_empty_slot_banner_for_its_maker_and_acknowledged_there(
        site: tuple[HubProc, FeedMachine, AlertStore], browser: Browser) -> None:
    hub, machine, alerts = site
    assert hub.address
    browser.base = hub.address
    browser.sign_in("rosa", PASSWORD)
    browser.go("/stock")
    browser.mark()
    assert "agotado" not in browser.text("#banners")
    machine.slots["B4"] = slot(0, maker="rosa")
    machine.state()
    browser.until(lambda: "B4 agotado" in browser.text("#banners"), "the banner", 20)
    assert browser.not_reloaded()
    browser.until(lambda: (a := _alert(alerts, "B4")) and a.notices >= 2, "a reminder", 30)
    _click(browser, "#banners a")
    browser.until(lambda: browser.texts("button.ack"),
                  "the Alertas page")
    _click(browser, "button.ack")
    browser.until(lambda: "Vista por rosa" in browser.text("#alerts"), "the acknowledgement")
    acked = _alert(alerts, "B4")
    assert acked is not None and acked.acked_by == "rosa"
    # Another slot runs empty (not hers): its reminders prove time went on, hers stopped.
    machine.slots["A1"] = slot(0, maker="carmen")
    machine.state()
    browser.until(lambda: (a := _alert(alerts, "A1")) and a.notices >= 3,
                  "reminders of the other alert", 40)
    after = _alert(alerts, "B4")
    assert after is not None and after.notices == acked.notices
    assert "A1" not in browser.text("#banners") and "B4" not in browser.text("#banners")
