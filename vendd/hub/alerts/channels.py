"""The channels a notice goes out on. Each `send(...)` either delivers or raises
ChannelError with one line saying why (the outbox tries again later).

- e-mail: SMTP with STARTTLS (and a login whose password comes from a file or a systemd
  credential), one message per notice;
- webhook: a JSON POST signed with HMAC-SHA256 of the body (`X-Vendd-Signature: sha256=<hex>`)
  so a gateway (WhatsApp, Telegram, SMS) can check it came from the hub;
- telegram: the Bot API's `sendMessage` at a configurable base URL (a self-hosted Bot API
  server or a compatible gateway)."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

from vendd.errors import VenddError
from vendd.hub.alerts.routing import read_secret
from vendd.hub.alerts_config import SmtpConfig, TelegramConfig, WebhookConfig


class ChannelError(VenddError):
    """A notice could not be delivered on a channel (tried again later)."""


@dataclass(frozen=True)
class Notice:
    alert_id: int
    key: str
    rule: str
    machine: str
    slot: str | None
    notice: str  # opened | reminder | resolved
    person: str
    short: str  # the notification's line
    body: str  # the line and the acknowledge link
    at: float


class Channel(Protocol):
    def send(self, notice: Notice, address: str) -> None: ...


class EmailChannel:
    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self.password = (read_secret(cfg.password_file, cfg.password_credential, "smtp password")
                         if cfg.username else None)

    def send(self, notice: Notice, address: str) -> None:
        cfg = self.cfg
        msg = EmailMessage()
        msg["From"] = cfg.sender
        msg["To"] = address
        msg["Subject"] = f"[vendd] {notice.short}"
        msg.set_content(notice.body + "\n")
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
                if cfg.starttls:
                    ctx = ssl.create_default_context(
                        cafile=str(cfg.ca_file) if cfg.ca_file else None)
                    smtp.starttls(context=ctx)
                if cfg.username and self.password is not None:
                    smtp.login(cfg.username, self.password)
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"smtp {cfg.host}:{cfg.port}: {exc}") from exc


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Any:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read()
    except urllib.error.HTTPError as exc:
        raise ChannelError(f"{_safe(url)}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(f"{_safe(url)}: {reason}") from exc
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _safe(url: str) -> str:
    """The URL without a bot token in its path."""
    return url.split("/bot", 1)[0] + ("/bot..." if "/bot" in url else "")


class WebhookChannel:
    def __init__(self, cfg: WebhookConfig) -> None:
        self.cfg = cfg
        self.secret = (read_secret(cfg.secret_file, cfg.secret_credential, "webhook secret")
                       if cfg.secret_file or cfg.secret_credential else None)

    def send(self, notice: Notice, address: str) -> None:
        body = json.dumps({
            "alert": notice.alert_id, "key": notice.key, "rule": notice.rule,
            "machine": notice.machine, "slot": notice.slot, "notice": notice.notice,
            "person": notice.person, "to": address, "text": notice.short,
            "body": notice.body, "at": notice.at,
        }, ensure_ascii=False, sort_keys=True).encode()
        headers = {}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Vendd-Signature"] = f"sha256={digest}"
        _post(self.cfg.url, body, headers, self.cfg.timeout_s)


class TelegramChannel:
    def __init__(self, cfg: TelegramConfig) -> None:
        self.cfg = cfg
        self.token = read_secret(cfg.token_file, cfg.token_credential, "telegram token")

    def send(self, notice: Notice, address: str) -> None:
        url = f"{self.cfg.base_url.rstrip('/')}/bot{self.token}/sendMessage"
        body = json.dumps({"chat_id": address, "text": notice.body,
                           "disable_web_page_preview": True}, ensure_ascii=False).encode()
        answer = _post(url, body, {}, self.cfg.timeout_s)
        if not (isinstance(answer, dict) and answer.get("ok") is True):
            raise ChannelError(f"{_safe(url)}: the Bot API did not answer ok")
