"""PINs in the config and on the command line: check-config refuses PINs that would journal
one woman's changes under another's name, `vendd run` refuses the example's public PINs,
`vendd pin-hash` makes a hash the menu accepts, and `vendd wiring` prints the keypad label."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from menu_bench import Bench
from support import EXAMPLE_CONFIG, ROOT

from vendd.config import load_config
from vendd.menu import pins


def vendd(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VENDD_MQTT__ENABLED="false")
    return subprocess.run([sys.executable, "-m", "vendd.cli", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)


def with_pins(tmp_path: Path, **new: str) -> Path:
    """The example config with some makers' PINs replaced (`None`-like "": no PIN)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    old = {"rosa": "1357", "carmen": "2468", "lucia": "3579", "maria": "4680"}
    for maker, pin in new.items():
        text = text.replace(f'pin = "{old[maker]}"', f'pin = "{pin}"')
    text = text.replace('path = "/var/lib/vendd/vendd.db"', f'path = "{tmp_path / "v.db"}"')
    path = tmp_path / "vendd.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("new", "line"), [
    ({"carmen": "1357"}, "makers: rosa and carmen have the same PIN; give one of them another PIN"),
    ({"carmen": "13570"}, "makers: rosa's PIN begins carmen's; give one of them another PIN"),
    ({"carmen": "9357"}, "makers: rosa and carmen have PINs typed on the same buttons; "
                         "give one of them another PIN"),
])
def test_check_config_refuses_pins_that_name_the_wrong_woman(tmp_path: Path, new: dict,
                                                             line: str) -> None:
    path = with_pins(tmp_path, **new)
    result = vendd("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{path}: {line}"]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_bad_pin_is_named_never_shown(tmp_path: Path) -> None:
    path = with_pins(tmp_path, carmen="24x8")
    result = vendd("check-config", str(path))
    assert result.returncode == 2
    line = path.read_text().splitlines().index('pin = "24x8"') + 1
    assert result.stderr.splitlines() == [f"{path}:{line}: makers[carmen].pin: must be 4 to 8 "
                                          "digits, or a hash made by `vendd pin-hash`"]


def test_run_refuses_the_example_s_public_pins(tmp_path: Path) -> None:
    path = with_pins(tmp_path, rosa="86421", carmen="75319")
    result = vendd("run", "--config", str(path))
    assert result.returncode == 78
    assert result.stderr.splitlines() == [
        f"{path}: makers lucia, maria still have the example's PINs, which anyone can read: "
        "give each a PIN of her own (or a hash from `vendd pin-hash`)"]


def test_pin_hash_makes_a_hash_the_config_and_the_menu_accept(tmp_path: Path) -> None:
    made = vendd("pin-hash", "--config", str(EXAMPLE_CONFIG), stdin="864202\n864202\n")
    assert made.returncode == 0, made.stderr
    stored = made.stdout.strip()
    assert stored.startswith("scrypt$8$") and "864202" not in stored
    assert vendd("pin-hash", "--config", str(EXAMPLE_CONFIG),
                 stdin="864202\n864203\n").returncode == 1
    path = with_pins(tmp_path, rosa=stored)
    assert vendd("check-config", str(path)).returncode == 0
    b = Bench(load_config(path))
    b.key(True)
    b.type_pin("864202")
    assert b.menu.actor == "rosa"
    b.key(False)
    b.key(True)
    b.type_pin("864200")  # 0 and 2 share a button on eight: the same buttons, the same PIN
    assert b.menu.actor == "rosa"
    b.key(False)
    b.key(True)
    b.type_pin("86420")
    assert b.menu.actor == "" and b.last("pin_failed")["tries"] == 1


def test_a_hash_made_for_other_buttons_is_refused(tmp_path: Path) -> None:
    path = with_pins(tmp_path, rosa=pins.make_hash("864202", 10))
    result = vendd("check-config", str(path))
    assert result.returncode == 2
    assert "rosa's PIN hash was made for 10 buttons, this machine has 8" in result.stderr


def test_a_plain_pin_equal_to_a_hashed_one_is_refused() -> None:
    stored = pins.make_hash("1357", 8)
    assert pins.problems([("rosa", stored), ("carmen", "1357")], 8) == [
        "makers: carmen and rosa have the same PIN; give one of them another PIN"]


def test_wiring_prints_the_keypad_label() -> None:
    result = vendd("wiring", "--config", str(EXAMPLE_CONFIG))
    assert result.returncode == 0
    assert ("  A1 = 1/9   A2 = 2/0   A3 = 3   A4 = 4   B1 = 5   B2 = 6   B3 = 7   B4 = 8"
            in result.stdout.splitlines())


def test_the_example_pins_are_the_ones_run_refuses() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert {mk.pin for mk in config.makers} == pins.EXAMPLE_PINS
    assert pins.key_digits(["K1", "K2", "K3", "K4"]) == [
        ("K1", "1/5/9"), ("K2", "2/6/0"), ("K3", "3/7"), ("K4", "4/8")]
