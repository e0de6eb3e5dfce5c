"""The dashboard in a real Chromium, live from a real daemon through a real Mosquitto and
`vendd hub run`: sign-in, a sale appearing without a reload, a price change sent from
Cambios reaching the machine, a maker's own statement, no horizontal scroll at 360 px.
On a failure, a screenshot of every page goes to var/dashboard-screenshots/<test>/."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import PAGES, Browser, chrome
from feed_helpers import Broker, feed_config, mqtt_section, sell
from hub_helpers import HubProc, vendd
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from support import wait_for

from vendd.daemon.app import Daemon

PREFIX = "coop"
MACHINE = "quito-01"
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class World:
    broker: Broker
    daemon: Daemon
    hub: HubProc
    address: str


def _hub_config(folder: Path, port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hub.toml"
    path.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nprefix = "{PREFIX}"\n'
        f'client_id = "hub-{uuid.uuid4().hex[:6]}"\nkeepalive_s = 5\n'
        f'\n[store]\nurl = "sqlite:///{folder / "hub.db"}"\nreplicas = "{folder / "replicas"}"\n'
        f'\n[web]\nhost = "127.0.0.1"\nport = 0\nkeys = "{folder / "keys"}"\n'
        f'\n[accounts]\ntimezone = "America/Guayaquil"\n', encoding="utf-8")
    return path


def _add_users(config: Path) -> str:
    """The accounts, made by `vendd hub user add`; returns the coordinator's public key."""
    pw = config.parent / "pw"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    public = ""
    for username, role, maker in (("coord", "coordinator", None), ("rosa", "maker", "rosa"),
                                  ("member", "member", None)):
        ran = vendd("hub", "user", "add", username, "--role", role, "--password-file", str(pw),
                    "--config", str(config), *(["--maker", maker] if maker else []))
        assert ran.returncode == 0, ran.stderr
        if role == "coordinator":
            public = re.search(r'public_key = "([^"]+)"', ran.stdout).group(1)  # type: ignore[union-attr]
    return public


@contextlib.contextmanager
def running_world(tmp: Path, sales: tuple[str, ...] = ("A1", "A2", "B1", "A1"),
                  ) -> Iterator[World]:
    """Broker, daemon (with `sales` made), `vendd hub run`; everything stopped on exit."""
    broker = Broker(tmp / "broker", None)
    broker.start()
    hub: HubProc | None = None
    daemon: Daemon | None = None
    try:
        config = _hub_config(tmp / "hub", broker.port)
        public = _add_users(config)
        requests = {"set_price": True, "replay": True,
                    "coordinators": [{"id": "coord", "public_key": public}]}
        daemon = Daemon(feed_config(tmp / "machine", mqtt=mqtt_section(
            broker.port, prefix=PREFIX, requests=requests)))
        daemon.start()
        daemon.wait_ready()
        for slot in sales:  # a few sales for the pages to show
            sell(daemon, slot)
        hub = HubProc(config, "run")
        hub.start()
        assert hub.address, "the hub did not say where its web side is"
        yield World(broker, daemon, hub, hub.address)
    finally:
        if hub is not None:
            hub.stop()
        if daemon is not None:
            daemon.stop()
        broker.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("browser")) as w:
        yield w


@pytest.fixture(scope="session")
def driver() -> Iterator[object]:
    d = chrome()
    yield d
    d.quit()


@pytest.fixture
def browser(driver: object, world: World, request: pytest.FixtureRequest) -> Iterator[Browser]:
    b = Browser(driver)  # type: ignore[arg-type]
    b.base = world.address
    b.phone(False)
    yield b
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        folder = ROOT / "var" / "dashboard-screenshots" / request.node.name
        b.sign_in("coord", PASSWORD)
        for shot in b.screenshots(folder):
            print(f"screenshot: {shot}")


def _sales_today(b: Browser) -> int:
    return int(b.text(f"#machine-{MACHINE} .sales-today").split()[0])


