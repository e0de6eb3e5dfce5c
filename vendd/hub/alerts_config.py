"""`[alerts]` in hub.toml, the models of `vendd.hub.alerts` (beside `config.py`, which takes
them in, so the package and the config do not import each other): the rules' thresholds
(with per-machine overrides), the museum's opening hours, who is told what and how
(`[alerts.people.<username>]`) and the channels."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vendd.config import Ident, Model

ChannelName = Literal["email", "webhook", "telegram"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_span(value: str) -> tuple[time, time]:
    """'HH:MM-HH:MM' (the end may be before the start: the span crosses midnight)."""
    m = _SPAN.match(value)
    if not m:
        raise ValueError(f"{value!r}: expected HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{value!r}: not a time of day")
    return time(h1, m1), (time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2))


class RulesConfig(Model):
    """Thresholds; every one may be changed for a machine under [alerts.machines.<id>]."""

    offline_minutes: float = Field(default=10, gt=0)
    # A slot is low by the Stock page's thresholds ([stock], per machine and per slot: a
    # fraction of its capacity or a count; not the days-left estimate).
    slot_low: bool = True
    slot_empty: bool = True
    faults: bool = True  # a jammed slot or a faulted device
    cash_box_capacity: int | None = Field(default=None, ge=1)  # cents the box holds
    cash_box_near_percent: int = Field(default=90, ge=1, le=100)
    no_sale_hours: float | None = Field(default=3, gt=0)  # of opening hours; None: off
    owed: bool = True  # a short payout: money owed to a buyer
    lost_coins: bool = True  # `lost_events` faults of a coin validator
    gap_minutes: float = Field(default=15, gt=0)
    integrity: bool = True


class MachineRules(Model):
    offline_minutes: float | None = Field(default=None, gt=0)
    slot_low: bool | None = None
    slot_empty: bool | None = None
    faults: bool | None = None
    cash_box_capacity: int | None = Field(default=None, ge=1)
    cash_box_near_percent: int | None = Field(default=None, ge=1, le=100)
    no_sale_hours: float | None = Field(default=None, gt=0)
    owed: bool | None = None
    lost_coins: bool | None = None
    gap_minutes: float | None = Field(default=None, gt=0)
    integrity: bool | None = None
    opening: OpeningConfig | None = None


class OpeningConfig(Model):
    """The museum's weekly schedule ('HH:MM-HH:MM' per weekday, several spans allowed) and its
    holidays, read in the machine's time zone ([accounts] / [machines.<id>] timezone)."""

    mon: list[str] = ["09:00-17:00"]
    tue: list[str] = ["09:00-17:00"]
    wed: list[str] = ["09:00-17:00"]
    thu: list[str] = ["09:00-17:00"]
    fri: list[str] = ["09:00-17:00"]
    sat: list[str] = ["10:00-16:00"]
    sun: list[str] = []
    holidays: list[date] = []

    @field_validator(*WEEKDAYS)
    @classmethod
    def _spans(cls, value: list[str]) -> list[str]:
        for span in value:
            parse_span(span)
        return value


class PersonConfig(Model):
    """One person told of alerts; the key is her dashboard user name."""

    role: Literal["coordinator", "maker"] = "coordinator"
    maker: str | None = None  # a maker: the maker id her slots carry in the machines' state
    channels: list[ChannelName] = []
    email: str | None = None
    telegram_chat_id: str | None = None
    webhook_to: str | None = None  # an address the webhook's gateway knows (a phone number)
    quiet_hours: str | None = None  # "22:00-07:00" in `timezone`: nothing sent then
    timezone: str | None = None  # default: [accounts] timezone
    language: Literal["es", "en"] = "es"

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            parse_span(value)
        return value


class SmtpConfig(Model):
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    # The password: a file, or the name of a systemd credential ($CREDENTIALS_DIRECTORY).
    password_file: Path | None = None
    password_credential: str | None = None
    ca_file: Path | None = None  # a private CA (the system's otherwise)
    sender: str = "vendd-hub@localhost"
    timeout_s: float = Field(default=15, gt=0)


class WebhookConfig(Model):
    url: str
    secret_file: Path | None = None  # HMAC-SHA256 key, sent as X-Vendd-Signature
    secret_credential: str | None = None
    timeout_s: float = Field(default=10, gt=0)


class TelegramConfig(Model):
    base_url: str = "https://api.telegram.org"
    token_file: Path | None = None
    token_credential: str | None = None
    timeout_s: float = Field(default=10, gt=0)


class AlertsConfig(Model):
    enabled: bool = True
    tick_s: float = Field(default=2.0, gt=0)  # how often the rules are evaluated
    renotify_minutes: float = Field(default=60, gt=0)  # reminders while open, unacknowledged
    # Event rules skip rows older than this: a hub meeting a machine's long history (a new
    # hub, a new machine) does not raise every short payout of the past.
    events_within_hours: float = Field(default=24, gt=0)
    retry_min_s: float = Field(default=10, gt=0)  # a failed delivery: again after this ...
    retry_max_s: float = Field(default=900, gt=0)  # ... doubling up to this
    mqtt: bool = True  # <prefix>/alerts: the open alerts, retained
    # Acknowledge links in messages: the dashboard's address and a key signing the links.
    base_url: str = "http://127.0.0.1:8470"
    link_secret_file: Path | None = None
    rules: RulesConfig = RulesConfig()
    opening: OpeningConfig = OpeningConfig()
    machines: dict[Ident, MachineRules] = {}
    people: dict[Ident, PersonConfig] = {}
    smtp: SmtpConfig | None = None
    webhook: WebhookConfig | None = None
    telegram: TelegramConfig | None = None

    @model_validator(mode="after")
    def _people(self) -> AlertsConfig:
        section = {"email": self.smtp, "webhook": self.webhook, "telegram": self.telegram}
        for name, p in self.people.items():
            if p.role == "maker" and not p.maker:
                raise ValueError(f"people.{name}: a maker needs `maker` (her maker id)")
            for channel in p.channels:
                if section[channel] is None:
                    raise ValueError(f"people.{name}: channel {channel} has no [alerts."
                                     f"{ {'email': 'smtp'}.get(channel, channel)}] section")
                needed = {"email": p.email, "telegram": p.telegram_chat_id}.get(channel, "-")
                if not needed:
                    raise ValueError(f"people.{name}: channel {channel} needs her address "
                                     f"({'email' if channel == 'email' else 'telegram_chat_id'})")
        return self

    def rules_of(self, machine: str) -> RulesConfig:
        entry = self.machines.get(machine)
        if entry is None:
            return self.rules
        dumped = entry.model_dump(exclude={"opening"})
        own = {k: v for k, v in dumped.items() if v is not None}
        return self.rules.model_copy(update=own)

    def opening_of(self, machine: str) -> OpeningConfig:
        entry = self.machines.get(machine)
        return entry.opening if entry is not None and entry.opening else self.opening


MachineRules.model_rebuild()
