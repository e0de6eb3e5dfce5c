"""Every text a buyer or a seamstress reads, in Spanish (first) and English.

`CATALOGUE` holds the screens: a key gives two lines per language, with `{name}` parameters that
the caller fills with already formatted strings (money, slot ids). Buyer screens (every key not
starting with `svc_`) and the seamstresses' (`svc_*`) fit a 16x2 and a 20x4 display whole once
filled in with amounts up to $99.99, slot ids like B12 and names of up to ten letters; a test
renders every one of them in both languages at both sizes.

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
    # No changer (or it is out of order): said before money goes in, and while credit waits.
    "welcome_no_change": {"es": ("Pague exacto", "No da cambio"),
                          "en": ("Pay exact amount", "No change given")},
    "credit_no_change": {"es": ("Crédito {credit}", "Úselo en {wait}"),
                         "en": ("Credit {credit}", "Use in {wait}")},
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
    "credit_kept": {"es": ("No da cambio", "Sobra: colectivo"),
                    "en": ("No change given", "Unused: to co-op")},
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
    # {minus} {plus} {ok}: the keys that lower, raise and confirm (e.g. A1 A2 B4). The coin
    # return button is "back" everywhere, and OK after a PIN.
    "svc_pin": {"es": ("PIN {entered}", "y Devolución=OK"),
                "en": ("PIN {entered}", "then Return=OK")},
    "svc_pin_wrong": {"es": ("PIN incorrecto", "Quedan {left}"),
                      "en": ("Wrong PIN", "{left} tries left")},
    "svc_locked": {"es": ("Menú bloqueado", "Espere {minutes} min"),
                   "en": ("Menu locked", "Wait {minutes} min")},
    "svc_close": {"es": ("Cierre la puerta", "y gire la llave"),
                  "en": ("Close the door,", "turn the key")},
    "svc_hello": {"es": ("Hola {maker}", "> {item_label}"),
                  "en": ("Hello {maker}", "> {item_label}")},
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
    "svc_fixed": {"es": ("¿{slot} arreglada?", "{ok}=sí {minus}=no"),
                  "en": ("{slot} fixed?", "{ok}=yes {minus}=no")},
    "svc_price": {"es": ("{slot}: {price}", "{minus}- {plus}+ {ok}=OK"),
                  "en": ("{slot}: {price}", "{minus}- {plus}+ {ok}=OK")},
    "svc_price_saved": {"es": ("{slot} {price}", "Precio guardado"),
                        "en": ("{slot} {price}", "Price saved")},
    "svc_price_range": {"es": ("Precio entre", "{low} y {high}"),
                        "en": ("Price between", "{low} to {high}")},
    "svc_refused": {"es": ("No aceptado", "{slot}"), "en": ("Not accepted", "{slot}")},
    "svc_busy": {"es": ("Máquina ocupada", "Espere..."), "en": ("Machine busy", "Please wait")},
    "svc_sales": {"es": ("Hoy {today}", "Mes {month}"),
                  "en": ("Today {today}", "Month {month}")},
    "svc_share": {"es": ("Su parte del mes", "{share}"),
                  "en": ("Your month share", "{share}")},
    "svc_sales_all": {"es": ("Todas hoy {today}", "Mes {month}"),
                      "en": ("All today {today}", "Month {month}")},
    "svc_collect": {"es": ("Contado {counted}", "{minus}- {plus}+ {ok}=OK"),
                    "en": ("Counted {counted}", "{minus}- {plus}+ {ok}=OK")},
    "svc_confirm": {"es": ("{counted} de {expected}", "¿Bien? {ok}=sí"),
                    "en": ("{counted} of {expected}", "Right? {ok}=yes")},
    "svc_collected_exact": {"es": ("Recaudado {counted}", "Cuadra exacto"),
                            "en": ("Collected {counted}", "Exactly right")},
    "svc_collected_short": {"es": ("Recaudado {counted}", "Faltan {amount}"),
                            "en": ("Collected {counted}", "Short {amount}")},
    "svc_collected_over": {"es": ("Recaudado {counted}", "Sobran {amount}"),
                           "en": ("Collected {counted}", "Over {amount}")},
    "svc_test_running": {"es": ("Probando {slot}", "Espere..."),
                         "en": ("Testing {slot}", "Please wait")},
    "svc_test_done": {"es": ("{slot} probada", "{outcome_label}"),
                      "en": ("{slot} tested", "{outcome_label}")},
    "svc_test_fixed": {"es": ("{slot} funciona", "Falla borrada"),
                       "en": ("{slot} works", "Fault cleared")},
    "svc_status_link": {"es": ("{network_label}", "{broker_label}"),
                        "en": ("{network_label}", "{broker_label}")},
    "svc_status_device": {"es": ("Falla {device_label}", "{minus}< {plus}>"),
                          "en": ("Fault {device_label}", "{minus}< {plus}>")},
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
    "stuck_at_home": {"es": "no gira", "en": "motor stuck"},
    "interrupted": {"es": "interrumpida", "en": "interrupted"},
    "fault": {"es": "con falla", "en": "faulty"},
    # devices (a fault on the status screen)
    "coin_acceptor": {"es": "monedero", "en": "coin slot"},
    "changer": {"es": "cambio", "en": "changer"},
    "bill_validator": {"es": "billetes", "en": "bills"},
    "card_reader": {"es": "tarjetas", "en": "cards"},
    "dispenser": {"es": "motores", "en": "motors"},
    "buttons": {"es": "botones", "en": "buttons"},
    "display": {"es": "pantalla", "en": "display"},
    "mqtt": {"es": "conexión", "en": "connection"},
    # links: the network, and the feed to the coordinators (the "central")
    "net_up": {"es": "Red: bien", "en": "Network: ok"},
    "net_down": {"es": "Sin red", "en": "No network"},
    "net_unknown": {"es": "Red: ?", "en": "Network: ?"},
    "feed_up": {"es": "Central: bien", "en": "Feed: ok"},
    "feed_down": {"es": "Sin conexión", "en": "No connection"},
    "feed_off": {"es": "Central: apagada", "en": "Feed: off"},
    "feed_unknown": {"es": "Central: ?", "en": "Feed: ?"},
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
