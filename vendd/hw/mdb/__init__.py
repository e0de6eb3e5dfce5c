"""MDB / ICP: coin changer (08), bill validator (30) and cashless reader (10 / 60) on one bus.

`codec` is the pure wire format, `links` the three ways to the bus, `bus` the one thread that
polls the devices in turn; `changer`, `bills` and `cashless` are the drivers."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from vendd.config import Config
    from vendd.hw.mdb.bills import MdbBillValidator
    from vendd.hw.mdb.cashless import MdbCashless
    from vendd.hw.mdb.changer import MdbChanger


class MdbDevices(NamedTuple):
    changer: MdbChanger | None
    bill_validator: MdbBillValidator | None
    card_reader: MdbCashless | None


def build_mdb_devices(config: Config) -> MdbDevices:
    """The configured MDB devices, all on one bus (the factory decides where each goes)."""
    from vendd.hw.mdb.bills import MdbBillValidator
    from vendd.hw.mdb.bus import MdbBus
    from vendd.hw.mdb.cashless import MdbCashless
    from vendd.hw.mdb.changer import MdbChanger

    mdb = config.mdb
    assert mdb is not None
    bus = MdbBus(mdb)
    decimals = config.machine.decimals
    changer = bills = reader = None
    if mdb.changer is not None and mdb.changer.enabled:
        changer = MdbChanger("changer", bus, mdb.changer, decimals)
    if mdb.bill_validator is not None and mdb.bill_validator.enabled:
        bills = MdbBillValidator("bill_validator", bus, mdb.bill_validator, decimals)
    if mdb.cashless is not None and mdb.cashless.enabled:
        reader = MdbCashless("card_reader", bus, mdb.cashless, decimals)
    return MdbDevices(changer, bills, reader)
