"""What follows from the state after every event: the mode, whether money is accepted, and the
screen. Derived, never stored by a handler directly."""

from __future__ import annotations

import math

from vendd.commands import Command, Fact, SetAccepting, Show
from vendd.machine.state import BUTTONS, CHANGER, DISPENSER, Mode, State
from vendd.machine.step import Out


def base_mode(state: State) -> Mode:
    if state.vend is not None:
        return Mode.VENDING
    if state.payout:
        return Mode.PAYING_OUT
    if state.service_key:
        return Mode.SERVICE
    if (state.out_of_service or state.stopping or DISPENSER in state.faults
            or BUTTONS in state.faults or not _can_take_money(state)):
        return Mode.OUT_OF_SERVICE
    return Mode.CREDIT if state.credit > 0 or state.card_device else Mode.IDLE


def _can_take_money(state: State) -> bool:
    working = state.settings.payment_devices - state.faults
    return bool(working) or state.credit > 0


def settle(out: Out, mode_before: Mode) -> None:
    s = out.state
    if s.mode is not Mode.STARTING:
        out.update(mode=base_mode(s))
    s = out.state
    if s.mode is not mode_before:
        out.update(message_shown=False)
        s = out.state
    accepting = s.mode in (Mode.IDLE, Mode.CREDIT) and s.credit < s.settings.max_credit
    if accepting != s.accepting:
        out.update(accepting=accepting)
        # Inhibit before anything else moves (a motor, a payout).
        out.commands.insert(_first_device_command(out.commands), SetAccepting(accepting))
    if out.message is not None:
        out.do(out.message)
        out.update(screen=_screen_of(out.message), message_shown=True)
        out.timer("message", s.settings.message_s)
    elif s.mode is not Mode.STARTING and not s.message_shown:
        show = base_screen(out)
        if _screen_of(show) != s.screen:
            out.do(show)
            out.update(screen=_screen_of(show))


def _first_device_command(commands: list[Command]) -> int:
    return next((i for i, c in enumerate(commands) if not isinstance(c, Fact)), len(commands))


def _screen_of(show: Show) -> tuple[str, tuple[tuple[str, str], ...]]:
    return show.key, tuple(sorted(show.params.items()))


def base_screen(out: Out) -> Show:
    s = out.state
    match s.mode:
        case Mode.VENDING:
            return Show("vending", {"slot": s.vend.slot if s.vend else ""})
        case Mode.PAYING_OUT:
            return Show("paying_out", {"amount": out.money(s.payout)})
        case Mode.SERVICE:
            return Show("service")
        case Mode.OUT_OF_SERVICE:
            if s.credit > 0:
                return Show("out_of_service_credit", {"credit": out.money(s.credit)})
            return Show("out_of_service")
        case Mode.CREDIT if s.credit >= s.settings.max_credit:
            return Show("max_credit", {"credit": out.money(s.credit)})
        case Mode.CREDIT if s.card_device and not s.credit:
            return Show("card_ready")
        case Mode.CREDIT if s.credit and not can_pay_out(s):
            # Credit left cannot come back: how long it waits before it goes to the collective.
            return Show("credit_no_change", {"credit": out.money(s.credit),
                                             "wait": wait_label(s.settings.unclaimed_credit_s)})
        case Mode.CREDIT:
            return Show("credit", {"credit": out.money(s.credit)})
        case _ if s.exact_change:
            return Show("exact_change")
        case _ if not can_pay_out(s) and s.settings.payment_devices - {"card_reader"}:
            return Show("welcome_no_change")  # said before any money goes in
        case _:
            return Show("welcome")


def can_pay_out(state: State) -> bool:
    """Whether credit can be paid back: a changer is fitted and working."""
    return state.settings.has_changer and CHANGER not in state.faults


def wait_label(seconds: float) -> str:
    """How long unused credit waits, as the display says it: "5 min", "2 h"."""
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 100 else f"{math.ceil(minutes / 60)} h"
