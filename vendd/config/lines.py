"""Where each option of a TOML file is written: `(section, index, key, ...) -> line number`.

tomllib keeps no positions, so the text is read once more, line by line: table headers
(`[mqtt.tls]`, `[[slots]]`, counted per array), `key = value` lines and dotted keys. Inline
tables and multi-line values are found by their first line; that is where an installer looks."""

from __future__ import annotations

import re

Loc = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
                  r'(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\'))*)\s*=')
_INLINE_KEY = re.compile(r'([A-Za-z0-9_-]+|"[^"]*")\s*=')


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', dotted)]


def locate(text: str) -> dict[Loc, int]:
    """Every table and key the text writes, with the 1-based line where it is written."""
    where: dict[Loc, int] = {}
    counts: dict[Loc, int] = {}
    table: Loc = ()
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:  # inside a multi-line string: nothing here is a key
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            path = tuple(_parts(header.group(2)))
            table = _resolve(path, counts, array=header.group(1) == "[[")
            where.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        loc = table + tuple(_parts(key.group(1)))
        where.setdefault(loc, number)
        rest = line[key.end():]
        brace = rest.find("{")
        if brace >= 0:  # an inline table: its keys are on this line
            for inner in _INLINE_KEY.finditer(rest[brace:]):
                where.setdefault((*loc, inner.group(1).strip('"')), number)
        for quote in ('"""', "'''"):
            if rest.count(quote) % 2 == 1:
                in_string = quote
    return where


def _resolve(path: tuple[str, ...], counts: dict[Loc, int], *, array: bool) -> Loc:
    """A header's path with the index of each array of tables it goes through."""
    out: Loc = ()
    for i, part in enumerate(path):
        out = (*out, part)
        last = i == len(path) - 1
        if last and array:
            counts[out] = counts.get(out, -1) + 1
            out = (*out, counts[out])
        elif out in counts:  # [[slots]] then [slots.x]: the latest slot
            out = (*out, counts[out])
    return out


def line_of(where: dict[Loc, int], loc: Loc) -> int | None:
    """The line of `loc`, else of the nearest enclosing table that is written down."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in where:
            return where[loc[:end]]
    return None