def test_sign_in_then_a_sale_appears_on_maquinas_and_ventas_without_reload(
        browser: Browser, world: World) -> None:
    browser.go("/maquinas")
    assert "/entrar" in browser.driver.current_url  # no page without signing in
    browser.sign_in("coord", PASSWORD)
    browser.go("/maquinas")
    before = browser.until(lambda: _sales_today(browser) >= 4 and _sales_today(browser),
                           "the machine's sales on Máquinas")
    browser.mark()
    sell(world.daemon, "A2")
    browser.until(lambda: _sales_today(browser) == before + 1, "the new sale on Máquinas")
    assert browser.not_reloaded()

    browser.go("/ventas")
    items = browser.until(lambda: int(browser.text("#sales-items")) or None, "Ventas")
    browser.mark()
    sell(world.daemon, "B1")
    browser.until(lambda: int(browser.text("#sales-items")) == items + 1,
                  "the new sale on Ventas")
    assert browser.not_reloaded()


def test_a_price_change_from_cambios_reaches_the_machine_and_its_row_appears(
        browser: Browser, world: World) -> None:
    browser.sign_in("coord", PASSWORD)
    browser.go("/cambios")
    old = world.daemon.controller.state.slots["A2"].price
    new = old + 25
    Select(browser.driver.find_element(By.ID, "change-machine")).select_by_value(MACHINE)
    Select(browser.driver.find_element(By.ID, "change-action")).select_by_value("set_price")
    browser.driver.find_element(By.ID, "change-slot").send_keys("A2")
    browser.driver.find_element(By.ID, "change-value").send_keys(f"{new / 100:.2f}")
    browser.click("#change-send")
    browser.until(lambda: browser.texts("#change-list tbody tr .answer")[0] != "esperando…",
                  "the machine's answer on Cambios")
    answer = browser.texts("#change-list tbody tr .answer")[0]
    assert answer == "aceptado", answer
    wait_for(lambda: world.daemon.controller.state.slots["A2"].price == new, 10,
             "the new price on the machine")
    # The journal row the request caused, once the hub verified it (✓).
    caused = browser.until(lambda: "✓" in (c := browser.texts("#change-list .caused")[0]) and c,
                           "the journal row of the change")
    seq = int(caused.split()[0])
    browser.click("#change-list .caused a")
    browser.until(lambda: browser.driver.find_elements(By.ID, f"row-{seq}"), "the row")
    rows = browser.texts("#journal tbody tr")
    price_row = next(r for r in rows if " price_set " in f" {r} ")
    fields = json.loads(price_row[price_row.index("{"):price_row.rindex("}") + 1])
    assert fields["slot"] == "A2" and fields["price"] == new


def test_a_maker_sees_only_her_own_statement(browser: Browser, world: World) -> None:
    browser.sign_in("rosa", PASSWORD)
    browser.go("/cuentas")
    makers = browser.attrs("#statement tbody tr", "data-maker")
    assert makers == ["rosa"]
    browser.go("/cuentas/carmen.pdf")
    assert "no es para su cuenta" in browser.text("main")
    browser.go("/maquinas")
    assert "no es para su cuenta" in browser.text("main")


def test_no_page_scrolls_sideways_at_360_px(browser: Browser, world: World) -> None:
    browser.sign_in("coord", PASSWORD)
    browser.phone(True)
    try:
        for path in PAGES:
            browser.go(path)
            assert browser.horizontal_overflow() <= 0, path
    finally:
        browser.phone(False)


def test_cuentas_prints_without_the_menu(browser: Browser, world: World) -> None:
    import base64
    import io

    from pypdf import PdfReader
    from selenium.webdriver.common.print_page_options import PrintOptions

    browser.sign_in("coord", PASSWORD)
    browser.go("/cuentas")
    opts = PrintOptions()
    opts.page_width, opts.page_height = 21.0, 29.7  # A4, cm

    def printed() -> tuple[str, str]:
        total = browser.text("#total-gross")
        pdf = PdfReader(io.BytesIO(base64.b64decode(browser.driver.print_page(opts))))
        return total, " ".join(" ".join(p.extract_text() for p in pdf.pages).split())

    # The hub may still be taking in the machine's last rows, and the page follows them live:
    # the printout must show the total the page shows once they agree.
    total, text = browser.until(lambda: (t := printed())[0] in t[1] and t,
                                "a printout with the page's total")
    assert "Rosa Quishpe" in text and total in text
    for menu in ("Cambios", "Salir", "English", "Imprimir", "CSV"):
        assert menu not in text, menu
