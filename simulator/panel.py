"""`vendd-sim panel`: the simulated cabinet's front panel in a terminal.

The real daemon runs underneath (a `Simulation`); the panel shows its display, the slots and
the money, and turns single keys into what hands do at the cabinet. `Panel.feed("5555a1")` is
the input layer a test drives; `run_panel()` reads the same keys from a terminal.

Keys (shown on screen):
  1..9      insert the n-th coin of the acceptor's table
  a1 .. b4  press a selection button (row letter, then column number)
  x         cancel / coin return (OK after a PIN)   k  turn the service key
  d         open / close the door       t  tap a card
  j<slot>   jam that slot's next turn   r<slot>  repair it (clear the jam physically)
  q         quit
With the door open, a restock journaled by the menu also loads the spiral (the physical side).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import IO, Any

from simulator.sim import Simulation
from vendd.events import VendOutcome
from vendd.hw.display import layout
from vendd.machine import State
from vendd.menu.pins import key_digits
from vendd.money import format_money

HELP = ("1-9 coin  a1.. select  x cancel  k service key  d door  t card  "
        "j<slot> jam  r<slot> repair  q quit")


class Panel:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        cfg = sim.config
        # The acceptor's coin table, or the MDB changer's coins (and bills) by value.
        self.coins: list[tuple[int, str]] = (
            [(c.value, c.label) for c in cfg.coin_acceptor.coins]
            if cfg.coin_acceptor is not None else
            [(v, format_money(v, cfg.machine.currency, cfg.machine.decimals))
             for v in sim.coin_values()])
        self.rows = sorted({s.id[0].lower() for s in cfg.slots})
        self.slot_ids = {s.id.lower(): s.id for s in cfg.slots}
        self.pin_help = "PIN: " + " ".join(
            f"{key.lower()}={digits}" for key, digits in key_digits([s.id for s in cfg.slots])
        ) + ", then x"
        self.key_on = False
        self.door_open = False
        self.quit = False
        self.log: deque[str] = deque(maxlen=6)
        self._pending = ""  # a prefix waiting for the rest of a slot id ("a", "ja", "r")
        self._lock = threading.Lock()
        self.changed = threading.Event()  # something worth redrawing happened

    # --- wiring to the running daemon --------------------------------------------------------

    def attach(self) -> None:
        """Follow the journal: load spirals on a restock with the door open."""
        controller = self.sim.daemon.controller
        assert controller is not None, "attach after the simulation started"
        controller.listeners.append(self._on_step)

    def _on_step(self, state: State, rows: list[Any]) -> None:
        for row in rows:
            if row.kind == "stock_set" and row.fields["after"] > row.fields["before"]:
                slot, after = row.fields["slot"], row.fields["after"]
                if self.door_open:
                    self.sim.load(slot, after)
                    self.note(f"loaded {slot} with {after}")
                else:
                    self.note(f"{slot} set to {after}, but the door is closed: nothing loaded")
            elif row.kind in ("sale", "vend_failed", "test_vend", "cash_collected",
                              "price_set", "slot_fault_cleared"):
                self.note(f"{row.kind} " + " ".join(f"{k}={v}" for k, v in
                                                    sorted(row.fields.items())
                                                    if k in ("slot", "price", "outcome",
                                                             "counted", "by")))
        self.changed.set()

    def note(self, text: str) -> None:
        with self._lock:
            self.log.append(text)
        self.changed.set()

    # --- the input layer ---------------------------------------------------------------------

    def feed(self, keys: str) -> None:
        for ch in keys:
            self.key(ch)

    def key(self, ch: str) -> None:
        ch = ch.lower()
        if self._pending:
            self._continue(ch)
        elif ch.isdigit() and ch != "0":
            self._coin(int(ch))
        elif ch in self.rows or ch in ("j", "r"):
            self._pending = ch
        elif ch == "x":
            self.sim.cancel()
        elif ch == "k":
            self.key_on = not self.key_on
            self.sim.service_key(self.key_on)
            self.note("service key " + ("on" if self.key_on else "off"))
        elif ch == "d":
            self.door_open = not self.door_open
            self.note("door " + ("open" if self.door_open else "closed"))
        elif ch == "t":
            self._tap()
        elif ch == "q":
            self.quit = True
        self.changed.set()

    def _continue(self, ch: str) -> None:
        text = self._pending + ch
        prefix, rest = (text[0], text[1:]) if text[0] in ("j", "r") else ("", text)
        slot = self.slot_ids.get(rest)
        if slot is not None:
            self._pending = ""
            if prefix == "j":
                self.sim.inject(slot, VendOutcome.JAMMED)
                self.note(f"{slot} will jam")
            elif prefix == "r":
                self.sim.repair(slot)
                self.note(f"{slot} repaired")
            else:
                self.sim.press(slot)
        elif any(s.startswith(rest) for s in self.slot_ids) or not rest:
            self._pending = text  # more to come (B12, or the row after j/r)
        else:
            self._pending = ""
            self.note(f"no slot {rest.upper()}")

    def _coin(self, n: int) -> None:
        if n > len(self.coins):
            self.note(f"no coin {n}")
            return
        value, label = self.coins[n - 1]
        kept = self.sim.insert_coin(value)
        self.note(f"coin {label} " + ("accepted" if kept else "returned"))

    def _tap(self) -> None:
        reader = self.sim.daemon.devices.card_reader
        tap = getattr(reader, "tap", None) or getattr(self.sim, "tap_card", None)
        if reader is None:
            self.note("no card reader configured")
        elif tap is None:
            self.note("this card reader cannot be tapped in the simulator")
        else:
            tap()
            self.note("card tapped")

    # --- the view ----------------------------------------------------------------------------

    def render(self) -> str:
        cfg = self.sim.config
        state = self.sim.state
        money = lambda cents: format_money(cents, cfg.machine.currency, cfg.machine.decimals)  # noqa: E731
        cols = cfg.display.cols
        screen = layout(self.sim.display(), cols, cfg.display.rows)
        out = ["+" + "-" * cols + "+", *("|" + line + "|" for line in screen),
               "+" + "-" * cols + "+"]
        out.append(f"credit {money(state.credit)}  cash box {money(state.cash_box)}  "
                   f"mode {state.mode.value}  key {'on' if self.key_on else 'off'}  "
                   f"door {'open' if self.door_open else 'closed'}  "
                   f"acceptor {'on' if self.sim.accepting() else 'off'}")
        for slot in state.slots.values():
            flag = f" FAULT {slot.fault}" if slot.fault else ""
            inside = self.sim.products.get(slot.id, 0)
            if self.sim.cabinet is not None:
                inside = self.sim.cabinet.products.get(slot.id, 0)
            out.append(f"  {slot.id:<4}{slot.product[:22]:<23}{money(slot.price):>8}  "
                       f"stock {slot.stock}/{slot.capacity} (inside {inside}){flag}")
        out.append("coins: " + "  ".join(f"{i}={label}" for i, (_, label)
                                         in enumerate(self.coins, 1)))
        out.append(HELP)
        out.append(self.pin_help)
        with self._lock:
            out += [f"> {line}" for line in self.log]
        return "\n".join(out)


def run_panel(sim: Simulation, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
              redraw_s: float = 0.25) -> None:
    """Read keys from a terminal until `q` or end of input; redraw on every change."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    panel = Panel(sim)
    panel.attach()
    if sim.daemon.devices.display is not None and hasattr(sim.daemon.devices.display,
                                                            "on_show"):
        previous: Callable[[list[str]], None] | None = sim.daemon.devices.display.on_show

        def shown(lines: list[str]) -> None:
            if previous is not None:
                previous(lines)
            panel.changed.set()

        sim.daemon.devices.display.on_show = shown
    with _cbreak(stdin):
        while not panel.quit:
            stdout.write("\x1b[H\x1b[2J" + panel.render() + "\n")
            stdout.flush()
            panel.changed.clear()
            ready, _, _ = select.select([stdin], [], [], redraw_s)
            if ready:
                ch = os.read(stdin.fileno(), 1).decode(errors="ignore")
                if not ch:
                    break  # end of input
                panel.key(ch)


@contextlib.contextmanager
def _cbreak(stream: IO[str]) -> Any:
    """Single keys without Enter and without echo, restored afterwards."""
    if not stream.isatty():
        yield
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
