"""Every message the config models can give holds to the same rules. For every option of every
model (all device variants), a wrong type, a huge and a negative number, or "yes" for a flag
is put in a working config, and each refusal must be: one line per problem, naming the option
(list items by id or place, never `slots.0`), in words (no pydantic jargon), with no secret."""

from __future__ import annotations

import copy
import re
import tomllib
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from support import EXAMPLE_CONFIG

from vendd.config import Config
from vendd.config.problems import Source, readable

FILE = Path("/etc/vendd/vendd.toml")
JARGON = re.compile(r"Input should|Value error|validation error|type=|pydantic|"
                    r"For further information|\bstr\b|\bdict\b|\bint\b")
INDEX = re.compile(r"\b(slots|makers|coins)\.\d")


def _example() -> dict[str, Any]:
    data = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["ledger"]["path"] = "/tmp/vendd.db"
    return data


def _variants() -> list[dict[str, Any]]:
    """The example, and the same machine with every other kind of device and section."""
    plain = _example()
    other = _example()
    other["coin_acceptor"] = {"kind": "pulse", "pin": 21, "inhibit_pin": 7,
                              "coins": [{"value": 25, "label": "25c", "pulses": 1}]}
    other["mdb"] = {"link": "bridge", "port": "/dev/ttyUSB1", "changer": {},
                    "bill_validator": {}, "cashless": {"non_response_s": 5.0}}
    other["mqtt"] |= {"username": "u", "password_file": "/etc/vendd/pw", "client_id": "c",
                      "tls": {"ca_file": "/a", "cert_file": "/b", "key_file": "/c"}}
    other["dispenser"] = {"kind": "gpio", "wiring": "direct",
                          "motors": {s["id"]: 8 + i for i, s in enumerate(other["slots"])},
                          "home_pins": {s["id"]: 0 for s in other["slots"]},
                          "drop_sensor_pin": 1}
    other["dispenser"]["home_pins"] = {"A1": 9}
    other["dispenser"]["home_pin"] = 10
    other["dispenser"]["motors"] = {s["id"]: p for s, p in zip(
        other["slots"], [11, 12, 13, 16, 19, 20, 21, 26], strict=True)}
    other["coin_acceptor"]["pin"], other["coin_acceptor"]["inhibit_pin"] = 24, 25
    other["buttons"] = {"kind": "gpio", "selection": {"A1": 17, "A2": 27}}
    virtual = _example()
    virtual["dispenser"] = {"kind": "virtual"}
    virtual["coin_acceptor"] = {"kind": "virtual", "coins": [{"value": 25, "label": "25c"}]}
    virtual["display"] = {"kind": "console", "cols": 20, "rows": 4}
    virtual["buttons"] = {"kind": "virtual"}
    return [plain, other, virtual]


def _unwrap(ann: Any) -> Any:
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann
            ann = args[0]
        else:
            return ann


def _model_of(ann: Any, node: Any) -> type[BaseModel] | None:
    ann = _unwrap(ann)
    options = get_args(ann) if get_origin(ann) in (Union, types.UnionType) else (ann,)
    for option in options:
        option = _unwrap(option)
        if isinstance(option, type) and issubclass(option, BaseModel):
            kind = option.model_fields.get("kind")
            if kind is None or node.get("kind") in get_args(kind.annotation):
                return option
    return None


def fields(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, annotation) of every scalar or table option present in `data`'s sections."""
    out: list[tuple[tuple[Any, ...], Any]] = []

    def walk(model: type[BaseModel], node: dict[str, Any], path: tuple[Any, ...]) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            value = node.get(name)
            inner = _unwrap(ann)
            if get_origin(inner) is list:
                item = get_args(inner)[0]
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    sub = _model_of(item, value[0])
                    if sub is not None:
                        walk(sub, value[0], (*path, name, 0))
                continue
            sub = _model_of(ann, value) if isinstance(value, dict) else None
            if sub is not None:
                walk(sub, value, (*path, name))
            elif name != "kind" and not (isinstance(inner, type) and issubclass(inner, BaseModel)):
                out.append(((*path, name), inner))  # (a section not in this variant: skipped)

    walk(Config, data, ())
    return out


def bad_values(ann: Any, current: Any) -> list[Any]:
    if ann is bool:
        return ["yes", 1]
    if ann in (int, float) or (get_origin(ann) is Literal and
                               isinstance(get_args(ann)[0], int)):
        return [{"x": 1}, 10**30, -(10**30)]
    if get_origin(ann) is dict:  # the table, and a key's value
        if not current:
            return [[1]]
        key = next(iter(current))
        return [[1], {key: {"y": 1}}, {key: 99}]
    return [{"x": 1}]


def _put(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _messages(data: dict[str, Any]) -> list[str]:
    try:
        Config(**data)
    except ValidationError as exc:
        return readable(Source(FILE, data, {}), exc)
    return []


CASES = [(i, path, ann) for i, data in enumerate(_variants()) for path, ann in fields(data)
         if ann is not SecretStr]


def test_the_walk_covers_the_models() -> None:
    names = {".".join(str(p) for p in path) for _, path, _ in CASES}
    for option in ("coin_acceptor.pulse_ms", "mdb.cashless.address", "mqtt.tls.key_file",
                   "dispenser.turn_time_s", "display.i2c_address", "slots.0.capacity",
                   "coin_acceptor.coins.0.pulses", "mqtt.requests.ping"):
        assert option in names
    assert len(CASES) > 150


@pytest.mark.parametrize(("variant", "path", "ann"), CASES,
                         ids=[f"{i}-{'.'.join(map(str, p))}" for i, p, _ in CASES])
def test_every_refusal_is_one_line_naming_the_option(variant: int, path: tuple[Any, ...],
                                                     ann: Any) -> None:
    base = _variants()[variant]
    assert _messages(base) == []
    node: Any = base
    for part in path:
        node = node.get(part) if isinstance(node, dict) else node[part]
    for value in bad_values(ann, node):
        messages = _messages(_put(base, path, value))
        assert len(messages) == 1, (value, messages)  # refused, and said once
        (line,) = messages
        assert "\n" not in line and line.startswith(f"{FILE}: ")
        assert re.search(rf"\b{path[-1]}[.:]", line), line  # names the option itself
        if path[0] in ("slots", "makers"):
            shown = "#1" if path[-1] == "id" else base[path[0]][0].get("id")
            assert f"{path[0]}[{shown}]" in line, line
        assert not INDEX.search(line), line
        assert not JARGON.search(line), line
        assert len(line) < 300, line


def test_a_secret_is_never_shown() -> None:
    data = _example()
    data["mqtt"]["password"] = {"secret": "hunter2-not-shown"}  # as from a broken override
    (line,) = _messages(data)
    assert "hunter2" not in line and "mqtt.password: must be text in quotes, got (hidden)" in line
