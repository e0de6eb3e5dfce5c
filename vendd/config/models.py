"""The config's top-level models: the machine, makers, slots, sales, service menu, MQTT and
ledger sections, and `Config`, the whole file (its cross-field rules are in `checks`). The
device sections are in `devices`, the shared field types in `base`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vendd.config.base import Ident, Model, Price, SlotId
from vendd.config.checks import check_coins, check_pins, duplicates
from vendd.config.devices import (
    ButtonsConfig,
    CoinAcceptorConfig,
    DispenserConfig,
    DisplayConfig,
    MdbConfig,
)
from vendd.money import CURRENCY_SYMBOLS


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
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")  # service-menu PIN


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

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        problems: list[str] = []
        maker_ids = [m.id for m in self.makers]
        problems += duplicates("makers", maker_ids, "maker id")
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
            problems += check_coins(self.coin_acceptor)
        problems += check_pins(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def slot(self, slot_id: str) -> SlotConfig:
        return next(s for s in self.slots if s.id == slot_id)


