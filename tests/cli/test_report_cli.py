"""`vendd report [cash|stock]` and `vendd export-dex` as a coordinator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from accounts_data import TZ, known_ledger
from support import SIM_CONFIG

from vendd.cli import main
from vendd.ledger.ledger import open_readonly
from vendd.ledger.verify import verify


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return known_ledger(tmp_path / "known.db")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([args[0], "--config", str(SIM_CONFIG), *args[1:]])
    got = capsys.readouterr()
    return code, got.out, got.err


def test_statement_by_maker_json(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--ledger", str(ledger), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["items"], data["gross"], data["timezone"]) == (6, 2575, TZ)
    assert sum(data["split"].values()) == 2575
    lucia = next(r for r in data["rows"] if r["maker"] == "lucia")
    assert (lucia["gross"], lucia["maker_share"], lucia["collective"], lucia["museum"]) == (
        1275, 893, 255, 127)
    assert data["money"]["owed"] == 25 and data["money"]["unclaimed"] == 500
    assert data["journal"]["first_seq"] == 1
    assert data["journal"]["last_seq"] == data["journal"]["head_seq"]
    assert len(data["journal"]["head"]) == 64


def test_period_table_and_csv(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--ledger", str(ledger), "--by", "day", "--period",
                       "2026-01-05..2026-01-06")
    assert code == 0
    assert "2026-01-05      3   $8.25" in out and "2026-01-07" not in out
    assert "chain head " in out and "journal rows 1.." in out
    code, out, _ = run(capsys, "report", "--ledger", str(ledger), "--by", "slot", "--format",
                       "csv", "--from", "2026-01-06")
    # For spreadsheets: a BOM, money in dollars with its currency, and the totals.
    assert out.splitlines() == ["\ufeffslot,maker_share,collective,museum,items,gross,currency",
                                "A1,2.45,0.70,0.35,1,3.50,USD", "A2,0.88,0.25,0.12,1,1.25,USD",
                                "B1,8.93,2.55,1.27,1,12.75,USD",
                                "TOTAL,12.26,3.50,1.74,3,17.50,USD"]


def test_cash_and_stock(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "cash", "--ledger", str(ledger), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["in_box_now"] == 1750 and data["difference"] == -25
    assert data["collections"][0]["by"] == "carmen"
    code, out, _ = run(capsys, "report", "stock", "--ledger", str(ledger))
    assert code == 0 and "A2    Llavero de lana   carmen     19" in out
    assert "restock  carmen" in out and "chain head" in out


def test_chart_from_the_cli(ledger: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "makers.png"
    code, out, _ = run(capsys, "report", "--ledger", str(ledger), "--chart", str(png))
    assert code == 0 and f"chart: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_dex_with_reset_is_journaled(ledger: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "first.dex"
    code, out, _ = run(capsys, "export-dex", "--ledger", str(ledger), "--out", str(first),
                       "--reset")
    assert code == 0 and "since-reset counters reset" in out
    assert "VA1*2575*6*1750*3\r\n" in first.read_bytes().decode("ascii")
    second = tmp_path / "second.dex"
    assert run(capsys, "export-dex", "--ledger", str(ledger), "--out", str(second))[0] == 0
    assert "VA1*2575*6*0*0\r\n" in second.read_bytes().decode("ascii")
    db = open_readonly(ledger)
    try:
        kinds = [k for (k,) in db.conn.execute("SELECT kind FROM journal ORDER BY seq")]
        assert kinds[-1] == "dex_reset"
        assert verify(db, TZ).ok
    finally:
        db.close()


@pytest.mark.parametrize(("args", "message"), [
    (["report", "--period", "yesterday"], "vendd: period 'yesterday': use today, week"),
    (["report", "--period", "week", "--from", "2026-01-01"], "not both"),
    (["report", "cash", "--chart", "x.png"], "--chart draws sales"),
    (["export-dex", "--out", "/nonexistent/dir/x.dex"], "cannot write the DEX file"),
])
def test_errors_are_one_line(ledger: Path, capsys: pytest.CaptureFixture[str],
                             args: list[str], message: str) -> None:
    code, _, err = run(capsys, *args[:1], "--ledger", str(ledger), *args[1:])
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
