"""What the MDB devices still hold when the daemon starts is money: the changer's unreported
coin and the validator's unreported stacked bill are credited before RESET wipes them, and a
bill waiting in escrow goes back to the buyer."""

from __future__ import annotations

from pathlib import Path

from support import ROOT, wait_for

from simulator.mdb_peer import SimMdbBus
from vendd.config import Config, load_config
from vendd.daemon.app import Daemon
from vendd.ledger.ledger import iter_rows, open_readonly
from vendd.ledger.verify import verify


def credits(path: Path) -> list[tuple[str, int]]:
    db = open_readonly(path)
    try:
        return [(r.fields["device"], r.fields["amount"]) for r in iter_rows(db)
                if r.kind == "credit"]
    finally:
        db.close()


def test_held_money_is_taken_before_reset_and_escrow_is_returned(tmp_path: Path) -> None:
    peer = SimMdbBus().start()
    try:
        with peer.lock:  # left by a daemon that died: taken, never reported
            changer, bills = peer.changer, peer.bills
            assert changer is not None and bills is not None
            changer.enabled = 0xFFFF
            assert changer.insert(25)
            bills.enabled = 0xFFFF
            assert bills.insert(500)  # no escrow: straight to the stacker
            bills.escrow_enabled = 0xFFFF
            assert bills.insert(100)  # waits in escrow
            changer.enabled = bills.enabled = bills.escrow_enabled = 0
        data = load_config(ROOT / "config" / "sim-mdb.toml").model_dump()
        data["ledger"] = {"path": tmp_path / "vendd.db"}
        data["mqtt"]["enabled"] = False
        data["dispenser"] = {"kind": "virtual", "turn_time_s": 0.0}
        data["mdb"]["port"] = peer.port
        daemon = Daemon(Config(**data))
        daemon.start()
        try:
            daemon.wait_ready()
            wait_for(lambda: len(credits(daemon.ledger_path)) == 2, what="the held money")
            wait_for(lambda: bills.returned == [100], what="the escrowed bill returned")
            wait_for(lambda: changer.enabled, what="the changer set up after its reset")
            assert sorted(credits(daemon.ledger_path)) == [("bill_validator", 500),
                                                           ("changer", 25)]
            assert bills.stacked == [500]
        finally:
            daemon.stop()
        report = verify(open_readonly(daemon.ledger_path), daemon.config.machine.timezone)
        assert report.ok, report.problems
        assert report.credit == 525
    finally:
        peer.stop()
