"""The ledger is the truth at start: before the daemon takes money, every stored projection
table (credit, open vend, cash box, stock, sales...) must be what the journal makes of it.

From the newest checkpoint (checkpoint.py) only the rows after it are replayed, so a start costs
a read of the sales table, not a replay of years of history. Without a checkpoint, or when that
quick check sees any difference, the whole journal is replayed and compared, which names the
first differing row. A difference is a `LedgerIntegrityError` of one line; the daemon refuses
to start on it (exit 78: restarting cannot mend it, someone must look with `vendd verify`).

Rows before the checkpoint are vouched for by the checks that ran when it was written; the
full chain, and every checkpoint against the rows before it, are `vendd verify`'s job."""

from __future__ import annotations

import sqlite3
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.errors import LedgerIntegrityError
from vendd.ledger import checkpoint
from vendd.ledger.checkpoint import Checkpoint, SalesDigest
from vendd.ledger.compare import first_difference
from vendd.ledger.db import one_snapshot
from vendd.ledger.journal import GENESIS
from vendd.ledger.verify import Replay, Report, replay_journal


@one_snapshot
def check_at_start(db: sqlite_utils.Database, tz: ZoneInfo | str = "UTC") -> SalesDigest:
    """Raise LedgerIntegrityError unless the stored tables match the journal. Returns the
    digest of the stored sales (the next checkpoint continues it)."""
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    cp = checkpoint.last_checkpoint(db.conn)
    if cp is not None:
        digest = _since(db, tz, cp)
        if digest is not None:
            return digest
    report = Report()
    replay = replay_journal(db, Replay(tz, report, money=False))
    if not report.integrity:
        difference = first_difference(db.conn, replay.scratch)
        if difference is not None:
            report.add(difference, True)
    replay.scratch.close()
    if not report.integrity and cp is not None:
        # Every table matches the whole journal, yet not the checkpoint's sales digest.
        report.add(f"row {cp.seq}: checkpoint does not match the sales before it", True)
    if report.integrity:
        more = len(report.integrity) - 1
        extra = f" (and {more} more; `vendd verify` lists them)" if more else ""
        raise LedgerIntegrityError(
            f"the ledger does not match its journal: {report.integrity[0]}{extra}")
    return SalesDigest().feed(db.conn)


def _since(db: sqlite_utils.Database, tz: ZoneInfo, cp: Checkpoint) -> SalesDigest | None:
    """The quick check from a checkpoint; None when anything differs (or cannot be read)."""
    if cp.through == 0:
        prev: str | None = GENESIS
    else:
        row = db.conn.execute("SELECT hash FROM journal WHERE seq = ?", (cp.through,)).fetchone()
        prev = row[0] if row else None
    if prev is None:
        return None
    report = Report()
    replay = Replay(tz, report, money=False)
    replay.from_genesis = False
    try:
        checkpoint.restore(replay.scratch, cp)
        replay.expected_seq, replay.prev = cp.through + 1, prev
        replay_journal(db, replay, after=cp.through)
        if report.integrity:
            return None
        digest = SalesDigest().feed(db.conn, upto=cp.through)
        if (digest.rows, digest.hexdigest()) != (cp.sales_rows, cp.sales_digest):
            return None
        if first_difference(db.conn, replay.scratch, sales_after=cp.through) is not None:
            return None
    except (TypeError, ValueError, KeyError, IndexError, sqlite3.Error):
        return None  # a checkpoint that does not fit this schema: replay it all
    finally:
        replay.scratch.close()
    return digest.feed(db.conn)
