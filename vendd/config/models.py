"""The config's sections other than devices: the machine, makers, slots, sales, service menu,
MQTT and ledger. The device sections are in `devices`, the shared field types in `base`, and
`Config`, the whole file with its cross-field rules, in `root`."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from vendd.config.base import (
    CLIENT_ID,
    HOST,
    TOPIC,
    Flag,
    Ident,
    Location,
    Model,
    Name,
    Price,
    Product,
    Seconds,
    SlotId,
    Username,
    seconds,
)
from vendd.money import CURRENCY_SYMBOLS


class MachineConfig(Model):
    id: Ident
    name: Name
    location: Location = ""
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
    name: Name
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
    product: Product
    maker: Ident
    price: Price
    capacity: int = Field(gt=0, le=99)


class SalesConfig(Model):
    # Every price, coin and change limit must fit under it; the bound keeps sums far from
    # the ledger's 64-bit limit.
    max_credit: Price = Field(default=2000, le=10**12)
    selection_timeout_s: Seconds = seconds(4.0, most=60)  # how long a message stays up
    unclaimed_credit_s: Seconds = seconds(300.0, most=7 * 86400)  # then credit is unclaimed


class ServiceConfig(Model):
    """The seamstresses' service menu on the buttons and the display."""

    timeout_s: Seconds = seconds(60.0, most=3600)  # no press this long: back to sale
    pin_tries: int = Field(default=3, ge=1, le=10)  # wrong PINs before the menu locks
    lock_s: Seconds = seconds(300.0, most=86400)  # how long it stays locked
    price_step: Price = 25  # cents added or taken by one press in the price screen


class TlsConfig(Model):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (a client certificate and "
                             "its key)")
        return self


class CoordinatorConfig(Model):
    """A coordinator who may sign change requests: her id and her Ed25519 public key (the
    line `vendd keygen` prints: base64 of the 32 raw bytes)."""

    id: Ident
    public_key: str

    @field_validator("public_key")
    @classmethod
    def _ed25519(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("must be base64 (the line `vendd keygen` prints)") from exc
        if len(raw) != 32:
            raise ValueError(f"must be an Ed25519 public key of 32 bytes, got {len(raw)}")
        return value.strip()


# Requests that change the machine: signed by a coordinator, journaled, acted on at most once.
CHANGE_ACTIONS = ("set_price", "set_stock", "enable_slot", "disable_slot", "out_of_service",
                  "back_in_service")


class RequestsConfig(Model):
    """Coordinator requests over MQTT; each action is off unless switched on."""

    set_price: Flag = False
    set_stock: Flag = False
    enable_slot: Flag = False
    disable_slot: Flag = False
    out_of_service: Flag = False
    back_in_service: Flag = False
    report: Flag = False
    ping: Flag = False
    replay: Flag = False  # read-only: republish journal rows the hub is missing
    coordinators: list[CoordinatorConfig] = []
    max_age_s: int = Field(default=300, ge=10, le=86400)  # how long a change request is valid
    trust_clock: Literal["synced", "always", "never"] = "synced"

    def enabled(self, action: str) -> bool:
        return getattr(self, action, None) is True

    @model_validator(mode="after")
    def _signers(self) -> RequestsConfig:
        problems, ids = [], set()
        for coordinator in self.coordinators:
            if coordinator.id in ids:
                problems.append(f"coordinators[{coordinator.id}].id: duplicate coordinator id")
            ids.add(coordinator.id)
        changes = [a for a in CHANGE_ACTIONS if self.enabled(a)]
        if changes and not self.coordinators:
            problems.append(f"{changes[0]}: change requests are signed; list who may sign "
                            "them in [[mqtt.requests.coordinators]] (see `vendd keygen`)")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class MqttConfig(Model):
    enabled: Flag = True
    host: str = Field(default="localhost", pattern=HOST)
    port: int = Field(default=1883, ge=1, le=65535)
    prefix: str = Field(default="vendd", pattern=TOPIC)
    client_id: str | None = Field(default=None, pattern=CLIENT_ID)
    keepalive_s: int = Field(default=60, ge=5, le=3600)
    session_expiry_s: int = Field(default=86400, ge=0, le=2**32 - 1)  # MQTT 5's own limit
    username: Username | None = None
    # Never in the config text (the loader refuses it there): from a systemd credential, a
    # file, or the environment of a test run.
    password: SecretStr | None = None
    password_file: Path | None = None
    password_credential: Ident | None = None  # systemd LoadCredential= name
    tls: TlsConfig | None = None
    discovery: Flag = False
    discovery_prefix: str = Field(default="homeassistant", pattern=TOPIC)
    requests: RequestsConfig = RequestsConfig()

    @model_validator(mode="after")
    def _password(self) -> MqttConfig:
        sources = [name for name in ("password", "password_file", "password_credential")
                   if getattr(self, name) is not None]
        if len(sources) > 1:
            raise ValueError(f"{' and '.join(sources)}: give the password one way only")
        written = [name for name in sources if name != "password"]  # the environment's
        if written and self.username is None:  # password meets its username only in the client
            raise ValueError(f"{written[0]} is set but username is not")
        return self


class LedgerConfig(Model):
    path: Path = Path("/var/lib/vendd/vendd.db")
