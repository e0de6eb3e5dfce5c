"""The config file: the example loads; each kind of mistake is one line naming the file, the
dotted option and what is wrong; `vendd check-config` never shows a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import EXAMPLE_CONFIG, SIM_CONFIG

from vendd.cli import main
from vendd.config import load_config
from vendd.errors import ConfigError

EXAMPLE = EXAMPLE_CONFIG.read_text(encoding="utf-8")


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "vendd.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert all(p.startswith(str(path)) for p in caught.value.problems)
    return caught.value.problems


def test_the_example_is_the_museum_machine() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert (config.machine.currency, config.machine.language) == ("USD", "es")
    assert config.machine.timezone == "America/Guayaquil"
    assert len(config.slots) == 8 and len(config.makers) == 4
    assert config.coin_acceptor is not None and config.coin_acceptor.kind == "cctalk"
    assert sorted(c.value for c in config.coin_acceptor.coins) == [5, 10, 25, 50, 100]
    assert load_config(SIM_CONFIG).slots == config.slots


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('currency = "USD"', 'currency = "XYZ"', "machine.currency: unknown currency 'XYZ'"),
        ('language = "es"', 'language = "es"\ncolour = "red"', "machine.colour: unknown option"),
        ("price = 350", "price = 0", "slots[A1].price: a price must be more than zero"),
        ("price = 800", "price = -5", "slots[A2].price: a price must be more than zero"),
        ("price = 150", 'price = "1.50"', "slots[A3].price: must be whole cents (350 means 3.50), "
                                          "got '1.50'"),
        ("capacity = 10", "capacity = 9.5", "slots[A3].capacity: must be a whole number, got 9.5"),
        ('maker = "maria"\nprice = 1200', 'maker = "nadie"\nprice = 1200',
         "slots[A4].maker: unknown maker 'nadie'"),
        ('id = "B4"', 'id = "A1"', "slots[A1].id: duplicate slot id 'A1'"),
        ("museum = 10", "museum = 15", "shares: shares add up to 105"),
        ("home_pin = 16", "home_pin = 5", "dispenser.home_pin: GPIO 5 is already used by "
                                          "dispenser.rows.A"),
        ('timezone = "America/Guayaquil"', 'timezone = "Mars/Olympus"',
         "machine.timezone: unknown time zone"),
        ("capacity = 5\n", "", "slots[A2].capacity: required option is missing"),
        ("position = 2", "position = 1", "coin_acceptor.coins[#2].position: 1 is used by"),
    ],
)
def test_each_mistake_is_one_line_naming_the_option(tmp_path: Path, old: str, new: str,
                                                     expected: str) -> None:
    assert old in EXAMPLE
    problems = _problems(tmp_path, EXAMPLE.replace(old, new, 1))
    assert any(expected in p for p in problems), problems


def _line_starting(text: str) -> int:
    return next(i for i, line in enumerate(EXAMPLE.splitlines(), 1) if line.startswith(text))


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    text = EXAMPLE.replace('name = "Rosa Quishpe"', 'name = "Rosa Quishpe', 1)
    (problem,) = _problems(tmp_path, text)
    line = _line_starting('name = "Rosa Quishpe"')
    assert "invalid TOML" in problem and f"line {line}," in problem


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_environment_overrides_nested_options(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDD_MQTT__HOST", "broker.museo")
    monkeypatch.setenv("VENDD_MQTT__PORT", "8883")
    monkeypatch.setenv("VENDD_LEDGER__PATH", str(tmp_path / "x.db"))
    config = load_config(EXAMPLE_CONFIG)
    assert (config.mqtt.host, config.mqtt.port) == ("broker.museo", 8883)
    assert config.ledger.path == tmp_path / "x.db"
    assert config.slots[0].price == 350  # the rest still comes from the file
    monkeypatch.setenv("VENDD_MQTT__PORT", "not-a-port")
    with pytest.raises(ConfigError, match=r"mqtt\.port: .*\(from VENDD_MQTT__PORT\)"):
        load_config(EXAMPLE_CONFIG)


def test_check_config_summary_and_exit_codes(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "quito-01" in out and "Monedero bordado" in out and "$3.50" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.replace("price = 350", "price = 0"), encoding="utf-8")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = _line_starting("price = 350")
    assert err == [f"{bad}:{line}: slots[A1].price: a price must be more than zero (integer "
                   f"cents, e.g. 350 for 3.50), got 0"]


def test_check_config_as_a_user_runs_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe not text")
    proc = subprocess.run([sys.executable, "-m", "vendd.cli", "check-config", str(bad)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{bad}: not a UTF-8 text file (invalid start byte)"


_LINES = EXAMPLE.splitlines()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, len(_LINES)),
    junk=st.text(max_size=30),
    drop=st.sets(st.integers(0, len(_LINES) - 1), max_size=4),
)
def test_mutated_config_files_never_crash(tmp_path: Path, cut: int, junk: str,
                                          drop: set[int]) -> None:
    lines = [line for i, line in enumerate(_LINES) if i not in drop]
    lines.insert(min(cut, len(lines)), junk)
    path = tmp_path / "fuzz.toml"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except ConfigError as exc:
        assert exc.problems and all("\n" not in p for p in exc.problems)


def test_a_pulse_acceptor_needs_its_inhibit_line(tmp_path: Path) -> None:
    """Without an inhibit line a pulse acceptor takes coins while the daemon is down."""
    start = EXAMPLE.index('[coin_acceptor]\nkind = "cctalk"')
    end = EXAMPLE.index("# Spiral motors")
    pulse = ('[coin_acceptor]\nkind = "pulse"\npin = 21\n'
             'coins = [{ pulses = 1, value = 5, label = "5c" }]\n\n')
    problems = _problems(tmp_path, EXAMPLE[:start] + pulse + EXAMPLE[end:])
    assert any("coin_acceptor.inhibit_pin: required option is missing" in p for p in problems), \
        problems
