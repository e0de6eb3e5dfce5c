"""Who is told of an alert and how: coordinators of everything, a maker of the alerts of the
slots holding her products (the slot's maker in the machine's retained state, kept on the
alert when it opened); each through the channels she chose, outside her quiet hours.
The texts (in her language) and the signed acknowledge links are made here too."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vendd.errors import ConfigError
from vendd.hub.alerts import texts
from vendd.hub.alerts.schedule import quiet_until
from vendd.hub.alerts.store import Alert
from vendd.hub.alerts_config import PersonConfig
from vendd.hub.config import HubConfig
from vendd.money import format_money


@dataclass(frozen=True)
class Recipient:
    name: str
    person: PersonConfig
    tz: ZoneInfo


def sees(role: str, maker: str | None, alert: Alert) -> bool:
    """Whether a person of `role` (and `maker`) is concerned by `alert` (also the dashboard's
    filter)."""
    if role == "coordinator":
        return True
    return role == "maker" and maker is not None and alert.maker == maker


def recipients(config: HubConfig, alert: Alert) -> list[Recipient]:
    out = []
    for name, person in config.alerts.people.items():
        if sees(person.role, person.maker, alert):
            out.append(Recipient(name, person,
                                 ZoneInfo(person.timezone or config.accounts.timezone)))
    return out


def quiet_end(r: Recipient, now: float) -> float | None:
    return quiet_until(r.person.quiet_hours, r.tz, now)


def read_secret(path: Path | None, credential: str | None, what: str) -> str:
    """A secret from a file or a systemd credential ($CREDENTIALS_DIRECTORY/<name>)."""
    if path is None and credential is not None:
        folder = os.environ.get("CREDENTIALS_DIRECTORY")
        if not folder:
            raise ConfigError([f"alerts: {what}: credential {credential!r} given but "
                               "$CREDENTIALS_DIRECTORY is not set"])
        path = Path(folder) / credential
    if path is None:
        raise ConfigError([f"alerts: {what}: no secret file or credential configured"])
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError([f"alerts: {what}: cannot read {path}: {exc.strerror}"]) from exc


def shown_params(config: HubConfig, alert: Alert) -> dict[str, Any]:
    """The alert's parameters ready for its text: the machine's name, money formatted."""
    acc = config.accounts_of(alert.machine)
    entry = config.machines.get(alert.machine)
    params = dict(alert.params)
    params["machine"] = entry.name if entry and entry.name else alert.machine
    if alert.slot:
        params["slot"] = alert.slot
    if alert.rule in ("owed", "cash_box") and isinstance(params.get("amount"), int):
        params["amount"] = format_money(params["amount"], acc.currency, acc.decimals)
    return params


class Links:
    """Acknowledge links signed with HMAC-SHA256 over the alert and the person."""

    def __init__(self, base_url: str, secret: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret.encode() if secret else None

    def token(self, alert_id: int, person: str) -> str:
        assert self.secret is not None
        return hmac.new(self.secret, f"{alert_id}:{person}".encode(),
                        hashlib.sha256).hexdigest()[:32]

    def link(self, alert_id: int, person: str) -> str | None:
        if self.secret is None:
            return None
        return f"{self.base_url}/alertas/ack/{alert_id}/{person}/{self.token(alert_id, person)}"

    def check(self, alert_id: int, person: str, token: str) -> bool:
        return self.secret is not None and hmac.compare_digest(self.token(alert_id, person),
                                                               token)


def links_of(config: HubConfig) -> Links:
    al = config.alerts
    secret = read_secret(al.link_secret_file, None, "link_secret_file") \
        if al.link_secret_file else None
    return Links(al.base_url, secret)


def message(config: HubConfig, links: Links, alert: Alert, notice: str, person: str,
            language: texts.Language) -> tuple[str, str]:
    """(short text, text with the acknowledge link): the notification and the body."""
    short = texts.notice(notice, alert.rule, language, shown_params(config, alert))
    link = links.link(alert.id, person) if notice != "resolved" else None
    body = short + ("\n" + texts.word("ack_link", language, link=link) if link else "")
    return short, body
