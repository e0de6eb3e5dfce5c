"""One step of the machine: `Out` collects what a handler changes and commands; `Step` is the
result; `Reply` answers a person's request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from vendd.commands import Command, Fact, Show, StartTimer
from vendd.machine.state import State
from vendd.money import format_money


@dataclass
class Step:
    """What one event produced: the next state and the commands, facts first."""

    state: State
    commands: list[Command] = field(default_factory=list)

    @property
    def facts(self) -> list[Fact]:
        return [c for c in self.commands if isinstance(c, Fact)]


@dataclass(frozen=True)
class Reply(Command):
    """The answer to a person's request (service menu, coordinator): accepted or why not."""

    ok: bool
    error: str = ""


class Out:
    """Collects one step's commands."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.commands: list[Command] = []
        self.message: Show | None = None

    def fact(self, kind: str, **fields: Any) -> None:
        self.commands.append(Fact(kind, fields))

    def do(self, command: Command) -> None:
        self.commands.append(command)

    def say(self, key: str, **params: str) -> None:
        self.message = Show(key, params)

    def money(self, cents: int) -> str:
        s = self.state.settings
        return format_money(cents, s.currency, s.decimals)

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def set_slot(self, slot_id: str, **changes: Any) -> None:
        slots = dict(self.state.slots)
        slots[slot_id] = replace(slots[slot_id], **changes)
        self.update(slots=slots)

    def timer(self, name: str, seconds: float) -> None:
        token = self.state.timer_token + 1
        self.update(timer_token=token)
        self.do(StartTimer(name, seconds, token))


Handler = Callable[[Out, Any], None]
