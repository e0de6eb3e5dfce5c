"""`vendd wiring`: the pin table for the person holding the screwdriver, from the config.

Every GPIO the config uses, with its BCM number, its pin on the 40-pin header, and what it
connects to; then the serial and I2C connections. Pins are listed in header order so they can
be ticked off one by one along the connector."""

from __future__ import annotations

from typing import TextIO

from vendd.config import Config, pin_table
from vendd.menu.pins import key_digits

# BCM GPIO number -> physical pin on the 40-pin header (every Pi with 40 pins, Pi 5 included).
HEADER: dict[int, int] = {
    2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16, 24: 18, 10: 19,
    9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 0: 27, 1: 28, 5: 29, 6: 31, 12: 32, 13: 33, 19: 35,
    16: 36, 26: 37, 20: 38, 21: 40,
}
GROUND_PINS = (6, 9, 14, 20, 25, 30, 34, 39)

# Pins with a second job worth a warning.
SPECIAL: dict[int, str] = {
    0: "ID EEPROM (ID_SD): better left free",
    1: "ID EEPROM (ID_SC): better left free",
    2: "I2C SDA (the LCD backpack)",
    3: "I2C SCL (the LCD backpack)",
    14: "UART TXD (serial0)",
    15: "UART RXD (serial0)",
}


def describe(option: str, config: Config) -> str:
    """What the pin of a dotted option connects to, in the installer's words."""
    parts = option.split(".")
    section, key = parts[0], parts[1]
    name = parts[2] if len(parts) > 2 else ""
    if section == "dispenser":
        level = "high" if getattr(config.dispenser, "active_high", True) else "low"
        drop_low = getattr(config.dispenser, "drop_sensor_active_low", True)
        return {
            "motors": f"motor {name}: driver input (output, {level} = motor on)",
            "rows": f"motor row {name}: driver input (output, {level} = on)",
            "columns": f"motor column {name}: driver input (output, {level} = on)",
            "home_pins": f"home switch {name}: other side to GND (input, pull-up)",
            "home_pin": "home switches, shared line: to GND when home (input, pull-up)",
            "drop_sensor_pin": "drop sensor output (input, "
            + ("pull-up, low = beam blocked)" if drop_low else "pull-down, high = beam blocked)"),
        }.get(key, option)
    if section == "buttons":
        return {
            "selection": f"button {name}: other side to GND (input, pull-up)",
            "rows": f"keypad row {name} (output, low while scanned)",
            "columns": f"keypad column {name} (input, pull-up)",
            "cancel_pin": "cancel / coin return button: other side to GND (input, pull-up)",
            "service_key_pin": "service key switch: other side to GND (input, pull-up)",
        }.get(key, option)
    if section == "coin_acceptor":
        high = getattr(config.coin_acceptor, "inhibit_active_high", True)
        pull = "10k pull-up to 3.3 V" if high else "10k pull-down to GND"
        return {
            "pin": "coin acceptor pulse output, open collector (input, pull-up)",
            "inhibit_pin": f"coin acceptor inhibit input (output, {'high' if high else 'low'}"
            f" = inhibit); {pull} so it inhibits while the daemon is down",
        }.get(key, option)
    return option


def wiring(config: Config, out: TextIO) -> int:
    """Print the wiring table; 1 when a pin is not on the 40-pin header (never, for a valid
    config) so a script can tell."""
    rows = [(HEADER.get(bcm), bcm, option) for bcm, option in pin_table(config)]
    rows.sort(key=lambda r: (r[0] is None, r[0] or 0, r[1]))
    out.write(f"vendd wiring: {config.machine.id} ({config.machine.name})\n\n")
    missing = False
    if rows:
        out.write(f"{'HEADER':<6}  {'BCM':<7}  {'OPTION':<30}  CONNECTS TO\n")
        for header, bcm, option in rows:
            missing |= header is None
            where = "?" if header is None else str(header)
            note = f"  [also {SPECIAL[bcm]}]" if bcm in SPECIAL else ""
            out.write(f"{where:<6}  GPIO{bcm:<3}  {option:<30}  {describe(option, config)}"
                      f"{note}\n")
        out.write(f"\nGround: header pins {', '.join(map(str, GROUND_PINS))}. "
                  "Inputs take 3.3 V at most: never 5 V or 12 V on a GPIO pin.\n")
    else:
        out.write("No GPIO pins are used by this config.\n")
    out.write("\nLabel for the selection buttons (the service-menu PIN is typed on them, one "
              "press per digit, then the coin-return button):\n")
    out.write("  " + "   ".join(f"{key} = {digits}" for key, digits in
                               key_digits([s.id for s in config.slots])) + "\n")
    other = _other_connections(config)
    if other:
        out.write("\nOther connections:\n")
        for line in other:
            out.write(f"  {line}\n")
    return 1 if missing else 0


def _other_connections(config: Config) -> list[str]:
    lines = []
    ca = config.coin_acceptor
    if ca is not None and ca.kind == "cctalk":
        lines.append(f"coin acceptor (ccTalk, {ca.baud} baud, address {ca.address}): "
                     f"serial port {ca.port}")
    mdb = config.mdb
    if mdb is not None and mdb.link == "uart":
        lines.append(f"MDB interface board (never the bus itself): {mdb.port}, TXD header pin 8, "
                     "RXD pin 10, GND pin 6")
    elif mdb is not None and mdb.link == "bridge":
        lines.append(f"MDB adapter (USB): serial port {mdb.port}")
    d = config.display
    if d.kind == "lcd":
        # A backpack powered from 5 V pulls SDA/SCL up to 5 V, more than the Pi's pins take.
        lines.append(f"display ({d.cols}x{d.rows} LCD): I2C bus {d.i2c_port} address "
                     f"{d.i2c_address:#04x}, SDA header pin 3, SCL header pin 5, GND pin 6; "
                     "power from 3.3 V (pin 1), or from 5 V (pin 2) only through an I2C level "
                     "shifter (a 5 V backpack's pull-ups would put 5 V on SDA/SCL)")
    return lines
