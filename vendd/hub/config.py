"""`hub.toml`: where the broker is, where the replica lives, how gaps are chased, and what the
hub must know of each machine to compute its accounts (time zone, currency, shares).

Unknown options are errors; each problem is one line naming the file and the option."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator

from vendd.config import Ident, Model, MqttConfig, SharesConfig, TlsConfig
from vendd.errors import ConfigError
from vendd.hub.alerts_config import AlertsConfig
from vendd.money import CURRENCY_SYMBOLS

DEFAULT_PATH = "/etc/vendd/hub.toml"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # the CLI and the writer


class HubMqttConfig(Model):
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    prefix: str = Field(default="vendd", pattern=r"^[^#+/$][^#+]*$")
    # Stable across restarts: the broker keeps the session (and queues rows) under this id.
    client_id: str = Field(default_factory=lambda: f"vendd-hub-{socket.gethostname()}")
    keepalive_s: int = Field(default=60, ge=5, le=3600)
    # How long the broker keeps queueing rows for a hub that is down. A longer outage leaves a
    # gap that `replay` fills.
    session_expiry_s: int = Field(default=7 * 86400, ge=1)
    # Workers of one hub share the event stream: $share/<group>/<prefix>/+/event/#.
    share_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None

    def client_config(self) -> MqttConfig:
        """The daemon's MQTT settings model, so both sides build clients the same way."""
        return MqttConfig(host=self.host, port=self.port, prefix=self.prefix,
                          keepalive_s=self.keepalive_s, session_expiry_s=self.session_expiry_s,
                          username=self.username, password_file=self.password_file,
                          tls=self.tls)


class StoreConfig(Model):
    # sqlite:///relative.db, sqlite:////absolute.db or postgresql://user@host/db
    url: str = "sqlite:////var/lib/vendd-hub/hub.db"
    # The password of a PostgreSQL URL, read from a file (or a systemd credential).
    password_file: Path | None = None
    # Per-machine ledger files built from the verified rows, for the reports.
    replicas: Path = Path("/var/lib/vendd-hub/replicas")

    @field_validator("url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class GapsConfig(Model):
    # A hole in the sequence may be rows still on their way (another worker, a replay): it
    # is only asked for once it has stayed open this long.
    grace_s: float = Field(default=5.0, gt=0)
    retry_min_s: float = Field(default=10.0, gt=0)  # first re-ask; doubles ...
    retry_max_s: float = Field(default=600.0, gt=0)  # ... up to this
    max_rows: int = Field(default=2000, ge=1, le=100_000)  # rows asked for in one request


class AccountsConfig(Model):
    """What the machines' own configs say; one machine may differ under [machines.<id>]."""

    timezone: str = "America/Guayaquil"
    currency: str = "USD"
    decimals: int = Field(default=2, ge=0, le=3)
    shares: SharesConfig = SharesConfig()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _zone(value)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in CURRENCY_SYMBOLS:
            raise ValueError(f"unknown currency {value!r}")
        return value


class MachineEntry(Model):
    name: str | None = None
    timezone: str | None = None
    currency: str | None = None
    decimals: int | None = Field(default=None, ge=0, le=3)
    shares: SharesConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class WebConfig(Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=0, le=65535)  # 0: any free port (tests)
    # Session cookies are sent only over HTTPS (a reverse proxy in front of the hub); browsers
    # also send them to http://localhost. Off only for a hub reached over plain HTTP.
    secure_cookies: bool = True
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    signin_attempts: int = Field(default=5, ge=1, le=100)  # failures per 15 min, then wait
    # The coordinators' Ed25519 private keys (<username>.pem), made by `vendd hub user add`.
    keys: Path = Path("/var/lib/vendd-hub/keys")
    language: Literal["es", "en"] = "es"  # the default; each reader may choose the other
    request_ttl_s: int = Field(default=120, ge=5, le=3600)  # a change not delivered by then
    # is dropped by the broker


class StockThresholds(Model):
    """When a slot is `low`: at most `low_fraction` of its capacity, at most `low_at` items
    when set, or out in under `low_days` selling days."""

    low_fraction: float = Field(default=0.25, ge=0, le=1)
    low_at: int | None = Field(default=None, ge=0)
    low_days: float = Field(default=3.0, ge=0)


class SlotThresholds(Model):
    low_fraction: float | None = Field(default=None, ge=0, le=1)
    low_at: int | None = Field(default=None, ge=0)
    low_days: float | None = Field(default=None, ge=0)


class MachineThresholds(SlotThresholds):
    slots: dict[str, SlotThresholds] = {}


class StockConfig(StockThresholds):
    # [stock.machines.<id>] over these; [stock.machines.<id>.slots.<slot>] over the machine.
    machines: dict[Ident, MachineThresholds] = {}

    def for_slot(self, machine: str, slot: str) -> StockThresholds:
        base = StockThresholds(low_fraction=self.low_fraction, low_at=self.low_at,
                               low_days=self.low_days)
        m = self.machines.get(machine)
        if m is None:
            return base
        own = m.model_dump(exclude={"slots"}, exclude_unset=True)
        base = base.model_copy(update=own)
        s = m.slots.get(slot)
        return base if s is None else base.model_copy(
            update=s.model_dump(exclude_unset=True))


class HubConfig(Model):
    mqtt: HubMqttConfig = HubMqttConfig()
    store: StoreConfig = StoreConfig()
    gaps: GapsConfig = GapsConfig()
    accounts: AccountsConfig = AccountsConfig()
    machines: dict[Ident, MachineEntry] = {}
    web: WebConfig = WebConfig()
    alerts: AlertsConfig = AlertsConfig()
    stock: StockConfig = StockConfig()

    def accounts_of(self, machine: str) -> AccountsConfig:
        """The accounts settings of one machine: its own entry over the defaults."""
        entry = self.machines.get(machine)
        if entry is None:
            return self.accounts
        own = {k: v for k, v in entry.model_dump(exclude={"name"}).items() if v is not None}
        return self.accounts.model_copy(update=own)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def load_hub_config(path: str | Path) -> HubConfig:
    """Load and validate; ConfigError with one `file: option: problem` line each."""
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
        return HubConfig(**data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{path}: {loc}: {msg.removeprefix('Value error, ')}")
        raise ConfigError(lines) from exc
    except TypeError as exc:
        raise ConfigError([f"{path}: {exc}"]) from exc
