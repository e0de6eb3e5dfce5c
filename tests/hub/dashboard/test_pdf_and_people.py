"""The statement PDF against `vendd report` on the machine's own ledger; the catalogue;
`vendd hub user`; the stock thresholds of hub.toml."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from dash_helpers import MACHINE, PASSWORD, Dash
from hub_helpers import vendd
from pypdf import PdfReader

from vendd.hub.config import HubConfig
from vendd.hub.dashboard.changes import ACTIONS
from vendd.hub.dashboard.people import ROLES
from vendd.hub.dashboard.stock import machine_stock
from vendd.messages_web import LANGUAGES, WEB
from vendd.money import Money

TEMPLATES = Path(__file__).resolve().parents[3] / "vendd/hub/dashboard/templates"


@pytest.mark.parametrize("maker", ["rosa", "carmen", "lucia"])
def test_statement_pdf_totals_equal_vendd_report_by_maker(dash: Dash, maker: str) -> None:
    ran = vendd("report", "--ledger", str(dash.ledger), "--by", "maker", "--from",
                "2026-01-01", "--to", "2026-01-31", "--format", "json", "--config",
                "config/sim.toml")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    row = next(r for r in report["rows"] if r["maker"] == maker)
    client = dash.client("coord")
    r = client.get(f"/cuentas/{maker}.pdf?from=2026-01-01&to=2026-01-31&machine={MACHINE}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(r.content)).pages
    assert len(pages) == 1  # her month on one sheet
    text = pages[0].extract_text()
    money = Money("USD", 2)
    lines = text.splitlines()

    def figure(label: str) -> str:
        line = next(x for x in lines if x.startswith(label))
        return line[len(label):].strip()

    assert figure("Unidades") == str(row["items"])
    assert figure("Bruto") == money(row["gross"])
    assert figure("Artesana 70%") == money(row["maker_share"])
    assert figure("Colectivo 20%") == money(row["collective"])
    assert figure("Museo 10%") == money(row["museum"])
    assert figure("Por pagar") == money(row["to_pay"])
    # The chain head the sheet covers is the machine's head.
    assert report["journal"]["head"] in text.replace("\n", "")


def test_every_text_of_the_pages_is_in_both_languages() -> None:
    for key, texts in WEB.items():
        assert set(texts) == set(LANGUAGES), key
        params = [set(re.findall(r"{(\w+)}", texts[lang])) for lang in LANGUAGES]
        assert params[0] == params[1], key
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r'\bt\("([a-z_]+)"[,)]', path.read_text(encoding="utf-8")))
    # Keys made of a prefix and a value: every value they can take.
    used |= {f"act_{a}" for a in ACTIONS} | {f"role_{r}" for r in ROLES}
    used |= {f"state_{s}" for s in ("ok", "low", "empty", "disabled", "fault")}
    used |= {f"by_{u}" for u in ("day", "week", "month")}
    used |= {"restock_by_machine", "restock_by_maker", "online", "offline", "unknown"}
    assert used <= set(WEB), used - set(WEB)


def test_hub_user_add_passwd_remove(dash: Dash, tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[store]\nurl = "{dash.config.store.url}"\n'
                   f'replicas = "{dash.config.store.replicas}"\n'
                   f'[web]\nkeys = "{tmp_path / "keys"}"\n', encoding="utf-8")
    pw = tmp_path / "pw"
    pw.write_text("a long password\n", encoding="utf-8")
    ran = vendd("hub", "user", "add", "lidia", "--role", "coordinator", "--name", "Lidia",
                "--password-file", str(pw), "--config", str(cfg))
    assert ran.returncode == 0, ran.stderr
    assert 'id = "lidia"' in ran.stdout and "public_key = " in ran.stdout
    assert (tmp_path / "keys" / "lidia.pem").stat().st_mode & 0o077 == 0
    assert dash.people.check("lidia", "a long password") is not None
    pw.write_text("another long one\n", encoding="utf-8")
    assert vendd("hub", "user", "passwd", "lidia", "--password-file", str(pw), "--config",
                 str(cfg)).returncode == 0
    assert dash.people.check("lidia", "a long password") is None
    assert dash.people.check("lidia", "another long one") is not None
    again = vendd("hub", "user", "add", "lidia", "--role", "member", "--password-file",
                  str(pw), "--config", str(cfg))
    assert again.returncode != 0 and "already exists" in again.stderr
    maker = vendd("hub", "user", "add", "zoe", "--role", "maker", "--password-file", str(pw),
                  "--config", str(cfg))
    assert maker.returncode != 0 and "--maker" in maker.stderr
    assert vendd("hub", "user", "remove", "lidia", "--config", str(cfg)).returncode == 0
    assert dash.people.get("lidia") is None
    assert dash.people.check("coord", PASSWORD) is not None


def test_stock_thresholds_per_machine_and_slot(dash: Dash) -> None:
    # The known ledger leaves A1 at 7 of 20 and A2 at 19 (ok by default); B1 jammed.
    base = {s.slot: s.state for s in machine_stock(dash.config, dash.store, MACHINE).slots}
    assert base == {"A1": "ok", "A2": "ok", "B1": "fault"}
    config = HubConfig(**{**dash.config.model_dump(), "stock": {
        "low_days": 0, "machines": {MACHINE: {"low_at": 8, "slots": {"A2": {"low_at": 19}}}}}})
    judged = {s.slot: s.state for s in machine_stock(config, dash.store, MACHINE).slots}
    assert judged == {"A1": "low", "A2": "low", "B1": "fault"}


def test_accounts_sessions_and_changes_on_postgresql(postgres_url: str) -> None:
    from vendd.hub.dashboard.changes import recent
    from vendd.hub.dashboard.people import People
    from vendd.hub.store import Store

    store = Store(postgres_url)
    try:
        people = People(store.engine)
        people.add("lidia", "Lidia", "coordinator", PASSWORD)
        user = people.check("lidia", PASSWORD)
        assert user is not None and user.coordinator
        token, csrf = people.open_session(user)
        session = people.session(token)
        assert session is not None and session.csrf == csrf
        people.set_password("lidia", "another long one")
        assert people.session(token) is None  # a new password ends her sessions
        assert recent(store) == []
    finally:
        store.close()
