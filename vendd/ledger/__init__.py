"""The SQLite ledger: the journal (the machine's history) and the state tables it projects."""

from vendd.ledger.journal import JournalRow
from vendd.ledger.ledger import Ledger, MachineRecord, OpenVend, SlotRecord, read_rows

__all__ = ["JournalRow", "Ledger", "MachineRecord", "OpenVend", "SlotRecord", "read_rows"]
