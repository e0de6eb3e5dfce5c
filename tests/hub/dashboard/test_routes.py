"""Every page for every role through the framework's test client: allowed pages answer 200,
the others 403, and without a session every page sends the reader to the sign-in page."""

from __future__ import annotations

import re

import pytest
from dash_helpers import MACHINE, PASSWORD, Dash, csrf_of

PERIOD = "from=2026-01-01&to=2026-01-31"
EVERYONE = {"coord", "member", "rosa"}
OVERSEERS = {"coord", "member"}
PAGES = {
    "/maquinas": OVERSEERS,
    "/maquinas?part=1": OVERSEERS,
    "/stock": EVERYONE,
    "/stock/reponer?by=machine": EVERYONE,
    "/stock/reponer?by=maker": EVERYONE,
    f"/ventas?{PERIOD}": EVERYONE,
    f"/ventas?{PERIOD}&unit=week": EVERYONE,
    f"/ventas?period=last-month&unit=month&machine={MACHINE}": EVERYONE,
    f"/cuentas?{PERIOD}": EVERYONE,
    f"/cuentas.csv?{PERIOD}": EVERYONE,
    f"/cuentas/rosa.pdf?{PERIOD}": EVERYONE,
    f"/cuentas/carmen.pdf?{PERIOD}": OVERSEERS,
    "/caja": OVERSEERS,
    f"/diario?machine={MACHINE}": EVERYONE,
    "/cambios": {"coord"},
    "/personas": {"coord"},
    "/avisos": EVERYONE,
}


@pytest.mark.parametrize("role", sorted(EVERYONE))
def test_each_page_answers_each_role_as_allowed(dash: Dash, role: str) -> None:
    client = dash.client(role)
    for path, allowed in PAGES.items():
        r = client.get(path)
        expected = 200 if role in allowed else 403
        assert r.status_code == expected, f"{role} {path}: {r.status_code}"


def test_without_a_session_every_page_asks_to_sign_in(dash: Dash) -> None:
    client = dash.client()
    for path in [*PAGES, "/eventos", "/"]:
        r = client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/entrar"), path
    # What answers without a session: the machine-facing routes and the public page.
    assert client.get("/status").status_code == 200
    assert client.get(f"/machines/{MACHINE}/journal.jsonl").status_code == 200
    public = client.get(f"/m/{MACHINE}")
    assert public.status_code == 200
    assert "Monedero bordado" in public.text and "Rosa Quishpe" in public.text
    assert "$" not in public.text  # no money on the public page
    assert client.get("/m/no-such").status_code == 404


def test_status_and_export_are_what_the_status_server_served(dash: Dash) -> None:
    from vendd.hub.export import export_lines
    from vendd.hub.status import status_data

    client = dash.client()
    assert client.get("/status").json() == status_data(dash.store)
    body = client.get(f"/machines/{MACHINE}/journal.jsonl").text
    assert body == "".join(export_lines(dash.store, MACHINE))
    assert client.get("/machines/nobody/journal.jsonl").status_code == 404


def test_a_maker_sees_only_her_own_statement_sales_and_rows(dash: Dash) -> None:
    rosa = dash.client("rosa")
    page = rosa.get(f"/cuentas?{PERIOD}").text
    assert "Rosa Quishpe" in page and "Carmen" not in page and "Lucía" not in page
    csv = rosa.get(f"/cuentas.csv?{PERIOD}").text
    assert "rosa" in csv and "carmen" not in csv and "lucia" not in csv
    sales = rosa.get(f"/ventas?{PERIOD}").text
    assert "Monedero bordado" in sales and "Llavero" not in sales
    stock = rosa.get("/stock").text
    assert "Monedero bordado" in stock and "Bolso tejido" not in stock
    # Her journal is the rows of her own sales, whatever she asks for.
    rows = rosa.get(f"/diario?machine={MACHINE}&kind=credit&maker=carmen").text
    kinds = set(re.findall(r"<td>(sale|credit|vend_intent|payout)</td>", rows))
    assert kinds == {"sale"}
    assert '\\"maker\\": \\"carmen\\"' not in rows and "carmen" not in rows.split("<table")[1]


def test_the_statement_page_links_each_figure_to_its_journal_rows(dash: Dash) -> None:
    client = dash.client("coord")
    page = client.get(f"/cuentas?{PERIOD}&machine={MACHINE}").text
    link = re.search(r'href="(/diario\?machine=quito-01&(?:amp;)?kind=sale&(?:amp;)?maker=rosa'
                     r'[^"]*)"', page)
    assert link, "the gross of rosa links to her sale rows"
    rows = client.get(link.group(1).replace("&amp;", "&")).text
    sales = re.findall(r'<tr id="row-(\d+)"', rows)
    assert len(sales) == 3  # rosa sold A1 three times in January (accounts_data)
    assert "Monedero bordado" in rows


