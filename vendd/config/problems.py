"""Validation errors as one line each, in an installer's words:

    /etc/vendd/vendd.toml:61: slots[A3].capacity: must be at most 99, got 120
    /etc/vendd/vendd.toml:58: slots[A3].capcity: unknown option (did you mean capacity?)

A list item is named by its id (`slots[A3]`, `makers[rosa]`) or else by its place (`coins[#2]`),
with the TOML line where the option (or its table) is written, "did you mean" for a mistyped
option (and no second line saying the real one is missing), and the environment variable
when the value came from one. A secret's value is never shown."""

from __future__ import annotations

import difflib
import os
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from vendd.config.base import PATTERN_WORDS
from vendd.config.lines import Loc, line_of

# Options that hold money: a wrong type gets a hint about integer cents.
MONEY_OPTIONS = frozenset({"price", "value", "max_credit", "exact_change_limit", "price_step"})
EXPECTED = {"int": "a whole number", "float": "a number", "bool": "true or false",
            "string": "text in quotes", "dict": "a table", "model": "a table",
            "list": "a list", "path": "a file path in quotes"}
# Field patterns, said in words.
PATTERNS = PATTERN_WORDS
# Discriminated unions put the tag and the model name in the location.
_TAGS = {"cctalk", "pulse", "virtual", "gpio"}
_NAMEABLE = re.compile(r"[^\s\[\]'\"]{1,32}")  # shown as it is written: no spaces or brackets


@dataclass(frozen=True)
class Source:
    path: Path
    data: dict[str, Any]  # the parsed TOML
    lines: dict[Loc, int]  # where each option is written

    def prefix(self, loc: Loc) -> str:
        line = line_of(self.lines, loc) if loc else None
        return f"{self.path}:{line}" if line else str(self.path)


def readable(source: Source, exc: ValidationError) -> list[str]:
    errors = exc.errors(include_url=False)
    suggested: set[Loc] = set()
    out: list[tuple[Loc, str]] = []
    for err in errors:
        loc = _clean(err["loc"])
        if err["type"] == "value_error" and not loc:
            # The cross-field rules carry their own dotted paths, one per "; ".
            out += _split(_message(err).split("; "))
            continue
        msg = _message(err)
        if err["type"] == "extra_forbidden":
            msg, hint = _unknown(loc, source.data)
            if hint:
                suggested.add((*loc[:-1], hint))
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "kind")
        out.append((loc, msg + _from_env(err["loc"])))
    return [_line(source, loc, msg) for loc, msg in out
            if not (loc in suggested and msg.startswith("required option is missing"))]


def located(source: Source, problems: list[str]) -> list[str]:
    """`dotted.option: message` lines (cross-field rules, file checks) as full lines."""
    return [_line(source, loc, msg) for loc, msg in _split(problems)]


def _split(problems: list[str]) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for part in problems:
        dotted, _, msg = part.partition(": ")
        out.append((_loc_of(dotted), msg) if msg else ((), part))
    return out


def _line(source: Source, loc: Loc, msg: str) -> str:
    where = display(loc, source.data)
    return f"{source.prefix(loc)}: {where}: {msg}" if where else f"{source.prefix(loc)}: {msg}"


