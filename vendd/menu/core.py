"""The service menu's `handle`: entering and leaving, timers, routing a press to its screen's
key handler, and what the display shows. Pure, no I/O."""

from __future__ import annotations

from vendd import events as ev
from vendd.commands import Command, Show
from vendd.menu.keys import KEYS, answered, start, test_done
from vendd.menu.screens import screen_of
from vendd.menu.state import (
    IDLE,
    LOCK,
    LOCKED,
    NOTE,
    OFF,
    PIN,
    Answer,
    Enter,
    Leave,
    MenuSettings,
    MenuState,
    PinRecord,
    Refresh,
    TestDone,
    Turn,
    log,
)


def initial(settings: MenuSettings) -> MenuState:
    return MenuState(settings)


def wants(event: ev.Event) -> bool:
    """Events the controller gives the menu rather than the machine while the key is on."""
    return isinstance(event, ev.SelectionPressed | ev.CancelPressed)


def is_menu_timer(event: ev.Event) -> bool:
    return isinstance(event, ev.TimerExpired) and event.name.startswith("menu_")


def handle(state: MenuState, event: ev.Event) -> tuple[MenuState, list[Command]]:
    m = Turn(state)
    match event:
        case Enter(view=view):
            m.update(view=view, testing="")
            start(m)
            m.timer(IDLE, m.cfg.timeout_s)
        case Leave():
            m.sign_out("key_off")
            m.update(screen=OFF, note=None, pending="", entered="", testing="")
            m.cancel_timer(IDLE)
            m.cancel_timer(NOTE)
        case Refresh(view=view):
            m.update(view=view)
        case PinRecord(tries=tries, lockouts=lockouts, locked_s=locked_s):
            m.update(tries=tries, lockouts=lockouts)
            if locked_s > 0:
                m.lock_out(locked_s)
        case TestDone(slot=slot, outcome=outcome):
            test_done(m, slot, outcome)
        case Answer(reply=reply):
            answered(m, reply)
        case ev.TimerExpired(name=name, token=token):
            _timer(m, name, token)
        case ev.SelectionPressed(slot=key) if m.s.active:
            _pressed(m, key)
        case ev.CancelPressed() if m.s.active:
            _pressed(m, None)
    if m.s.active:
        _render(m)
    else:
        m.update(shown=None)
    return m.state, m.commands


def _pressed(m: Turn, key: str | None) -> None:
    m.update(note=None)
    m.timer(IDLE, m.cfg.timeout_s)
    if m.s.pending:
        return  # waiting for the machine's answer (in the same loop turn: never seen)
    KEYS[m.s.screen](m, key)


def _timer(m: Turn, name: str, token: int) -> None:
    if dict(m.s.timers).get(name) != token:
        return  # restarted or cancelled since
    m.update(timers=tuple((n, t) for n, t in m.s.timers if n != name))
    if name == IDLE and m.s.active:
        log.info("service menu: no press for %ss", m.cfg.timeout_s)
        m.exit("timeout")
    elif name == NOTE:
        m.update(note=None)
    elif name == LOCK:
        m.update(locked=False, tries=0)
        if m.s.screen == LOCKED:
            m.update(screen=PIN)


def _render(m: Turn) -> None:
    screen = screen_of(m.s)
    if screen is None:
        return
    key, params = screen
    shown = (key, tuple(sorted(params.items())))
    if shown != m.s.shown:
        m.update(shown=shown)
        m.commands.append(Show(key, params))
