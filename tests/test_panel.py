"""The front panel, driven through its input layer and through a pseudo-terminal."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT, sim_config, wait_for

from simulator.panel import Panel
from simulator.sim import Simulation
from vendd.machine import Mode
from vendd.menu.pins import key_of_digit


def pin_keys(pin: str) -> str:
    """A PIN typed on the 2 x 4 buttons (A1 types 1 or 9, A2 2 or 0), then coin return (x)."""
    keys = ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    return "".join(keys[key_of_digit(d, len(keys))] for d in pin) + "x"


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[Panel]:
    sim = Simulation(sim_config(tmp_path), turn_time_s=0.0)
    sim.start()
    p = Panel(sim)
    p.attach()
    yield p
    sim.stop()


def test_panel_restock_then_purchase(panel: Panel) -> None:
    sim = panel.sim
    panel.feed("d")  # open the door
    panel.feed("k" + pin_keys("1357"))
    wait_for(lambda: sim.display()[0] == "Hola Rosa", what="signed in")
    panel.feed("b4a1b4")  # Reponer, A1, fill
    wait_for(lambda: sim.state.slots["A1"].stock == 8, what="A1 restocked")
    wait_for(lambda: sim.products["A1"] == 8, what="the spiral loaded (door open)")
    panel.feed("kd")  # key off, door closed
    wait_for(lambda: sim.state.mode is Mode.IDLE, what="back to sale")
    assert "Pague exacto" in panel.render()
    panel.feed("5555")  # four $1 coins
    wait_for(lambda: sim.state.credit == 400, what="credit")
    assert "credit $4.00" in panel.render()
    panel.feed("a1")
    wait_for(lambda: sim.state.slots["A1"].stock == 7, what="a sale")
    wait_for(lambda: "Gracias!" in panel.render(), what="thanks on the display")
    # Thanks comes with the fall (the sale); coins go in again once the motor is home.
    wait_for(lambda: sim.state.vend is None and sim.state.accepting, what="the motor home")
    screen = panel.render()
    assert "A1  Monedero bordado" in screen and "stock 7/8 (inside 7)" in screen
    assert "> sale " in screen
    # A jam, and the panel says there is no card reader to tap.
    panel.feed("t")
    assert "no card reader configured" in panel.render()
    panel.feed("ja1")
    panel.feed("555")  # $0.50 was left on the machine: $3.50 now
    wait_for(lambda: sim.state.credit == 350, what="credit")
    panel.feed("a1")
    wait_for(lambda: sim.state.slots["A1"].fault == "jammed", what="the jam")
    panel.feed("ra1")
    assert "A1 repaired" in panel.render()
    panel.feed("z9")  # unknown keys are harmless
    panel.feed("q")
    assert panel.quit


def test_vendd_sim_panel_in_a_pseudo_terminal(tmp_path: Path) -> None:
    env = dict(os.environ, VENDD_LEDGER__PATH=str(tmp_path / "vendd.db"),
               VENDD_MQTT__ENABLED="false")
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "panel", "--turn-time",
                             "0.05"], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            cwd=ROOT, env=env)
    os.close(slave)
    seen = bytearray()

    def screen_has(text: str) -> bool:
        while select.select([master], [], [], 0.05)[0]:
            try:
                seen.extend(os.read(master, 65536))
            except OSError:
                break
        frames = seen.decode(errors="ignore").split("\x1b[H\x1b[2J")
        return any(text in frame for frame in frames[-2:])  # the latest screens only

    try:
        wait_for(lambda: screen_has("Pague exacto"), timeout=20, what="the panel")
        os.write(master, ("dk" + pin_keys("1357")).encode())
        wait_for(lambda: screen_has("Hola Rosa"), timeout=10, what="signed in")
        os.write(master, b"b4a1b4")
        wait_for(lambda: screen_has("stock 8/8 (inside 8)"), timeout=10, what="restock")
        os.write(master, b"k")
        wait_for(lambda: screen_has("mode idle"), timeout=10, what="back to sale")
        wait_for(lambda: screen_has("acceptor on"), timeout=10, what="the acceptor open")
        os.write(master, b"5555")
        wait_for(lambda: screen_has("credit $4.00"), timeout=10, what="coins")
        os.write(master, b"a1")
        wait_for(lambda: screen_has("stock 7/8 (inside 7)"), timeout=10, what="a purchase")
        os.write(master, b"q")
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_the_panel_taps_a_card_on_the_mdb_machine(tmp_path: Path) -> None:
    from support import ROOT

    from simulator.sim import Simulation
    from vendd.config import Config, load_config

    data = load_config(ROOT / "config" / "sim-mdb.toml").model_dump()
    data["ledger"] = {"path": tmp_path / "mdb.db"}
    data["mqtt"]["enabled"] = False
    sim = Simulation(Config(**data), turn_time_s=0.05)
    sim.start()
    try:
        panel = Panel(sim)
        panel.attach()
        reader = sim.mdb.reader if sim.mdb is not None else None
        wait_for(lambda: reader is not None and reader.state == "enabled", timeout=10,
                 what="the reader to be ready")
        panel.feed("t")  # the panel's key for a card tap
        sim.wait(lambda s: s.card_device is not None)
        assert sim.state.mode is Mode.CREDIT  # a card session is open: choose a product
        assert "card tapped" in panel.render()
    finally:
        sim.stop()