def display(loc: Loc, data: Any) -> str:
    """`('slots', 2, 'capacity')` -> `slots[A3].capacity`: list items by id, else by place."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            ident = item.get("id") if isinstance(item, dict) else None
            shown = ident if isinstance(ident, str) and _NAMEABLE.fullmatch(ident) else None
            out += f"[{shown}]" if shown else f"[#{part + 1}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _clean(loc: tuple[Any, ...]) -> Loc:
    return tuple(p for p in loc if not (isinstance(p, str) and (
        p in _TAGS or p == "[key]" or re.fullmatch(r"[A-Z]\w+Config|function-\w+\[.*", p))))


def _loc_of(dotted: str) -> Loc:
    return tuple(int(p) if p.isdigit() and i and not _is_map(dotted, i) else p
                 for i, p in enumerate(dotted.split(".")))


def _is_map(dotted: str, i: int) -> bool:
    # `dispenser.columns.1` names a key of a table, not the second item of a list.
    return dotted.split(".")[i - 1] in ("columns", "rows", "motors", "home_pins", "selection")


def _message(err: Any) -> str:
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    got = _shown(err)
    loc = err["loc"]
    if kind == "missing":
        return "required option is missing"
    if loc[-1:] == ("pin",):  # never shown: a PIN is a secret
        return "must be 4 to 8 digits, or a hash made by `vendd pin-hash`"
    if kind == "literal_error":
        return f"{err['msg'].replace('Input should be', 'must be')}, got {got}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"greater_than": "more than", "greater_than_equal": "at least",
                 "less_than": "less than", "less_than_equal": "at most"}[kind]
        bound = next(iter(ctx.values()), "?")
        shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
        return f"must be {words} {shown}, got {got}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return f"must be {PATTERNS.get(pattern, f'text matching {pattern}')}, got {got}"
    text = isinstance(err.get("input"), str)
    if kind == "string_too_short" or (kind == "too_short" and text):
        return "must not be empty"
    if kind == "string_too_long" or (kind == "too_long" and text):
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} (none given)"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} allowed"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags')}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return "required option is missing"
    if kind.startswith("int_") and loc and loc[-1] in MONEY_OPTIONS:
        return f"must be whole cents (350 means 3.50), got {got}"
    prefix = kind.split("_")[0]
    if prefix in EXPECTED and kind != "value_error":
        return f"must be {EXPECTED[prefix]}, got {got}"
    return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _shown(err: Any) -> str:
    """The offending value, short, unless the option is a secret."""
    if any("password" in str(part) or part == "pin" for part in err["loc"]):
        return "(hidden)"
    value = err.get("input")
    if isinstance(value, dict | list):
        return "a table" if isinstance(value, dict) else "a list"
    return repr(value)[:40]


def _unknown(loc: Loc, data: dict[str, Any]) -> tuple[str, str | None]:
    known = _fields_at(loc[:-1], data)
    if not known or not isinstance(loc[-1], str):
        return "unknown option", None
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    if close:
        return f"unknown option (did you mean {close[0]}?)", close[0]
    listed = ", ".join(known) if len(known) <= 12 else ", ".join(known[:12]) + ", ..."
    return f"unknown option (options here: {listed})", None


def _fields_at(loc: Loc, data: dict[str, Any]) -> list[str]:
    """The options of the table at `loc`, following lists, tables and `kind` unions."""
    from vendd.config.root import Config

    ann: Any = Config
    node: Any = data
    for part in loc:
        ann = _unwrap(ann, node)
        if isinstance(part, int):
            args = get_args(ann)
            ann = args[0] if args else None
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(ann, type) and issubclass(ann, BaseModel) and part in ann.model_fields:
            ann = ann.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
            node = node.get(part) if isinstance(node, dict) else None
        else:
            return []
    ann = _unwrap(ann, node)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return list(ann.model_fields)
    return []


def _unwrap(ann: Any, node: Any) -> Any:
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(ann) if a is not type(None)]
            if len(options) == 1:
                ann = options[0]
                continue
            kind = node.get("kind") if isinstance(node, dict) else None
            ann = next((a for a in options if _tagged(a, kind)), None)
            if ann is None:
                return None
        else:
            return ann


def _tagged(model: Any, kind: object) -> bool:
    field = getattr(model, "model_fields", {}).get("kind")
    return field is not None and kind in get_args(field.annotation)


def _from_env(loc: tuple[Any, ...]) -> str:
    name = "VENDD_" + "__".join(str(p).upper() for p in _clean(loc))
    return f" (from {name})" if len(loc) > 0 and name in os.environ else ""
