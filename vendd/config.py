"""The config file: frozen pydantic models, loading from TOML plus `VENDD_*` environment
overrides, and readable one-line errors that name the file and the dotted field path. The
device sections' models are in `config_devices`, the shared field types in `config_base`; every
model is importable from here."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vendd.config_base import Cents, Ident, Model, Pin, Price, SlotId
from vendd.config_devices import (
    ButtonsConfig,
    CctalkConfig,
    CoinAcceptorConfig,
    CoinConfig,
    DispenserConfig,
    DispenserTiming,
    DisplayConfig,
    GpioDispenserConfig,
    MdbBillValidatorConfig,
    MdbCashlessConfig,
    MdbChangerConfig,
    MdbConfig,
    PulseConfig,
    VirtualCoinAcceptorConfig,
    VirtualDispenserConfig,
)
from vendd.errors import ConfigError
from vendd.money import CURRENCY_SYMBOLS

__all__ = [
    "ButtonsConfig",
    "CctalkConfig",
    "Cents",
    "CoinAcceptorConfig",
    "CoinConfig",
    "Config",
    "DispenserConfig",
    "DispenserTiming",
    "DisplayConfig",
    "GpioDispenserConfig",
    "Ident",
    "LedgerConfig",
    "MachineConfig",
    "MakerConfig",
    "MdbBillValidatorConfig",
    "MdbCashlessConfig",
    "MdbChangerConfig",
    "MdbConfig",
    "Model",
    "MqttConfig",
    "Pin",
    "Price",
    "PulseConfig",
    "RequestsConfig",
    "SalesConfig",
    "ServiceConfig",
    "SharesConfig",
    "SlotConfig",
    "SlotId",
    "TlsConfig",
    "VirtualCoinAcceptorConfig",
    "VirtualDispenserConfig",
    "load_config",
    "pin_table",
]


class MachineConfig(Model):
    id: Ident
    name: str
    location: str = ""
    currency: str = "USD"
    decimals: int = Field(default=2, ge=0, le=3)
    language: Literal["es", "en"] = "es"
    timezone: str = "America/Guayaquil"

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCY_SYMBOLS:
            known = ", ".join(sorted(CURRENCY_SYMBOLS))
            raise ValueError(f"unknown currency {value!r} (known: {known})")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class MakerConfig(Model):
    id: Ident
    name: str
    # service-menu PIN: 4 to 8 digits, or a hash made by `vendd pin-hash`
    pin: str | None = Field(
        default=None, pattern=r"^(?:[0-9]{4,8}|scrypt\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+)$")


class SharesConfig(Model):
    """How each sale's income is split, in percent; must add up to 100."""

    maker: int = Field(default=70, ge=0, le=100)
    collective: int = Field(default=20, ge=0, le=100)
    museum: int = Field(default=10, ge=0, le=100)

    @model_validator(mode="after")
    def _sum(self) -> SharesConfig:
        total = self.maker + self.collective + self.museum
        if total != 100:
            raise ValueError(f"shares add up to {total}, they must add up to 100")
        return self


class SlotConfig(Model):
    id: SlotId
    product: str
    maker: Ident
    price: Price
    capacity: int = Field(gt=0, le=99)


class SalesConfig(Model):
    max_credit: Price = 2000
    selection_timeout_s: float = Field(default=4.0, gt=0)  # how long a message stays up
    unclaimed_credit_s: float = Field(default=300.0, gt=0)  # idle credit becomes unclaimed


class ServiceConfig(Model):
    """The seamstresses' service menu on the buttons and the display."""

    timeout_s: float = Field(default=60.0, gt=0)  # no press this long: back to sale
    pin_tries: int = Field(default=3, ge=1, le=10)  # wrong PINs before the menu locks
    lock_s: float = Field(default=300.0, gt=0)  # how long it stays locked
    price_step: Price = 25  # cents added or taken by one press in the price screen


class TlsConfig(Model):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


class RequestsConfig(Model):
    """Coordinator requests over MQTT; each action is off unless switched on."""

    set_price: bool = False
    set_stock: bool = False
    enable_slot: bool = False
    disable_slot: bool = False
    out_of_service: bool = False
    back_in_service: bool = False
    report: bool = False
    ping: bool = False


class MqttConfig(Model):
    enabled: bool = True
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    prefix: str = Field(default="vendd", pattern=r"^[^#+/][^#+]*$")
    client_id: str | None = None
    keepalive_s: int = Field(default=60, ge=5, le=3600)
    session_expiry_s: int = Field(default=86400, ge=0)
    username: str | None = None
    password: SecretStr | None = None  # only from the environment: VENDD_MQTT__PASSWORD
    password_file: Path | None = None
    tls: TlsConfig | None = None
    discovery: bool = False
    discovery_prefix: str = "homeassistant"
    requests: RequestsConfig = RequestsConfig()


class LedgerConfig(Model):
    path: Path = Path("/var/lib/vendd/vendd.db")


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="VENDD_",
        env_nested_delimiter="__",
        hide_input_in_errors=True,
    )

    machine: MachineConfig
    makers: list[MakerConfig]
    shares: SharesConfig = SharesConfig()
    slots: list[SlotConfig]
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
        problems: list[str] = []
        maker_ids = [m.id for m in self.makers]
        problems += _duplicates("makers", maker_ids, "maker id")
        known = set(maker_ids)
        seen: dict[str, int] = {}
        for i, slot in enumerate(self.slots):
            if slot.maker not in known:
                problems.append(f"slots.{i}.maker: unknown maker {slot.maker!r}")
            if slot.id in seen:
                first = seen[slot.id]
                problems.append(f"slots.{i}.id: duplicate slot id {slot.id!r} (see slots.{first})")
            seen.setdefault(slot.id, i)
        if self.coin_acceptor is not None:
            problems += _check_coins(self.coin_acceptor)
        problems += _check_pins(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def slot(self, slot_id: str) -> SlotConfig:
        return next(s for s in self.slots if s.id == slot_id)


def _duplicates(where: str, values: list[str], what: str) -> list[str]:
    out, seen = [], set()
    for i, v in enumerate(values):
        if v in seen:
            out.append(f"{where}.{i}.id: duplicate {what} {v!r}")
        seen.add(v)
    return out


def _check_coins(acceptor: Any) -> list[str]:
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


def _check_pins(config: Config) -> list[str]:
    first: dict[int, str] = {}
    out = []
    for pin, where in pin_table(config):
        if pin in first:
            out.append(f"{where}: GPIO {pin} is already used by {first[pin]}")
        first.setdefault(pin, where)
    return out


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
        elif err["loc"][-1:] == ("pin",):  # never shown: a PIN is a secret
            msg = "must be 4 to 8 digits, or a hash made by `vendd pin-hash`"
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
