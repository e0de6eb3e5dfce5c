"""Loading the config file: TOML plus `VENDD_*` environment overrides, validated by the models,
with readable one-line errors that name the file and the dotted option."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vendd.config.models import Config
from vendd.errors import ConfigError


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load and validate; raise ConfigError with one `file: field: problem` line each."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{path}: no such config file"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not a UTF-8 text file ({exc.reason})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from exc
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        return Config(**data)
    except ValidationError as exc:
        raise ConfigError(_readable(path, exc)) from exc
    except (TypeError, ValueError) as exc:  # a top-level key that is not a valid field name
        raise ConfigError([f"{path}: {exc}"]) from exc


def _readable(path: Path, exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown option"
        elif err["type"] == "missing":
            msg = "required option is missing"
        elif err["type"] == "literal_error":
            msg = f"{msg.replace('Input should be', 'must be')}, got {_shown(err)}"
        elif err["type"].startswith("int_") and err["loc"][-1] in MONEY_OPTIONS:
            msg = f"must be whole cents (350 means 3.50), got {_shown(err)}"
        elif err["type"].split("_")[0] in EXPECTED:
            msg = f"must be {EXPECTED[err['type'].split('_')[0]]}, got {_shown(err)}"
        msg = msg.removeprefix("Value error, ")
        if err["type"] == "value_error" and not loc:
            # Cross-checks carry their own dotted paths.
            lines += [f"{path}: {part}" for part in msg.split("; ")]
            continue
        env = _env_name(err["loc"])
        source = f" (from {env})" if env and env in os.environ else ""
        lines.append(f"{path}: {loc or '(top level)'}: {msg}{source}")
    return lines


# Options that hold money: a wrong type gets a hint about integer cents.
MONEY_OPTIONS = frozenset({"price", "value", "max_credit", "exact_change_limit"})
EXPECTED = {"int": "a whole number", "float": "a number", "bool": "true or false",
            "string": "text in quotes"}


def _shown(err: Any) -> str:
    """The offending value, unless the option is a secret."""
    if any("password" in str(part) for part in err["loc"]):
        return "(hidden)"
    return repr(err.get("input"))[:40]


def _is_union_tag(part: object) -> bool:
    # Discriminated unions add the tag ("cctalk") and model names to the location.
    return isinstance(part, str) and (
        part in {"cctalk", "pulse", "virtual", "gpio"} or bool(re.match(r"^[A-Z]\w+Config$", part))
    )


def _env_name(loc: tuple[Any, ...]) -> str:
    return "VENDD_" + "__".join(str(p).upper() for p in loc)
