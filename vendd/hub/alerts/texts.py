"""The alerts' texts, Spanish (the default) and English: one short line per rule, fit for a
phone's notification, with `{name}` parameters filled by `render`. A notice is the rule's line
after its prefix (`new`, `reminder`, `resolved`); the Alertas page uses the same lines."""

from __future__ import annotations

from typing import Any, Literal

Language = Literal["es", "en"]

RULES: dict[str, dict[Language, str]] = {
    "offline": {"es": "{machine} sin conexión hace {minutes} min",
                "en": "{machine} offline for {minutes} min"},
    "slot_empty": {"es": "{machine} {slot} agotado: {product}",
                   "en": "{machine} {slot} empty: {product}"},
    "slot_low": {"es": "{machine} {slot} quedan {stock}: {product}",
                 "en": "{machine} {slot} {stock} left: {product}"},
    "jam": {"es": "{machine} {slot} atascado ({fault})",
            "en": "{machine} {slot} jammed ({fault})"},
    "device_fault": {"es": "{machine} falla en {device}", "en": "{machine} {device} fault"},
    "cash_box": {"es": "{machine} caja al {percent}%: vaciar",
                 "en": "{machine} cash box {percent}% full"},
    "no_sale": {"es": "{machine} sin ventas hace {hours} h abiertas",
                "en": "{machine} no sale in {hours} open hours"},
    "owed": {"es": "{machine} se debe {amount} a un comprador",
             "en": "{machine} {amount} owed to a buyer"},
    "lost_coins": {"es": "{machine} monedas perdidas en {device}",
                   "en": "{machine} lost coin events on {device}"},
    "gap": {"es": "{machine} faltan filas {first}-{last} hace {minutes} min",
            "en": "{machine} rows {first}-{last} missing for {minutes} min"},
    "integrity": {"es": "{machine} ALARMA de integridad ({alarm}, fila {seq})",
                  "en": "{machine} integrity ALARM ({alarm}, row {seq})"},
}

NOTICES: dict[str, dict[Language, str]] = {
    "opened": {"es": "Alerta: ", "en": "Alert: "},
    "reminder": {"es": "Sigue: ", "en": "Still: "},
    "resolved": {"es": "Resuelto: ", "en": "Resolved: "},
}

WORDS: dict[str, dict[Language, str]] = {
    "ack_link": {"es": "Confirmar: {link}", "en": "Acknowledge: {link}"},
    "subject": {"es": "[vendd] {text}", "en": "[vendd] {text}"},
    "banner": {"es": "{count} alertas abiertas", "en": "{count} open alerts"},
    "banner_one": {"es": "Alerta: {text}", "en": "Alert: {text}"},
    "channel_failing": {"es": "Canal {channel} falla: {error}",
                        "en": "Channel {channel} failing: {error}"},
}


def line(rule: str, language: Language, params: dict[str, Any]) -> str:
    """The rule's line; a parameter it names and the alert lacks shows as '?'."""
    template = RULES.get(rule, {"es": "{machine} " + rule, "en": "{machine} " + rule})[language]
    return template.format_map(_Lenient({k: str(v) for k, v in params.items()}))


def notice(kind: str, rule: str, language: Language, params: dict[str, Any]) -> str:
    return NOTICES[kind][language] + line(rule, language, params)


def word(key: str, language: Language, **params: Any) -> str:
    return WORDS[key][language].format(**params)


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


# The Alertas page and the acknowledge page.
PAGE: dict[str, dict[Language, str]] = {
    "title": {"es": "Alertas", "en": "Alerts"},
    "open": {"es": "Abiertas", "en": "Open"},
    "closed": {"es": "Cerradas", "en": "Closed"},
    "none_open": {"es": "Ninguna alerta abierta.", "en": "No open alerts."},
    "opened_at": {"es": "Abierta", "en": "Opened"},
    "notices": {"es": "Avisos", "en": "Notices"},
    "acked": {"es": "Vista por {who} {when}", "en": "Seen by {who} {when}"},
    "ack": {"es": "Enterada", "en": "Acknowledge"},
    "closed_by": {"es": "Cerrada {when} ({who})", "en": "Closed {when} ({who})"},
    "by_condition": {"es": "se resolvió", "en": "resolved"},
    "history": {"es": "Historial", "en": "History"},
    "channels": {"es": "Canales con fallas", "en": "Failing channels"},
    "channel_row": {"es": "{channel} a {person}: {error} ({attempts} intentos)",
                    "en": "{channel} to {person}: {error} ({attempts} tries)"},
    "ack_title": {"es": "Confirmar alerta", "en": "Acknowledge alert"},
    "ack_done": {"es": "Alerta confirmada. No se enviarán más recordatorios.",
                 "en": "Alert acknowledged. No more reminders will be sent."},
    "ack_gone": {"es": "Esta alerta ya estaba confirmada o cerrada.",
                 "en": "This alert was already acknowledged or closed."},
    "ack_bad": {"es": "Enlace no válido.", "en": "Invalid link."},
    "opened": {"es": "abierta", "en": "opened"},
    "notified": {"es": "aviso", "en": "notice"},
    "acknowledged": {"es": "vista", "en": "acknowledged"},
    "resolved": {"es": "cerrada", "en": "closed"},
}


def page_text(key: str, language: Language, **params: Any) -> str:
    text = PAGE[key][language]
    return text.format(**params) if params else text
