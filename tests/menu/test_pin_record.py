"""What the journal says of wrong PINs at start-up: the tries still counting, the lock-outs in a
row and what is left of the last one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vendd.commands import Fact
from vendd.daemon.menu_view import pin_record
from vendd.ledger import Ledger
from vendd.menu import PinRecord


def test_the_journal_gives_back_tries_lockouts_and_time_left(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "v.db")
    try:
        assert pin_record(ledger.db, 300) == PinRecord(0, 0, 0.0)
        ledger.append([Fact("pin_failed", {"tries": 1, "of": 3}),
                       Fact("pin_failed", {"tries": 2, "of": 3})])
        assert pin_record(ledger.db, 300) == PinRecord(2, 0, 0.0)
        ledger.append([Fact("pin_failed", {"tries": 3, "of": 3}),
                       Fact("pin_locked", {"seconds": 600, "lockouts": 1})])
        now = datetime.now(UTC)
        record = pin_record(ledger.db, 300, now=now + timedelta(seconds=100))
        assert record.tries == 0 and record.lockouts == 1
        assert 400 < record.locked_s <= 500
        later = pin_record(ledger.db, 300, now=now + timedelta(seconds=700))
        assert later == PinRecord(0, 1, 0.0)  # over, but the next lock-out will be longer
        ledger.append([Fact("pin_failed", {"tries": 1, "of": 3}),
                       Fact("signed_in", {"by": "rosa"})])
        assert pin_record(ledger.db, 300) == PinRecord(0, 0, 0.0)  # a sign-in starts again
    finally:
        ledger.close()
