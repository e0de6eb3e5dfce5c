"""Build the configured devices. One branch per device kind; drivers are imported lazily so a
Pi-only library is needed only where that kind is configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vendd.config import Config
from vendd.errors import ConfigError
from vendd.hw.base import CardReader, CashAcceptor, Changer, Device, Dispenser, Display
from vendd.hw.virtual import VirtualButtons, VirtualCoinAcceptor, VirtualDispenser, VirtualDisplay


@dataclass
class Devices:
    dispenser: Dispenser
    display: Display
    acceptors: list[CashAcceptor] = field(default_factory=list)
    changer: Changer | None = None
    card_reader: CardReader | None = None
    inputs: list[Device] = field(default_factory=list)  # buttons, keypad, service key

    def all(self) -> list[Device]:
        out: list[Device] = [self.display, self.dispenser, *self.acceptors, *self.inputs]
        out += [d for d in (self.changer, self.card_reader) if d is not None]
        return list({id(d): d for d in out}.values())  # an MDB changer is also an acceptor


def build_devices(config: Config, pin_factory: Any = None) -> Devices:
    """`pin_factory`: a gpiozero pin factory (lgpio on a Pi, MockFactory in the simulator)."""
    devices = Devices(
        dispenser=_dispenser(config, pin_factory),
        display=_display(config),
        acceptors=_acceptors(config, pin_factory),
        inputs=[_buttons(config, pin_factory)],
    )
    if config.mdb is not None:
        from vendd.hw.mdb import build_mdb_devices

        mdb = build_mdb_devices(config)
        if mdb.changer is not None:  # an MDB changer takes coins in and pays change out
            devices.acceptors.append(mdb.changer)
            devices.changer = mdb.changer
        if mdb.bill_validator is not None:
            devices.acceptors.append(mdb.bill_validator)
        devices.card_reader = mdb.card_reader
    return devices


def _not_built(section: str, kind: str) -> ConfigError:
    return ConfigError([f"{section}.kind: {kind!r} is not supported by this build"])


def _acceptors(config: Config, pin_factory: Any) -> list[CashAcceptor]:
    ca = config.coin_acceptor
    if ca is None:
        return []
    if ca.kind == "virtual":
        return [VirtualCoinAcceptor("coin_acceptor", [c.value for c in ca.coins])]
    if ca.kind == "cctalk":
        from vendd.hw.cctalk.driver import CctalkCoinAcceptor

        return [CctalkCoinAcceptor("coin_acceptor", ca)]
    if ca.kind == "pulse":
        from vendd.hw.pulse import PulseCoinAcceptor

        return [PulseCoinAcceptor("coin_acceptor", ca, pin_factory)]
    raise _not_built("coin_acceptor", ca.kind)


def _dispenser(config: Config, pin_factory: Any) -> Dispenser:
    d = config.dispenser
    if d.kind == "virtual":
        return VirtualDispenser("dispenser", d.turn_time_s)
    if d.kind == "gpio":
        from vendd.hw.dispenser import GpioDispenser

        return GpioDispenser("dispenser", d, pin_factory)
    raise _not_built("dispenser", d.kind)


def _buttons(config: Config, pin_factory: Any) -> Device:
    b = config.buttons
    if b.kind == "virtual":
        return VirtualButtons("buttons")
    if b.kind == "gpio":
        from vendd.hw.keypad import GpioButtons

        return GpioButtons("buttons", b, pin_factory)
    raise _not_built("buttons", b.kind)


def _display(config: Config) -> Display:
    d = config.display
    if d.kind == "virtual":
        return VirtualDisplay("display")
    if d.kind == "console":
        from vendd.hw.display import ConsoleDisplay

        return ConsoleDisplay("display", d)
    if d.kind == "lcd":
        from vendd.hw.display import LcdDisplay

        return LcdDisplay("display", d)
    raise _not_built("display", d.kind)
