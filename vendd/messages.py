"""Every text a buyer or a seamstress reads, in Spanish (first) and English.

Buyer messages are two lines that must fit a 16x2 display once their parameters are filled
in (prices up to $99.99); tests render every one of them."""

from __future__ import annotations

from typing import Literal

Language = Literal["es", "en"]

# key -> language -> lines
CATALOGUE: dict[str, dict[Language, tuple[str, ...]]] = {
    "welcome": {"es": ("Bienvenida/o", "Inserte monedas"), "en": ("Welcome", "Insert coins")},
    "credit": {"es": ("Crédito {credit}", "Elija producto"),
               "en": ("Credit {credit}", "Make a choice")},
    "max_credit": {"es": ("Crédito {credit}", "Máximo: elija"),
                   "en": ("Credit {credit}", "Max: choose now")},
    "price": {"es": ("{slot} cuesta", "{price}"), "en": ("{slot} costs", "{price}")},
    "insert_more": {"es": ("{slot} {price}", "Crédito {credit}"),
                    "en": ("{slot} {price}", "Credit {credit}")},
    "sold_out": {"es": ("{slot} agotado", "Elija otro"),
                 "en": ("{slot} sold out", "Choose another")},
    "slot_unavailable": {"es": ("{slot} no disponible", "Elija otro"),
                         "en": ("{slot} unavailable", "Choose another")},
    "unknown_slot": {"es": ("No existe {slot}", "Elija otro"),
                     "en": ("No slot {slot}", "Choose another")},
    "vending": {"es": ("Entregando {slot}", "Espere..."), "en": ("Vending {slot}", "Please wait")},
    "thanks": {"es": ("¡Gracias!", "Retire su compra"), "en": ("Thank you!", "Take your item")},
    "vend_failed": {"es": ("Falla en {slot}", "Crédito devuelto"),
                    "en": ("{slot} failed", "Credit restored")},
    "credit_kept": {"es": ("Sin cambio", "Crédito {credit}"),
                    "en": ("No change given", "Credit {credit}")},
    "credit_expired": {"es": ("Crédito no usado", "va al colectivo"),
                       "en": ("Unused credit", "to collective")},
    "paying_out": {"es": ("Devolviendo", "{amount}"), "en": ("Paying out", "{amount}")},
    "owed": {"es": ("Le debemos", "{amount} avise"), "en": ("We owe you", "{amount} ask staff")},
    "out_of_service": {"es": ("Fuera de", "servicio"), "en": ("Out of", "service")},
    "out_of_service_credit": {"es": ("Fuera servicio", "Crédito {credit}"),
                              "en": ("Out of service", "Credit {credit}")},
    "service": {"es": ("Modo servicio", ""), "en": ("Service mode", "")},
    "card_ready": {"es": ("Tarjeta lista", "Elija producto"),
                   "en": ("Card ready", "Make a choice")},
    "card_wait": {"es": ("Tarjeta: {price}", "Espere..."), "en": ("Card: {price}", "Please wait")},
    "card_denied": {"es": ("Tarjeta", "rechazada"), "en": ("Card", "declined")},
}


def render(key: str, language: Language, params: dict[str, str] | None = None) -> list[str]:
    lines = CATALOGUE[key][language]
    return [line.format(**(params or {})) for line in lines]
