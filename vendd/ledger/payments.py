"""`vendd pay`: money handed to a maker for her share, journaled on the machine (kind
`maker_paid`), so every statement by maker shows what she was paid and what is still to pay."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from vendd.commands import Fact
from vendd.errors import VenddError
from vendd.ledger.journal import JournalRow
from vendd.ledger.ledger import Ledger, open_readonly
from vendd.ledger.statements import PAID_KIND


def record_payment(path: Path, tz: ZoneInfo, maker: str, amount: int, by: str,
                   note: str = "") -> JournalRow:
    """Append one `maker_paid` row. `amount` is in cents and must be positive."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise VenddError(f"--amount: must be whole cents above zero (350 means 3.50), "
                         f"got {amount!r}")
    db = open_readonly(path)
    try:
        makers = dict(db.conn.execute("SELECT id, name FROM makers"))
    finally:
        db.close()
    if maker not in makers:
        raise VenddError(f"--maker: {maker!r} is not a maker of this machine "
                         f"(known: {', '.join(sorted(makers)) or 'none'})")
    if not by.strip():
        raise VenddError("--by: say who paid")
    ledger = Ledger(path, tz)
    try:
        (row,) = ledger.append([Fact(PAID_KIND, {"maker": maker, "amount": amount,
                                                 "by": by.strip(), "note": note})])
    finally:
        ledger.close()
    return row
