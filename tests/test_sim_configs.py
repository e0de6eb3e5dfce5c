"""The simulator runs any machine the config can describe: for a matrix of generated configs
(slot counts, matrix or direct motors, ccTalk, pulse, MDB or in-memory payment, GPIO selection
buttons, a GPIO keypad or virtual buttons, an LCD, the console or a virtual display) each one
passes `vendd check-config`, `vendd-sim demo` sells, `vendd-sim selftest --motor` passes, and
the panel takes a coin and the service key."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import ROOT, wait_for

from simulator.cli import main as sim_main
from simulator.hd44780 import SimLcdFactory
from simulator.panel import Panel
from simulator.sim import Simulation
from vendd.cli import main as vendd_main
from vendd.config import load_config
from vendd.hw.display import CUSTOM_CHARS, lcd_text
from vendd.machine import Mode


@dataclass(frozen=True)
class Machine:
    slots: int
    motors: str  # matrix | direct
    payment: str  # cctalk | pulse | mdb | virtual
    buttons: str  # virtual | gpio | keypad
    display: str  # virtual | console | lcd16 | lcd20

    @property
    def id(self) -> str:
        return f"{self.slots}-{self.motors}-{self.payment}-{self.buttons}-{self.display}"


MACHINES = [
    Machine(6, "matrix", "cctalk", "gpio", "lcd20"),
    Machine(6, "direct", "pulse", "virtual", "console"),
    Machine(8, "matrix", "mdb", "keypad", "lcd16"),
    Machine(1, "direct", "virtual", "gpio", "virtual"),
    Machine(12, "matrix", "cctalk", "keypad", "console"),
    Machine(3, "direct", "mdb", "gpio", "lcd16"),
]

COINS = [(5, "5c", 1), (10, "10c", 2), (25, "25c", 3), (100, "$1", 4)]


class Pins:
    """Hands out GPIO numbers, none twice (from 4: GPIO 2 and 3 have the I2C pull-ups)."""

    def __init__(self) -> None:
        self._free = iter(range(4, 28))

    def __call__(self) -> int:
        return next(self._free)

    def table(self, keys: list[str]) -> str:
        return "{ " + ", ".join(f'"{k}" = {self()}' for k in keys) + " }"


def slot_ids(m: Machine) -> list[str]:
    if m.motors == "direct" or m.slots < 4:
        return [f"A{i}" for i in range(1, m.slots + 1)]
    rows = "ABC"[: (m.slots + 3) // 4]
    return [f"{r}{c}" for r in rows for c in range(1, 5)][: m.slots]


def toml(m: Machine, folder: Path) -> str:
    pins = Pins()
    ids = slot_ids(m)
    out = [
        '[machine]\nid = "gen-01"\nname = "Generated"\ncurrency = "USD"\ndecimals = 2\n'
        'language = "en"\ntimezone = "America/Guayaquil"\n',
        '[[makers]]\nid = "rosa"\nname = "Rosa Quishpe"\npin = "1357"\n',
        "[shares]\nmaker = 70\ncollective = 20\nmuseum = 10\n",
    ]
    for i, slot in enumerate(ids):
        out.append(f'[[slots]]\nid = "{slot}"\nproduct = "Product {slot}"\nmaker = "rosa"\n'
                   f"price = {(50, 100, 150)[i % 3]}\ncapacity = 4\n")
    def coins(field: str | None) -> str:
        return "[" + ", ".join(f'{{ value = {v}, label = "{lb}"'
                               + (f", {field} = {n}" if field else "") + " }"
                               for v, lb, n in COINS) + "]"

    if m.payment == "cctalk":
        out.append('[coin_acceptor]\nkind = "cctalk"\nport = "simulated"\n'
                   f"poll_interval_ms = 50\ncoins = {coins('position')}\n")
    elif m.payment == "pulse":
        out.append(f'[coin_acceptor]\nkind = "pulse"\npin = {pins()}\ninhibit_pin = {pins()}\n'
                   f"coins = {coins('pulses')}\n")
    elif m.payment == "virtual":
        out.append(f'[coin_acceptor]\nkind = "virtual"\ncoins = {coins(None)}\n')
    else:
        out.append('[mdb]\nlink = "sim"\nport = "simulated"\nresponse_timeout_ms = 20\n'
                   "poll_interval_ms = 25\nbus_setup_ms = 20\n[mdb.changer]\n"
                   "[mdb.bill_validator]\n[mdb.cashless]\n")
    timing = "leave_home_timeout_s = 0.5\nhome_timeout_s = 1.0\ndrop_wait_s = 0.1\n"
    if m.motors == "matrix":
        rows = sorted({s[0] for s in ids})
        cols = sorted({s[1:] for s in ids}, key=int)
        out.append(f'[dispenser]\nkind = "gpio"\nwiring = "matrix"\nrows = {pins.table(rows)}\n'
                   f"columns = {pins.table(cols)}\nhome_pin = {pins()}\n"
                   f"drop_sensor_pin = {pins()}\n{timing}")
    else:
        out.append(f'[dispenser]\nkind = "gpio"\nwiring = "direct"\n'
                   f"motors = {pins.table(ids)}\nhome_pins = {pins.table(ids)}\n"
                   f"drop_sensor_pin = {pins()}\n{timing}")
    if m.buttons == "gpio":
        out.append(f'[buttons]\nkind = "gpio"\nselection = {pins.table(ids)}\n'
                   f"cancel_pin = {pins()}\nservice_key_pin = {pins()}\n")
    elif m.buttons == "keypad":
        rows = sorted({s[0] for s in ids})
        cols = sorted({s[1:] for s in ids}, key=int)
        out.append(f'[buttons]\nkind = "gpio"\nrows = {pins.table(rows)}\n'
                   f"columns = {pins.table(cols)}\ncancel_pin = {pins()}\n"
                   f"service_key_pin = {pins()}\n")
    else:
        out.append('[buttons]\nkind = "virtual"\n')
    display = {"virtual": 'kind = "virtual"', "console": 'kind = "console"',
               "lcd16": 'kind = "lcd"\ncols = 16\nrows = 2',
               "lcd20": 'kind = "lcd"\ncols = 20\nrows = 4'}[m.display]
    out.append(f"[display]\n{display}\n")
    out.append("[mqtt]\nenabled = false\n")
    out.append(f'[ledger]\npath = "{folder / "vendd.db"}"\n')
    return "\n".join(out)


@pytest.fixture(params=MACHINES, ids=[m.id for m in MACHINES])
def machine(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Machine, Path]:
    m: Machine = request.param
    path = tmp_path / f"{m.id}.toml"
    path.write_text(toml(m, tmp_path), encoding="utf-8")
    return m, path


def run(main: object, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))  # type: ignore[operator]
    return code, out.getvalue()


def test_the_config_is_valid(machine: tuple[Machine, Path]) -> None:
    code, out = run(vendd_main, "check-config", str(machine[1]))
    assert code == 0, out


def test_demo_sells(machine: tuple[Machine, Path]) -> None:
    m, path = machine
    code, out = run(sim_main, "demo", "--config", str(path))
    assert code == 0, out
    assert "TOTAL" in out
    sold = int(out.split("TOTAL")[1].split()[0])
    assert sold == (1 if m.slots == 1 else 2), out


def test_selftest_passes_with_a_motor_turn(machine: tuple[Machine, Path]) -> None:
    m, path = machine
    slot = slot_ids(m)[-1]
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "selftest", "--config",
                           str(path), "--motor", slot], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "FAIL" not in out
    assert f"motor {slot}" in out


@pytest.fixture
def panel(machine: tuple[Machine, Path]) -> Iterator[Panel]:
    sim = Simulation(load_config(machine[1]), turn_time_s=0.05)
    sim.start()
    p = Panel(sim)
    p.attach()
    yield p
    sim.stop()


def test_panel_takes_a_coin_and_the_service_key(panel: Panel) -> None:
    sim = panel.sim
    wait_for(sim.accepting, timeout=10, what="the acceptor to take coins")
    panel.feed("4")  # the fourth coin: $1
    wait_for(lambda: sim.state.credit == 100, timeout=10, what="$1 credited")
    panel.feed("k")
    wait_for(lambda: sim.state.mode is Mode.SERVICE, timeout=10, what="the service menu")
    panel.feed("k")
    wait_for(lambda: sim.state.mode is not Mode.SERVICE, timeout=10, what="back to selling")


def test_the_simulated_lcd_shows_what_an_hd44780_would() -> None:
    lcd = SimLcdFactory()(cols=20, rows=4, address=0x27, port=1)
    for place, bitmap in enumerate(CUSTOM_CHARS.values()):
        lcd.create_char(place, bitmap)
    lcd.cursor_pos = (1, 0)
    lcd.write_string(lcd_text("Crédito"))
    lcd.cursor_pos = (0, 0)
    lcd.write_string("x" * 24)  # four too many: the chip carries on into line 3, not line 2
    assert lcd.screen() == ["x" * 20, "Crédito".ljust(20), "xxxx".ljust(20), " " * 20]
