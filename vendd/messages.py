"""Every text a buyer or a seamstress reads, in Spanish (first) and English.

`CATALOGUE` holds the screens: a key gives two lines per language, with `{name}` parameters that
the caller fills with already formatted strings (money, slot ids). Buyer screens (every key not
starting with `svc_`) must fit a 16x2 display once filled in with prices up to $99.99 and slot
ids like B12; tests render every one of them. Service-menu screens (`svc_*`) are written for
16 columns too, but may be cut by the display layout when a name is long.

`LABELS` holds single words and short phrases (menu items, fault names). A parameter whose
name ends in `_label` carries a label key and is translated when the screen is rendered, so
the pure state machines never choose a language."""

from __future__ import annotations

from typing import Literal

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")

# key -> language -> lines
CATALOGUE: dict[str, dict[Language, tuple[str, ...]]] = {
    # --- buyer ------------------------------------------------------------------------------
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
    "slot_unavailable": {"es": ("{slot} no disp.", "Elija otro"),
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
    "exact_change": {"es": ("Importe exacto", "No hay cambio"),
                     "en": ("Exact change", "only")},
    "bill_returned": {"es": ("Billete devuelto", "No se puede usar"),
                      "en": ("Bill returned", "Cannot use it")},
    # --- the seamstresses' service menu ------------------------------------------------------
    # {minus} {plus} {ok}: the keys that lower, raise and confirm (e.g. A1 A2 B4).
    "svc_pin": {"es": ("PIN {entered}", "{minus}- {plus}+ {ok}=OK"),
                "en": ("PIN {entered}", "{minus}- {plus}+ {ok}=OK")},
    "svc_pin_digits": {"es": ("PIN {entered}", "Teclee su PIN"),
                       "en": ("PIN {entered}", "Type your PIN")},
    "svc_pin_wrong": {"es": ("PIN incorrecto", "Quedan {left}"),
                      "en": ("Wrong PIN", "{left} tries left")},
    "svc_locked": {"es": ("Menú bloqueado", "Espere {minutes} min"),
                   "en": ("Menu locked", "Wait {minutes} min")},
    "svc_hello": {"es": ("{maker}: {item_label}", "{minus}< {plus}> {ok}=OK"),
                  "en": ("{maker}: {item_label}", "{minus}< {plus}> {ok}=OK")},
    "svc_menu": {"es": ("> {item_label}", "{minus}< {plus}> {ok}=OK"),
                 "en": ("> {item_label}", "{minus}< {plus}> {ok}=OK")},
    "svc_pick_slot": {"es": ("{item_label}:", "Pulse la ranura"),
                      "en": ("{item_label}:", "Press the slot")},
    "svc_stock": {"es": ("{slot} {stock}>{target} de {capacity}", "{minus}- {plus}+ {ok}=OK"),
                  "en": ("{slot} {stock}>{target} of {capacity}", "{minus}- {plus}+ {ok}=OK")},
    "svc_stock_saved": {"es": ("{slot}: {target}/{capacity}", "Guardado"),
                        "en": ("{slot}: {target}/{capacity}", "Saved")},
    "svc_stock_max": {"es": ("{slot} caben {capacity}", "No más"),
                      "en": ("{slot} holds {capacity}", "No more")},
    "svc_price": {"es": ("{slot} {before}>{price}", "{minus}- {plus}+ {ok}=OK"),
                  "en": ("{slot} {before}>{price}", "{minus}- {plus}+ {ok}=OK")},
    "svc_price_saved": {"es": ("{slot} {price}", "Precio guardado"),
                        "en": ("{slot} {price}", "Price saved")},
    "svc_price_range": {"es": ("Precio entre", "{low} y {high}"),
                        "en": ("Price between", "{low} and {high}")},
    "svc_refused": {"es": ("No aceptado", "{slot}"), "en": ("Not accepted", "{slot}")},
    "svc_busy": {"es": ("Máquina ocupada", "Espere..."), "en": ("Machine busy", "Please wait")},
    "svc_sales": {"es": ("{maker} hoy {today}", "Desde rec {since}"),
                  "en": ("{maker} today {today}", "Since coll {since}")},
    "svc_sales_none": {"es": ("Sin ventas", "todavía"), "en": ("No sales", "yet")},
    "svc_collect": {"es": ("Caja {expected}", "Contado {counted}"),
                    "en": ("Box {expected}", "Counted {counted}")},
    "svc_collected": {"es": ("Recaudado {counted}", "Diferencia {difference}"),
                      "en": ("Collected {counted}", "Difference {difference}")},
    "svc_test_running": {"es": ("Probando {slot}", "Espere..."),
                         "en": ("Testing {slot}", "Please wait")},
    "svc_test_done": {"es": ("{slot} probado", "{outcome_label}"),
                      "en": ("{slot} tested", "{outcome_label}")},
    "svc_status_link": {"es": ("Red {network_label}", "MQTT {broker_label}"),
                        "en": ("Network {network_label}", "MQTT {broker_label}")},
    "svc_status_device": {"es": ("Falla {device}", "{minus}< {plus}>"),
                          "en": ("Fault {device}", "{minus}< {plus}>")},
    "svc_status_slot": {"es": ("{slot} {fault_label}", "{ok}=borrar falla"),
                        "en": ("{slot} {fault_label}", "{ok}=clear fault")},
    "svc_status_ok": {"es": ("Sin fallas", "Todo en orden"), "en": ("No faults", "All good")},
    "svc_fault_cleared": {"es": ("{slot} reparada", "Falla borrada"),
                          "en": ("{slot} repaired", "Fault cleared")},
}

# label key -> language -> text
LABELS: dict[str, dict[Language, str]] = {
    # menu items
    "restock": {"es": "Reponer", "en": "Restock"},
    "price": {"es": "Precio", "en": "Price"},
    "sales": {"es": "Ventas", "en": "Sales"},
    "collect": {"es": "Recaudar", "en": "Collect cash"},
    "test": {"es": "Probar motor", "en": "Test motor"},
    "status": {"es": "Estado", "en": "Status"},
    "exit": {"es": "Salir", "en": "Exit"},
    # vend outcomes and slot faults
    "delivered": {"es": "Funciona bien", "en": "Works fine"},
    "jammed": {"es": "atascada", "en": "jammed"},
    "no_drop": {"es": "no cayó", "en": "no drop"},
    "stuck_at_home": {"es": "motor no gira", "en": "motor stuck"},
    "interrupted": {"es": "interrumpida", "en": "interrupted"},
    "fault": {"es": "con falla", "en": "faulty"},
    # links
    "up": {"es": "bien", "en": "ok"},
    "down": {"es": "caída", "en": "down"},
    "off": {"es": "apagado", "en": "off"},
    "unknown": {"es": "?", "en": "?"},
}


def label(key: str, language: Language) -> str:
    """A label in `language`; an unknown key is shown as it is (a new fault code)."""
    entry = LABELS.get(key)
    return entry[language] if entry else key


def render(key: str, language: Language, params: dict[str, str] | None = None) -> list[str]:
    lines = CATALOGUE[key][language]
    values = {name: label(value, language) if name.endswith("_label") else value
              for name, value in (params or {}).items()}
    return [line.format(**values) for line in lines]
