"""A small bench that wires the pure vend machine and the pure menu the way the controller
does, counting presses and collecting the facts both journal."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from vendd import machine as m
from vendd import menu as sm
from vendd.commands import CancelTimer, Show, StartTimer, StartVend
from vendd.config import Config
from vendd.events import CancelPressed, SelectionPressed, ServiceKey, Started, TimerExpired
from vendd.menu import pins
from vendd.messages import render


class Bench:
    """The vend machine and the menu, wired as the controller wires them."""

    def __init__(self, config: Config, language: str = "es", **menu: Any) -> None:
        self.settings = replace(sm.MenuSettings.from_config(config), **menu)
        self.menu = sm.initial(self.settings)
        slots = {s.id: m.Slot(s.id, s.product, s.maker, s.price, s.capacity, 0)
                 for s in config.slots}
        self.machine = m.State(m.Settings(payment_devices=frozenset({"coin"})), slots)
        self.language = language
        self.facts: list[tuple[str, dict]] = []
        self.screen: list[str] = []
        self.timers: dict[str, int] = {}
        self.timer_s: dict[str, float] = {}
        self.presses = 0
        self.vends: list[StartVend] = []
        self.sales: tuple[sm.MakerSales, ...] = ()
        self.machine_event(Started())

    def view(self) -> sm.View:
        s = self.machine
        return sm.View(slots=s.slots, cash_box=s.cash_box, faults=s.faults,
                       vending=s.vend.slot if s.vend else None, sales=self.sales,
                       network="up", broker="down")

    def machine_event(self, event: object) -> list:
        was = self.machine.service_key
        step = m.handle(self.machine, event)
        self.machine = step.state
        self.facts += [(f.kind, f.fields) for f in step.facts]
        self.vends += [c for c in step.commands if isinstance(c, StartVend)]
        if self.machine.service_key and not was:
            self.menu_event(sm.Enter(self.view()))
        elif was and not self.machine.service_key:
            self.menu_event(sm.Leave())
        elif was:
            self.menu_event(sm.Refresh(self.view()))
        for f in step.facts:
            if f.kind == "test_vend":
                self.menu_event(sm.TestDone(f.fields["slot"], f.fields["outcome"]))
        return step.commands

    def menu_event(self, event: object) -> None:
        self.menu, commands = sm.handle(self.menu, event)
        for c in commands:
            if isinstance(c, Show):
                self.screen = render(c.key, self.language, c.params)
            elif isinstance(c, StartTimer):
                self.timers[c.name] = c.token
                self.timer_s[c.name] = c.seconds
            elif isinstance(c, CancelTimer):
                self.timers.pop(c.name, None)
            elif isinstance(c, sm.Record):
                self.facts.append((c.kind, c.fields))
        for c in commands:
            if isinstance(c, sm.Submit):
                replies = [r for r in self.machine_event(c.event) if isinstance(r, m.Reply)]
                self.menu_event(sm.Answer(replies[0]))

    # hands
    def key(self, on: bool) -> None:
        self.machine_event(ServiceKey(on))

    def press(self, *keys: str) -> None:
        for k in keys:
            self.presses += 1
            if self.machine.service_key:
                self.menu_event(SelectionPressed(k))
            else:
                self.machine_event(SelectionPressed(k))

    def cancel(self) -> None:
        self.presses += 1
        if self.machine.service_key:
            self.menu_event(CancelPressed())
        else:
            self.machine_event(CancelPressed())

    def expire(self, name: str) -> None:
        self.menu_event(TimerExpired(name, self.timers.pop(name)))

    def type_pin(self, pin: str) -> None:
        """One press per digit on the button that types it, then coin return as OK."""
        keys = self.settings.keys
        for digit in pin:
            self.press(keys[pins.key_of_digit(digit, len(keys))])
        self.cancel()

    def last(self, kind: str) -> dict:
        return next(f for k, f in reversed(self.facts) if k == kind)

    def kinds(self) -> list[str]:
        return [k for k, _ in self.facts]
