"""`vendd selftest`: every configured device checked, a table printed, exit 1 naming the device
when one fails. Runs against the virtual devices, the simulated cabinet on MockFactory pins,
the simulated ccTalk acceptor on a pty, and a private Mosquitto."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPin
from private_broker import free_port, private_broker
from support import SIM_CONFIG, sim_config

from simulator.cabinet import SimCabinet
from simulator.cctalk_peer import SimCctalkAcceptor
from simulator.held_pin import HeldPin
from simulator.pinwire import WatchedPin
from vendd.cli.selftest import selftest
from vendd.config import Config, load_config
from vendd.hw.virtual import VirtualDispenser

DISPENSER: dict[str, Any] = {
    "kind": "gpio",
    "wiring": "direct",
    "motors": {"A1": 5, "A2": 6},
    "home_pins": {"A1": 13, "A2": 19},
    "drop_sensor_pin": 20,
    "leave_home_timeout_s": 0.3,
    "home_timeout_s": 0.5,
    "drop_wait_s": 0.05,
}
BUTTONS: dict[str, Any] = {
    "kind": "gpio",
    "rows": {"A": 17, "B": 27},
    "columns": {"1": 22, "2": 23},
    "cancel_pin": 4,
    "service_key_pin": 18,
}


def run(config: Config, **kw: Any) -> tuple[int, str]:
    out = io.StringIO()
    rc = selftest(config, out=out, **kw)
    return rc, out.getvalue()


def row(text: str, device: str, check: str) -> str:
    """The table row of one check: `RESULT DETAIL` (columns are 2+ spaces apart)."""
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line, maxsplit=3)
        if cells[:2] == [device, check]:
            return " ".join(cells[2:])
    raise AssertionError(f"no row for {device} / {check} in:\n{text}")


# --- virtual devices (config/sim.toml) ---------------------------------------------------------


def test_sim_config_every_device_ok(tmp_path):
    rc, text = run(sim_config(tmp_path))
    assert rc == 0, text
    for device in ("coin_acceptor", "dispenser", "buttons", "display"):
        check = {"dispenser": "home", "display": "text"}.get(device, "virtual")
        assert row(text, device, check).startswith("OK"), text
    assert "SKIP" in row(text, "mqtt", "broker")  # the tests' sim config has mqtt off
    assert "FAIL" not in text


def test_virtual_motor_turns_once(tmp_path):
    rc, text = run(sim_config(tmp_path), motor="A1")
    assert rc == 0, text
    assert "product dropped" in row(text, "motor A1", "turn")
    assert "not journaled" in text


def test_unknown_motor_fails(tmp_path):
    rc, text = run(sim_config(tmp_path), motor="Z9")
    assert rc == 1
    assert "not a configured slot" in row(text, "motor Z9", "turn")


def test_virtual_dispenser_not_at_home_names_the_dispenser(tmp_path):
    dispenser = VirtualDispenser("dispenser")
    dispenser.at_home = False  # type: ignore[attr-defined]  # the simulator's fault injection
    rc, text = run(sim_config(tmp_path), devices={"dispenser": dispenser})
    assert rc == 1
    assert row(text, "dispenser", "home").startswith("FAIL")
    assert "1 check(s) FAILED: dispenser home" in text


# --- GPIO: the simulated cabinet on MockFactory pins -------------------------------------------


@pytest.fixture
def cabinet(tmp_path: Path, factory: MockFactory) -> Iterator[tuple[Config, SimCabinet]]:
    # Two motors, so two slots: a slot without a motor is a config error.
    slots = [s for s in sim_config(tmp_path).model_dump()["slots"] if s["id"] in ("A1", "A2")]
    config = sim_config(tmp_path, dispenser=DISPENSER, buttons=BUTTONS, slots=slots)
    sim = SimCabinet(config.dispenser, factory, turn_time_s=0.05)
    sim.start()
    yield config, sim
    sim.stop()


@pytest.mark.parametrize("pin_class", [HeldPin, WatchedPin], ids=["tests", "vendd-sim"])
def test_a_closed_home_switch_reads_home_however_late_the_cabinet_looks(tmp_path, pin_class):
    """The switch holds its line low by itself: the selftest's pull-up must not read it high
    while the simulated cabinet's thread is late (here: it never looks again after start),
    on the tests' pins and on the pins `vendd-sim selftest` and `vendd-sim demo` give the
    daemon. The line never moves at all: no edge a callback could take for the switch."""
    slots = [s for s in sim_config(tmp_path).model_dump()["slots"] if s["id"] in ("A1", "A2")]
    config = sim_config(tmp_path, dispenser=DISPENSER, buttons=BUTTONS, slots=slots)
    factory = MockFactory(pin_class=pin_class)
    sim = SimCabinet(config.dispenser, factory, turn_time_s=0.05, poll_s=3600)
    sim.start()
    for pin in (13, 19):
        factory.pin(pin).clear_states()
    try:
        rc, text = run(config, pin_factory=factory)
        levels = {pin: [s.state for s in factory.pin(pin).states] for pin in (13, 19)}
    finally:
        sim.stop()
        factory.reset()
        factory.close()
    assert "GPIO 13 low" in row(text, "dispenser", "home A1"), text
    assert "GPIO 19 low" in row(text, "dispenser", "home A2"), text
    assert "GPIO 20 high" in row(text, "dispenser", "drop beam"), text
    assert rc == 0, text
    assert levels == {13: [False], 19: [False]}, "a held switch's line moved"


def test_gpio_cabinet_all_ok_and_motor_turns(cabinet, factory):
    config, sim = cabinet
    rc, text = run(config, pin_factory=factory, motor="A2")
    assert rc == 0, text
    assert "GPIO 13 low" in row(text, "dispenser", "home A1")
    assert row(text, "dispenser", "home A2").startswith("OK")
    assert "GPIO 20 high" in row(text, "dispenser", "drop beam")
    assert row(text, "buttons", "keypad").startswith("OK")
    assert row(text, "buttons", "cancel").startswith("OK")
    assert "off" in row(text, "buttons", "service key")
    assert "product dropped" in row(text, "motor A2", "turn")
    assert sim.drops == ["A2"]
    assert all(not factory.pin(p).state for p in (5, 6))  # motors off after the test turn


def test_gpio_jammed_spiral_fails_then_reads_not_home(cabinet, factory):
    config, sim = cabinet
    sim.faults.jam.add("A1")
    rc, text = run(config, pin_factory=factory, motor="A1")
    assert rc == 1
    assert "jammed" in row(text, "motor A1", "turn")
    rc, text = run(config, pin_factory=factory)  # the cam stayed part-way round
    assert rc == 1
    assert "not at home (GPIO 13 reads high)" in row(text, "dispenser", "home A1")
    assert row(text, "dispenser", "home A2").startswith("OK")
    assert "FAILED: dispenser home A1" in text


def test_gpio_blocked_beam_and_stuck_button(cabinet, factory):
    config, sim = cabinet
    sim.faults.drop_sensor_stuck = True
    sim.step()
    factory.pin(4, pin_class=StuckLowPin)  # the cancel button shorted to ground
    rc, text = run(config, pin_factory=factory)
    assert rc == 1
    assert "blocked" in row(text, "dispenser", "drop beam")
    assert "pressed or stuck" in row(text, "buttons", "cancel")


class StuckLowPin(MockPin):
    """A wire shorted to ground: reads low whatever pull resistor is switched on."""

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        self.drive_low()


# --- ccTalk: the simulated acceptor on a pty ---------------------------------------------------

COINS = {1: (5, "5c"), 2: (10, "10c"), 3: (25, "25c")}


def cctalk_config(tmp_path: Path, port: str) -> Config:
    return sim_config(tmp_path, coin_acceptor={
        "kind": "cctalk", "port": port, "poll_interval_ms": 20, "reply_timeout_ms": 30,
        "retries": 1,
        "coins": [{"value": v, "label": lbl, "position": p} for p, (v, lbl) in COINS.items()],
    })


def test_cctalk_acceptor_identifies(tmp_path):
    with SimCctalkAcceptor(COINS) as peer:
        rc, text = run(cctalk_config(tmp_path, peer.port))
    assert rc == 0, text
    assert peer.port in row(text, "coin_acceptor", "serial port")
    assert "SIM SIMCA-1 serial 12345678" in row(text, "coin_acceptor", "identify")


def test_unplugged_cctalk_acceptor_names_the_acceptor(tmp_path):
    with SimCctalkAcceptor(COINS) as peer:
        peer.unplug()
        rc, text = run(cctalk_config(tmp_path, peer.port))
    assert rc == 1
    assert "disconnected" in row(text, "coin_acceptor", "serial port")
    assert "FAILED: coin_acceptor serial port" in text
    assert row(text, "dispenser", "home")  # the other devices are still checked


def test_silent_cctalk_acceptor_fails_identify(tmp_path):
    with SimCctalkAcceptor(COINS) as peer:
        peer.silence(1000)
        rc, text = run(cctalk_config(tmp_path, peer.port))
    assert rc == 1
    assert row(text, "coin_acceptor", "identify").startswith("FAIL")


# --- the broker ----------------------------------------------------------------------------


@pytest.fixture
def broker_port(tmp_path: Path) -> Iterator[int]:
    with private_broker(tmp_path / "broker") as port:
        yield port


def mqtt_on(tmp_path: Path, port: int) -> Config:
    return sim_config(tmp_path, mqtt={"enabled": True, "host": "127.0.0.1", "port": port})


def test_broker_accepts(tmp_path, broker_port):
    rc, text = run(mqtt_on(tmp_path, broker_port))
    assert rc == 0, text
    assert "accepted the connection" in row(text, "mqtt", "broker")


def test_broker_down_names_mqtt(tmp_path):
    rc, text = run(mqtt_on(tmp_path, free_port()))
    assert rc == 1
    assert row(text, "mqtt", "broker").startswith("FAIL")
    assert "FAILED: mqtt broker" in text


# --- config/sim.toml as it is: ccTalk on a pty, the motor matrix in the simulated cabinet -----


def sim_toml(tmp_path: Path, port: str) -> Config:
    data = load_config(SIM_CONFIG).model_dump()
    data["mqtt"]["enabled"] = False
    data["ledger"] = {"path": tmp_path / "vendd.db"}
    data["coin_acceptor"]["port"] = port
    return Config(**data)


def test_sim_toml_against_the_simulator(tmp_path, factory):
    data = load_config(SIM_CONFIG).model_dump()
    coins = {c["position"]: (c["value"], c["label"]) for c in data["coin_acceptor"]["coins"]}
    with SimCctalkAcceptor(coins) as peer:
        config = sim_toml(tmp_path, peer.port)
        sim = SimCabinet(config.dispenser, factory, turn_time_s=0.05)
        sim.start()
        try:
            rc, text = run(config, pin_factory=factory, motor="B2")
            assert rc == 0, text
            assert "FAIL" not in text
            assert "product dropped" in row(text, "motor B2", "turn")
            sim.faults.stuck_home.add("A1")  # the motor never leaves its home switch
            rc, text = run(config, pin_factory=factory, motor="A1")
        finally:
            sim.stop()
    assert rc == 1
    assert "stuck_at_home" in row(text, "motor A1", "turn")
    assert "FAILED: motor A1 turn" in text
