"""The config's shared pieces: the frozen base model and the constrained field types.

Every rule here says itself in words an installer can act on: an id that is refused says which
characters an id may hold, a number out of range says the range."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.functional_validators import AfterValidator
from pydantic_core import PydanticCustomError


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# The largest amount the ledger can hold: SQLite integers are signed 64-bit.
INT64_MAX = 2**63 - 1

# Patterns of text options, and the same rule in words for the error message.
TOPIC = r"^[^#+/\s][^#+\s]{0,63}$"
HOST = r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$"
CLIENT_ID = r"^[A-Za-z0-9_-]{1,64}$"
ROW_KEY = r"^[A-Z]$"
COLUMN_KEY = r"^[0-9]{1,2}$"
PATTERN_WORDS = {
    TOPIC: "an MQTT topic: no '#', '+' or spaces, not starting with '/', at most 64 characters",
    HOST: "a host name or IP address",
    CLIENT_ID: "letters, digits, '-' or '_', at most 64",
    ROW_KEY: "a capital letter (a row, like A)",
    COLUMN_KEY: "a column number (like 1)",
}

# A BCM GPIO number on the 40-pin header (GPIO 0..27 are all on it).
Pin = Annotated[int, Field(ge=0, le=27)]

IDENT_RULE = ("must be lower-case letters a-z, digits, '-' or '_' (starting with a letter or "
              "digit, at most 32 characters; no spaces or accents)")
SLOT_RULE = "must be a capital row letter and a column number, like A1 or B12"
_IDENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_SLOT = re.compile(r"[A-Z][0-9]{1,2}")


def shown(value: Any) -> str:
    """A refused value as the message shows it: short, and tables and lists by name."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)[:40]


def _matching(pattern: re.Pattern[str], kind: str, rule: str) -> Any:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise PydanticCustomError(kind, "{rule}, got {got}", {"rule": rule,
                                                                    "got": shown(value)})
        return value
    return AfterValidator(check)


def _text_only(value: Any) -> Any:
    # Checked before pydantic's own str handling so a number or a table gets the same words.
    if not isinstance(value, str):
        raise PydanticCustomError("text_type", "must be text in quotes, got {got}",
                                  {"got": shown(value)})
    return value


SlotId = Annotated[str, BeforeValidator(_text_only), _matching(_SLOT, "slot_id", SLOT_RULE)]
Ident = Annotated[str, BeforeValidator(_text_only), _matching(_IDENT, "ident", IDENT_RULE)]


def _no_control(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise PydanticCustomError("text_control", "must be one line of text without control "
                                  "characters")
    return value


# One-line texts of at most so many characters: names, products, labels, paths.
_TEXT = BeforeValidator(_text_only)
_ONE_LINE = AfterValidator(_no_control)
Name = Annotated[str, _TEXT, Field(min_length=1, max_length=64), _ONE_LINE]
Product = Annotated[str, _TEXT, Field(min_length=1, max_length=40), _ONE_LINE]
Label = Annotated[str, _TEXT, Field(min_length=1, max_length=16), _ONE_LINE]
Location = Annotated[str, _TEXT, Field(max_length=80), _ONE_LINE]  # may be empty
Username = Annotated[str, _TEXT, Field(min_length=1, max_length=128), _ONE_LINE]
DevicePath = Annotated[str, _TEXT, Field(min_length=1, max_length=255), _ONE_LINE]


def _strict_bool(value: Any) -> bool:
    # TOML has real booleans; "yes" or 1 is refused rather than guessed. The environment only
    # has text, so there the words true and false (any case) are taken.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise PydanticCustomError("strict_bool", "must be true or false (no quotes), got {got}",
                              {"got": shown(value)})


Flag = Annotated[bool, BeforeValidator(_strict_bool)]


def _whole_cents(value: Any) -> Any:
    # Money is whole cents: 3.5 or "350" are refused. The environment gives text, so there a
    # string of digits is read as the number it spells.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("cents_type", "must be whole cents (350 means 3.50), got {got}",
                                  {"got": shown(value)})
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
            raise PydanticCustomError("cents_type", "must be whole cents (350 means 3.50), "
                                      "got {got}", {"got": shown(value)})
        return int(value)
    return value


def _within_int64(value: int) -> int:
    if not -INT64_MAX <= value <= INT64_MAX:
        raise PydanticCustomError("cents_range", "must be at most {most} (the largest amount "
                                  "the ledger can hold)", {"most": INT64_MAX})
    return value


Cents = Annotated[int, BeforeValidator(_whole_cents), AfterValidator(_within_int64)]


def _positive_price(value: int) -> int:
    if value <= 0:
        raise PydanticCustomError("price_positive", "a price must be more than zero (integer "
                                  "cents, e.g. 350 for 3.50), got {got}", {"got": value})
    return value


Price = Annotated[Cents, AfterValidator(_positive_price)]


def _finite(value: float) -> float:
    if math.isnan(value) or math.isinf(value):
        raise PydanticCustomError("finite", "must be a finite number of seconds")
    return value


def seconds(default: float | None, *, most: float, zero: bool = False) -> Any:
    """A duration in seconds: more than zero (or zero, when `zero`) and at most `most`."""
    if zero:
        return Field(default=default, ge=0, le=most)
    return Field(default=default, gt=0, le=most)


Seconds = Annotated[float, AfterValidator(_finite)]