def test_every_form_needs_its_csrf_token(dash: Dash) -> None:
    client = dash.client("coord")
    r = client.post("/personas", data={"remove": "member"})
    assert r.status_code == 403
    r = client.post("/cambios", data={"machine": MACHINE, "action": "set_price",
                                      "slot": "A1", "value": "1", "csrf": "forged"})
    assert r.status_code == 403
    assert dash.people.get("member") is not None
    anon = dash.client()
    r = anon.post("/entrar", data={"username": "coord", "password": PASSWORD, "csrf": "x"})
    assert r.status_code == 403 and "vendd_session" not in r.headers.get("set-cookie", "")


def test_session_cookie_is_secure_httponly_samesite(dash: Dash) -> None:
    client = dash.client()
    form = client.get("/entrar")
    r = client.post("/entrar", data={"username": "member", "password": PASSWORD,
                                     "csrf": csrf_of(form.text)})
    cookie = r.headers["set-cookie"].lower()
    assert "vendd_session=" in cookie
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_sign_in_attempts_are_rate_limited(dash: Dash) -> None:
    client = dash.client(own_app=True)  # its failures block its address, not the others'

    for _ in range(5):
        form = client.get("/entrar")
        r = client.post("/entrar", data={"username": "carmen", "password": "wrong one!",
                                         "csrf": csrf_of(form.text)})
        assert r.status_code == 401
    form = client.get("/entrar")
    r = client.post("/entrar", data={"username": "carmen", "password": PASSWORD,
                                     "csrf": csrf_of(form.text)})
    assert r.status_code == 429
    assert "vendd_session" not in r.headers.get("set-cookie", "")
    assert "Demasiados intentos" in r.text


def test_sign_out_ends_the_session(dash: Dash) -> None:
    client = dash.client("member")
    page = client.get("/maquinas")
    client.post("/salir", data={"csrf": csrf_of(page.text)})
    client.cookies.clear()
    assert client.get("/maquinas").status_code == 303


def test_spanish_by_default_english_on_request(dash: Dash) -> None:
    client = dash.client("coord")
    assert "<h1>Máquinas" in client.get("/maquinas").text
    client.get("/idioma?l=en&next=/maquinas")
    page = client.get("/maquinas").text
    assert "<h1>Machines" in page and 'lang="en"' in page


def test_people_page_adds_and_removes_accounts(dash: Dash) -> None:
    client = dash.client("coord")
    token = csrf_of(client.get("/personas").text)
    r = client.post("/personas", data={"csrf": token, "username": "ana", "name": "Ana",
                                       "role": "member", "password": "long enough pw"})
    assert r.status_code == 303
    assert dash.people.check("ana", "long enough pw") is not None
    r = client.post("/personas", data={"csrf": token, "remove": "ana"})
    assert r.status_code == 303 and dash.people.get("ana") is None
    r = client.post("/personas", data={"csrf": token, "username": "bea", "role": "maker",
                                       "password": "long enough pw"})
    assert r.status_code == 400 and "--maker" in r.text


def test_bad_query_values_are_named(dash: Dash) -> None:
    client = dash.client("coord")
    r = client.get("/ventas?from=2026-13-01")
    assert r.status_code == 400 and "from=" in r.text
    r = client.get("/cuentas?from=2026-02-01&to=2026-01-01")
    assert r.status_code == 400
    assert client.get("/stock?machine=nope").status_code == 400


def test_banners_show_on_every_page_of_their_reader(dash: Dash) -> None:
    from vendd.hub.dashboard.app import Banner

    coord, member = dash.client("coord"), dash.client("member")
    hub = dash.app.state.hub

    def banners(user: object) -> list[Banner]:
        return [Banner("B4 de quito-01 vacío", "alarm", "/stock")] \
            if getattr(user, "role", "") == "coordinator" else []

    hub.banners.append(banners)
    try:
        for path in ("/maquinas", "/stock", "/cuentas", "/avisos"):
            assert "B4 de quito-01 vacío" in coord.get(path).text, path
            assert "B4 de quito-01 vacío" not in member.get(path).text, path
    finally:
        hub.banners.remove(banners)
    assert "vacío</a>" not in coord.get("/avisos").text
