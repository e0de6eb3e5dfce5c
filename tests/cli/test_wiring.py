"""`vendd wiring`: the pin table with BCM and header numbers, from the config."""

from __future__ import annotations

import io

from support import EXAMPLE_CONFIG, sim_config

from vendd.cli.wiring import HEADER, wiring
from vendd.config import load_config


def test_header_map_is_the_40_pin_header():
    assert len(HEADER) == 28 and set(HEADER) == set(range(28))
    assert len(set(HEADER.values())) == 28
    assert HEADER[2] == 3 and HEADER[17] == 11 and HEADER[21] == 40 and HEADER[26] == 37


def test_example_config_lists_every_pin_in_header_order():
    config = load_config(EXAMPLE_CONFIG)
    out = io.StringIO()
    assert wiring(config, out) == 0
    text = out.getvalue()
    lines = [line for line in text.splitlines() if "GPIO" in line]
    assert any(line.split()[:3] == ["36", "GPIO16", "dispenser.home_pin"] for line in lines)
    assert any(line.split()[:3] == ["7", "GPIO4", "buttons.cancel_pin"] for line in lines)
    assert "motor row A" in text and "drop sensor" in text and "service key" in text
    headers = [int(line.split()[0]) for line in text.splitlines() if line[:1].isdigit()]
    assert headers == sorted(headers) and len(headers) == 16
    assert "serial port /dev/serial/by-id/" in text
    assert "I2C bus 1 address 0x27" in text


def test_virtual_config_has_no_pins(tmp_path):
    out = io.StringIO()
    assert wiring(sim_config(tmp_path), out) == 0
    assert "No GPIO pins" in out.getvalue()


def test_special_pins_are_flagged(tmp_path):
    config = sim_config(tmp_path, coin_acceptor={
        "kind": "pulse", "pin": 14, "inhibit_pin": 2,
        "coins": [{"value": 25, "label": "25c", "pulses": 1}],
    })
    out = io.StringIO()
    wiring(config, out)
    text = out.getvalue()
    assert "8       GPIO14" in text and "UART TXD" in text
    assert "3       GPIO2" in text and "I2C SDA" in text
    assert "10k pull-up to 3.3 V so it inhibits while the daemon is down" in text


def test_the_lcd_is_powered_so_that_its_pull_ups_never_put_5_v_on_the_pi():
    out = io.StringIO()
    wiring(load_config(EXAMPLE_CONFIG), out)
    (lcd,) = [line for line in out.getvalue().splitlines() if "LCD" in line]
    assert "power from 3.3 V (pin 1)" in lcd and "level shifter" in lcd
    assert "5 V pin 2" not in lcd  # the old advice: a 5 V backpack pulls SDA/SCL to 5 V


def test_the_mdb_board_is_on_the_uart_pins():
    from support import ROOT

    out = io.StringIO()
    assert wiring(load_config(ROOT / "config" / "vendd.mdb.example.toml"), out) == 0
    text = out.getvalue()
    assert "MDB interface board" in text and "TXD header pin 8, RXD pin 10" in text
    assert "(20x4 LCD)" in text


def test_wiring_runs_from_the_clone_before_install(tmp_path):
    # README, "On a Raspberry Pi", step 2: from the clone, before `make install`.
    import subprocess
    import sys

    from support import ROOT

    proc = subprocess.run([sys.executable, "-m", "vendd.cli", "wiring", "--config",
                           str(EXAMPLE_CONFIG)], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "GPIO16" in proc.stdout
