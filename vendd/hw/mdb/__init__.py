"""MDB / ICP: coin changer (08), bill validator (30) and cashless reader (10 / 60) on one bus.

`codec` is the pure wire format, `links` the three ways to the bus, `bus` the one thread that
polls the devices in turn; `changer`, `bills` and `cashless` are the drivers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vendd.config import Config
    from vendd.hw.factory import Devices


def add_mdb_devices(devices: Devices, config: Config) -> None:
    """Build the configured MDB devices on one bus and add them to `devices`: the changer
    is both an acceptor (coins in) and the changer (change out)."""
    from vendd.hw.mdb.bills import MdbBillValidator
    from vendd.hw.mdb.bus import MdbBus
    from vendd.hw.mdb.cashless import MdbCashless
    from vendd.hw.mdb.changer import MdbChanger

    mdb = config.mdb
    assert mdb is not None
    bus = MdbBus(mdb)
    decimals = config.machine.decimals
    if mdb.changer is not None and mdb.changer.enabled:
        changer = MdbChanger("changer", bus, mdb.changer, decimals)
        devices.acceptors.append(changer)
        devices.changer = changer
    if mdb.bill_validator is not None and mdb.bill_validator.enabled:
        devices.acceptors.append(MdbBillValidator("bill_validator", bus, mdb.bill_validator,
                                                  decimals))
    if mdb.cashless is not None and mdb.cashless.enabled:
        devices.card_reader = MdbCashless("card_reader", bus, mdb.cashless, decimals)
