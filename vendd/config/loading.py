"""Loading the config file: TOML plus `VENDD_*` environment overrides, validated by the models,
with one readable line per problem (see `problems`).

What is refused before the models see it: a file too large or nested too deep to be a config
(a clear line rather than a crash), and a password written in the text (the file is readable by
the vendd group; a password belongs in a systemd credential or a file of its own)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vendd.config.files import check_files
from vendd.config.lines import locate
from vendd.config.problems import Source, located, readable
from vendd.config.root import Config
from vendd.errors import ConfigError

MAX_BYTES = 1 << 20  # the museum machine's config is 5 kB
MAX_DEPTH = 8  # [mqtt.requests] is three levels; an inline table inside it four


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load and validate; raise ConfigError with one `file[:line]: option: problem` line each."""
    return _load(Path(path))[0]


def checked_config(path: str | os.PathLike[str], *, at_run: bool, devices: bool | None = None,
                   environ: Mapping[str, str] | None = None) -> Config:
    """`load_config`, then every file and device the config names (`files.check_files`): what
    `vendd check-config` (at_run=False) and `vendd run` (at_run=True) both call."""
    config, source = _load(Path(path))
    problems = check_files(config, at_run=at_run, devices=devices, environ=environ)
    if problems:
        raise ConfigError(located(source, problems))
    return config


def _load(path: Path) -> tuple[Config, Source]:
    text = _read(path)
    source = Source(path, _parse(path, text), locate(text))
    problems = _refused_in_text(source)
    if problems:
        raise ConfigError(problems)
    try:
        return Config(**source.data), source
    except ValidationError as exc:
        raise ConfigError(readable(source, exc)) from exc


def _read(path: Path) -> str:
    try:
        if not path.is_file():
            raise ConfigError([f"{path}: no such config file"])
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError([f"{path}: {path.stat().st_size} bytes is too large for a config "
                               f"file (at most {MAX_BYTES})"])
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not a UTF-8 text file ({exc.reason})"]) from exc
    except PermissionError as exc:
        raise ConfigError([f"{path}: cannot read it (permission denied): it is readable by "
                           "root and the vendd group; use sudo"]) from exc
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from exc
    except RecursionError as exc:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError([f"{path}: values nested too deeply (at most {MAX_DEPTH} levels)"]) \
            from exc
    if _depth(data) > MAX_DEPTH:
        raise ConfigError([f"{path}: values nested more than {MAX_DEPTH} levels deep"])
    return data


def _depth(data: object) -> int:
    """How deeply tables and lists nest (stops counting past MAX_DEPTH), without recursion:
    the input may be hostile."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        if isinstance(node, dict):
            stack += [(v, level + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, level + 1) for v in node]
    return deepest


def _refused_in_text(source: Source) -> list[str]:
    mqtt = source.data.get("mqtt")
    if isinstance(mqtt, dict) and "password" in mqtt:
        # The value is never shown: this line ends up in the journal.
        return [f"{source.prefix(('mqtt', 'password'))}: mqtt.password: a password never goes "
                "in the config file (the vendd group can read it): use "
                "mqtt.password_credential (systemd LoadCredential=) or mqtt.password_file"]
    return []
