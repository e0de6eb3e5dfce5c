"""The config's cross-field rules: duplicate ids, coin tables, and every GPIO pin used once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vendd.config.models import Config


def duplicates(where: str, values: list[str], what: str) -> list[str]:
    out, seen = [], set()
    for i, v in enumerate(values):
        if v in seen:
            out.append(f"{where}.{i}.id: duplicate {what} {v!r}")
        seen.add(v)
    return out


def check_coins(acceptor: Any) -> list[str]:
    key = {"cctalk": "position", "pulse": "pulses"}.get(acceptor.kind)
    out: list[str] = []
    if not acceptor.coins:
        out.append("coin_acceptor.coins: at least one coin is needed")
    if key is None:
        return out
    seen: set[int] = set()
    for i, coin in enumerate(acceptor.coins):
        value = getattr(coin, key)
        if value is None:
            out.append(f"coin_acceptor.coins.{i}.{key}: required for a {acceptor.kind} acceptor")
        elif value in seen:
            out.append(f"coin_acceptor.coins.{i}.{key}: {value} is used by another coin")
        seen.add(value)
    return out


def pin_table(config: Config) -> list[tuple[int, str]]:
    """Every GPIO pin the config uses, with the dotted option that uses it."""
    pins: list[tuple[int, str]] = []
    ca = config.coin_acceptor
    if ca is not None and ca.kind == "pulse":
        pins.append((ca.pin, "coin_acceptor.pin"))
        if ca.inhibit_pin is not None:
            pins.append((ca.inhibit_pin, "coin_acceptor.inhibit_pin"))
    d = config.dispenser
    if d.kind == "gpio":
        for group in ("motors", "rows", "columns", "home_pins"):
            pins += [(p, f"dispenser.{group}.{k}") for k, p in getattr(d, group).items()]
        for single in ("home_pin", "drop_sensor_pin"):
            if getattr(d, single) is not None:
                pins.append((getattr(d, single), f"dispenser.{single}"))
    b = config.buttons
    if b.kind == "gpio":
        for group in ("selection", "rows", "columns"):
            pins += [(p, f"buttons.{group}.{k}") for k, p in getattr(b, group).items()]
        for single in ("cancel_pin", "service_key_pin"):
            if getattr(b, single) is not None:
                pins.append((getattr(b, single), f"buttons.{single}"))
    return pins


def check_pins(config: Config) -> list[str]:
    first: dict[int, str] = {}
    out = []
    for pin, where in pin_table(config):
        if pin in first:
            out.append(f"{where}: GPIO {pin} is already used by {first[pin]}")
        first.setdefault(pin, where)
    return out


