"""`Config`, the whole file: its sections (from `models` and `devices`), the environment's
overrides, and its cross-field rules: ids that must match, money within `sales.max_credit`,
coin tables, a motor for every slot, and every GPIO pin used once.

Each problem is one `dotted.path: what is wrong` string, with list items by index
(`slots.3.price`); the loader shows them by id (`slots[A3].price`) with the TOML line."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vendd.config.devices import (
    ButtonsConfig,
    CoinAcceptorConfig,
    DispenserConfig,
    DisplayConfig,
    MdbConfig,
)
from vendd.config.models import (
    LedgerConfig,
    MachineConfig,
    MakerConfig,
    MqttConfig,
    SalesConfig,
    ServiceConfig,
    SharesConfig,
    SlotConfig,
)


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="VENDD_",
        env_nested_delimiter="__",
        hide_input_in_errors=True,
    )

    machine: MachineConfig
    makers: list[MakerConfig] = Field(min_length=1, max_length=200)
    shares: SharesConfig = SharesConfig()
    slots: list[SlotConfig] = Field(min_length=1, max_length=200)
    sales: SalesConfig = SalesConfig()
    coin_acceptor: CoinAcceptorConfig | None = None
    dispenser: DispenserConfig
    buttons: ButtonsConfig = ButtonsConfig()
    display: DisplayConfig = DisplayConfig()
    service: ServiceConfig = ServiceConfig()
    mqtt: MqttConfig = MqttConfig()
    ledger: LedgerConfig = LedgerConfig()
    mdb: MdbConfig | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file, not the other way round.
        return (env_settings, init_settings)

    @field_validator("makers")
    @classmethod
    def _distinct_pins(cls, makers: list[MakerConfig]) -> list[MakerConfig]:
        """Two makers with one PIN, or one PIN the start of another, would journal one
        woman's changes under another's name. (Hashed PINs are compared at check-config.)"""
        pins = [(m.id, m.pin) for m in makers if m.pin and m.pin.isdigit()]
        for i, (a, pa) in enumerate(pins):
            for b, pb in pins[i + 1:]:
                if pa == pb:
                    raise ValueError(f"{a} and {b} have the same PIN; give one of them "
                                     "another PIN")
                if pa.startswith(pb) or pb.startswith(pa):
                    short, long_ = (a, b) if len(pa) < len(pb) else (b, a)
                    raise ValueError(f"{short}'s PIN begins {long_}'s; give one of them "
                                     "another PIN")
        return makers

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        problems = cross_checks(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def slot(self, slot_id: str) -> SlotConfig:
        return next(s for s in self.slots if s.id == slot_id)




# Pins with a job of their own on the header, taken when that device is configured.
I2C_PINS = {2: "the LCD's I2C SDA", 3: "the LCD's I2C SCL"}
UART_PINS = {14: "the MDB UART's TXD", 15: "the MDB UART's RXD"}


def cross_checks(config: Config) -> list[str]:
    problems: list[str] = []
    problems += _ids(config)
    problems += _money(config)
    if config.coin_acceptor is not None:
        problems += check_coins(config.coin_acceptor)
    problems += _motors(config)
    problems += check_pins(config)
    return problems


def _ids(config: Config) -> list[str]:
    problems = duplicates("makers", [m.id for m in config.makers], "maker id")
    known = [m.id for m in config.makers]
    seen: dict[str, int] = {}
    for i, slot in enumerate(config.slots):
        if slot.maker not in known:
            hint = difflib.get_close_matches(slot.maker, known, n=1)
            also = f" (did you mean {hint[0]!r}?)" if hint else f" (makers: {', '.join(known)})"
            problems.append(f"slots.{i}.maker: unknown maker {slot.maker!r}{also}")
        if slot.id in seen:
            problems.append(f"slots.{i}.id: duplicate slot id {slot.id!r}")
        seen.setdefault(slot.id, i)
    return problems


def _money(config: Config) -> list[str]:
    limit = config.sales.max_credit
    over = f"is more than sales.max_credit ({limit})"
    problems = [f"slots.{i}.price: {slot.price} {over}: no buyer could pay it"
                for i, slot in enumerate(config.slots) if slot.price > limit]
    if config.coin_acceptor is not None:
        problems += [f"coin_acceptor.coins.{i}.value: {coin.value} {over}: the coin would "
                     "always be refused" for i, coin in enumerate(config.coin_acceptor.coins)
                     if coin.value > limit]
    if config.service.price_step > limit:
        problems.append(f"service.price_step: {config.service.price_step} {over}")
    changer = config.mdb.changer if config.mdb is not None else None
    if changer is not None and (changer.exact_change_limit or 0) > limit:
        problems.append(f"mdb.changer.exact_change_limit: {changer.exact_change_limit} {over}")
    return problems


def _motors(config: Config) -> list[str]:
    d = config.dispenser
    if d.kind != "gpio":
        return []
    wired = d.motor_slots()
    where = "rows x columns" if d.wiring == "matrix" else "motors"
    return [f"slots.{i}.id: no motor for {slot.id} in dispenser.{where} "
            f"({', '.join(wired)})" for i, slot in enumerate(config.slots)
            if slot.id not in wired]


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
    if config.display.kind == "lcd":
        first.update({pin: job for pin, job in I2C_PINS.items()})
    if config.mdb is not None and config.mdb.link == "uart":
        first.update({pin: job for pin, job in UART_PINS.items()})
    out = []
    for pin, where in pin_table(config):
        if pin in first:
            out.append(f"{where}: GPIO {pin} is already used by {first[pin]}")
        first.setdefault(pin, where)
    return out


