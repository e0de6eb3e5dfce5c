"""Fact schemas: every kind the daemon can journal has a schema and a projection, a wrong field
is refused before anything is written, and each kind's money effect balances on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from vendd.commands import Fact
from vendd.errors import LedgerError
from vendd.ledger import Ledger, kinds, projection
from vendd.ledger.verify import verify

VENDD = Path(__file__).resolve().parents[2] / "vendd"


def _emitted() -> list[tuple[str, str, set[str] | None]]:
    """(where, kind, field names) of every fact written in vendd's source: the machine's
    `out.fact("kind", field=...)`, the service menu's `m.record("kind", field=...)`, and
    `Fact("kind", {...})` in the controller and the CLI.
    Field names are None where they are not literal."""
    found = []
    for path in sorted(VENDD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            func = node.func
            where = f"{path.relative_to(VENDD.parent)}:{node.lineno}"
            if isinstance(func, ast.Attribute) and func.attr in ("fact", "record"):
                names = {k.arg for k in node.keywords if k.arg is not None}
                found.append((where, first.value, names))
            elif isinstance(func, ast.Name) and func.id == "Fact":
                body = node.args[1] if len(node.args) > 1 else None
                names = ({k.value for k in body.keys if isinstance(k, ast.Constant)}
                         if isinstance(body, ast.Dict) else None)
                found.append((where, first.value, names))
    return found


def test_every_fact_the_daemon_writes_has_a_schema_and_a_projection() -> None:
    emitted = _emitted()
    # The scan sees the machine, the service menu's and requests' changes (admin handlers),
    # the controller's start-up facts and the CLI's DEX reset.
    assert {"credit", "sale", "vend_intent", "payout", "price_set", "cash_collected",
            "started", "slot_configured", "dex_reset", "device_fault", "signed_in",
            "pin_failed", "pin_locked", "signed_out"} <= {k for _, k, _ in emitted}
    for where, kind, names in emitted:
        assert kind in kinds.KINDS, f"{where}: {kind!r} has no schema"
        assert projection.projects(kind), f"{where}: {kind!r} has no projection"
        if names is not None:
            spec = kinds.KINDS[kind]
            assert names <= set(spec.fields), f"{where}: {kind} {names - set(spec.fields)}"
            assert spec.required <= names, f"{where}: {kind} lacks {spec.required - names}"


def test_every_schema_has_a_projection() -> None:
    assert len(kinds.KINDS) >= 25
    assert projection.known_kinds() == frozenset(kinds.KINDS)


def test_a_kind_is_defined_once() -> None:
    with pytest.raises(ValueError, match="'sale' is defined twice"):
        kinds.fact_kind("sale")(type("Again", (), {}))


@pytest.mark.parametrize(("kind", "fields", "message"), [
    ("credit", {"device": "coins", "amount": "100"},
     "fact 'credit': field 'amount' must be an integer, not '100'"),
    ("credit", {"device": "coins", "amount": True},
     "fact 'credit': field 'amount' must be an integer, not True"),
    ("credit", {"device": "coins", "amount": 100, "route": "floor"},
     "fact 'credit': field 'route' must be 'cashbox' or 'tubes' or 'stacker', not 'floor'"),
    ("sale", {"vend": 1, "slot": "A1", "product": "M", "maker": "rosa", "price": 100,
              "payment": "cash", "colour": "red"},
     "fact 'sale': unknown field 'colour'"),
    ("payout", {"device": "changer", "amount": 75},
     "fact 'payout': missing field 'paid'"),
    ("refund", {"amount": 1}, "fact 'refund': unknown kind"),
])
def test_a_wrong_field_is_refused_by_name_and_nothing_is_written(
        tmp_path: Path, kind: str, fields: dict, message: str) -> None:
    ledger = Ledger(tmp_path / "vendd.db")
    ledger.append([Fact("note", {"text": "first"})])
    with pytest.raises(LedgerError) as refused:
        ledger.append([Fact("credit", {"device": "coins", "amount": 25}), Fact(kind, fields)])
    assert str(refused.value).startswith(message)
    assert ledger.head[0] == 1
    assert ledger.machine().credit == 0  # the good fact before it was not written either
    ledger.close()


def test_each_money_effect_balances_on_its_own() -> None:
    samples = {
        "credit": [{"device": "c", "amount": 100}, {"device": "c", "amount": 50,
                                                    "route": "tubes"}],
        "vend_intent": [{"vend": 1, "slot": "A1", "price": 125, "payment": p}
                        for p in ("cash", "card", "test")],
        "sale": [{"vend": 1, "slot": "A1", "product": "M", "maker": "r", "price": 125,
                  "payment": p} for p in ("cash", "card")],
        "vend_failed": [{"vend": 1, "slot": "A1", "outcome": "jammed", "price": 125,
                         "payment": p} for p in ("cash", "card")],
        "payout": [{"device": "changer", "amount": 75, "paid": 50, "owed": 25}],
        "unclaimed": [{"amount": 40}],
    }
    assert set(samples) == kinds.money_kinds()
    for kind, cases in samples.items():
        for fields in cases:
            kinds.validate(kind, fields)
            e = kinds.money_effect(Fact(kind, fields))
            assert e.cash_in == (e.cash_sale + e.paid_out + e.owed + e.unclaimed + e.credit
                                 + e.held), (kind, fields, e)
    short = kinds.money_effect(Fact("payout", samples["payout"][0]))
    assert (short.paid_out, short.owed, short.credit) == (50, 25, -75)
    tubes = kinds.money_effect(Fact("credit", samples["credit"][1]))
    assert (tubes.cash_in, tubes.to_cash_box) == (50, 0)
    assert kinds.money_effect(Fact("note", {"text": "x"})) == kinds.NO_MONEY


def test_verify_names_an_outcome_that_disagrees_with_its_intent(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "vendd.db")
    ledger.append([Fact("maker_added", {"maker": "rosa", "name": "Rosa"}),
                   Fact("slot_configured", {"slot": "A1", "product": "M", "maker": "rosa",
                                            "price": 100, "capacity": 5}),
                   Fact("stock_set", {"slot": "A1", "before": 0, "after": 5}),
                   Fact("credit", {"device": "coins", "amount": 100}),
                   Fact("vend_intent", {"vend": 1, "slot": "A1", "price": 100,
                                        "payment": "cash"}),
                   Fact("sale", {"vend": 1, "slot": "A1", "product": "M", "maker": "rosa",
                                 "price": 80, "payment": "cash"})])
    report = verify(ledger.db)
    assert any("sale of vend 1 says cash 80, its intent cash 100" in p for p in report.problems)
    ledger.close()


def test_kinds_is_importable_alone_without_io() -> None:
    """The hub reads the same kinds: the three modules stand on their own (loaded from their
    files, without the ledger package's own modules) and pull in no database, serial or
    network module."""
    code = (
        "import importlib.util, sys\n"
        "def load(name, path):\n"
        "    spec = importlib.util.spec_from_file_location(name, path)\n"
        "    module = sys.modules[name] = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    return module\n"
        f"load('vendd.ledger.kindspec', {str(VENDD / 'ledger' / 'kindspec.py')!r})\n"
        f"load('vendd.ledger.kinds_life', {str(VENDD / 'ledger' / 'kinds_life.py')!r})\n"
        f"kinds = load('vendd.ledger.kinds', {str(VENDD / 'ledger' / 'kinds.py')!r})\n"
        "assert len(kinds.KINDS) >= 25\n"
        "print([m for m in ('sqlite3', 'sqlite_utils', 'vendd.ledger', 'vendd.ledger.ledger',"
        " 'socket', 'serial', 'paho') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
