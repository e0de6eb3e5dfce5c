"""Charts from a test ledger are valid PNGs of a sensible size."""

from __future__ import annotations

import struct
from datetime import date
from pathlib import Path

import pytest
from accounts_data import TZ, known_ledger

from vendd.config import SharesConfig
from vendd.ledger.charts import write_chart
from vendd.ledger.ledger import open_readonly
from vendd.ledger.statements import Period, statement
from vendd.money import Money

pytest.importorskip("matplotlib")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


@pytest.mark.parametrize("by", ["maker", "day", "product"])
def test_chart_is_a_png_of_sensible_size(tmp_path: Path, by: str) -> None:
    db = open_readonly(known_ledger(tmp_path / "known.db"))
    try:
        st = statement(db, Period(date(2026, 1, 1), date(2026, 1, 31)), SharesConfig(), TZ,
                       by=by)  # type: ignore[arg-type]
    finally:
        db.close()
    out = write_chart(st, tmp_path / f"{by}.png", Money("USD", 2))
    width, height = png_size(out)
    assert 600 <= width <= 2000 and 300 <= height <= 1200
    assert out.stat().st_size > 5_000  # something was drawn


def test_an_empty_period_still_draws(tmp_path: Path) -> None:
    db = open_readonly(known_ledger(tmp_path / "known.db"))
    try:
        st = statement(db, Period(date(2025, 1, 1), date(2025, 1, 2)), SharesConfig(), TZ)
    finally:
        db.close()
    assert png_size(write_chart(st, tmp_path / "empty.png", Money())) == (1000, 560)
