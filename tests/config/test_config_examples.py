"""The example configs: every option of every config model is shown in
`config/vendd.example.toml` (set, or as a commented alternative) with a comment saying what it
does, so the models and the example cannot drift apart; the MDB example is a working config."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel
from support import EXAMPLE_CONFIG, ROOT

from vendd.cli import main
from vendd.config import Config, load_config

MDB_EXAMPLE = ROOT / "config" / "vendd.mdb.example.toml"
# Refused in the file on purpose (a password in the config text): the example must say where
# the password goes instead.
NOT_IN_THE_FILE = {("mqtt", "password")}

_HEADER = re.compile(r"^\[\[?\s*([A-Za-z0-9_.]+)\s*\]\]?")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*=\s*(.*)$")


def _models(ann: Any) -> Iterator[type[BaseModel]]:
    """The models an annotation can hold: through Annotated, unions, lists and tables."""
    origin = get_origin(ann)
    if origin is Annotated:
        yield from _models(get_args(ann)[0])
    elif origin in (Union, types.UnionType, list):
        for arg in get_args(ann):
            yield from _models(arg)
    elif isinstance(ann, type) and issubclass(ann, BaseModel):
        yield ann


def options(model: type[BaseModel] = Config, section: str = "") -> set[tuple[str, str]]:
    """Every (section, option) of the config: `("coin_acceptor.coins", "value")`."""
    out: set[tuple[str, str]] = set()
    for name, field in model.model_fields.items():
        inner = list(_models(field.annotation))
        if inner:
            for sub in inner:
                out |= options(sub, f"{section}.{name}" if section else name)
        else:
            out.add((section, name))
    return out


def documented(text: str) -> dict[tuple[str, str], bool]:
    """Each (section, option) the example shows, set or commented out, and whether a comment
    explains it (on its line, or the comment line just above it)."""
    found: dict[tuple[str, str], bool] = {}
    section = ""
    previous_is_prose = False
    for raw in text.splitlines():
        line = raw.strip()
        commented = line.startswith("#")
        body = line.lstrip("#").strip() if commented else line
        header = _HEADER.match(body)
        key = _KEY.match(body)
        if header:
            section = header.group(1)
            previous_is_prose = False
            continue
        if key and (not commented or "=" in body.split("#")[0]):
            value = key.group(2)
            explained = "#" in value or previous_is_prose
            found[(section, key.group(1))] = found.get((section, key.group(1)), False) or explained
            previous_is_prose = False
            continue
        previous_is_prose = commented and bool(body)
    return found


def test_every_option_is_in_the_example_with_a_comment() -> None:
    shown = documented(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    wanted = options() - NOT_IN_THE_FILE
    missing = sorted(f"{s}.{o}" for s, o in wanted if (s, o) not in shown)
    unexplained = sorted(f"{s}.{o}" for s, o in wanted if (s, o) in shown and not shown[(s, o)])
    assert not missing, f"options missing from the example: {missing}"
    assert not unexplained, f"options without a comment in the example: {unexplained}"


def test_the_walk_sees_the_variants() -> None:
    # The check above means something: the walk reaches options of every device variant.
    every = options()
    for option in [("coin_acceptor", "pulse_ms"), ("coin_acceptor", "port"),
                   ("dispenser", "turn_time_s"), ("dispenser", "home_pins"),
                   ("mdb.cashless", "address"), ("mqtt.tls", "key_file"),
                   ("mqtt", "discovery_prefix"), ("mqtt", "client_id")]:
        assert option in every
    assert len(every) > 100


def test_a_new_option_without_a_comment_is_caught() -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    shown = documented(text.replace("scan_ms = 10                 # keypad: one full scan",
                                    "scan_ms = 10\n# keypad: one full scan"))
    assert shown[("buttons", "scan_ms")] is False
    assert ("mqtt", "password") not in documented(text)
    assert "password_credential" in text and "password_file" in text


def test_the_mdb_example_is_a_working_mdb_machine(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(MDB_EXAMPLE)
    assert config.mdb is not None and config.mdb.link == "uart"
    assert config.coin_acceptor is None
    assert {config.mdb.changer is not None, config.mdb.bill_validator is not None,
            config.mdb.cashless is not None} == {True}
    assert (config.display.cols, config.display.rows) == (20, 4)
    assert len(config.slots) == 12 and config.mqtt.tls is not None
    # check-config wants the TLS files it names to be real PEM files: give it the test CA's.
    from telemetry.feed_helpers import make_certs

    certs = make_certs(tmp_path)
    for option, path in (("CA_FILE", certs.ca), ("CERT_FILE", certs.client_cert),
                         ("KEY_FILE", certs.client_key)):
        monkeypatch.setenv(f"VENDD_MQTT__TLS__{option}", str(path))
    monkeypatch.setenv("VENDD_LEDGER__PATH", str(tmp_path / "vendd.db"))
    assert main(["check-config", str(MDB_EXAMPLE)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "mdb      uart on /dev/serial0: changer, bill validator, cashless" in out
    assert "password from systemd credential mqtt-password" in out
