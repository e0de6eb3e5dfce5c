"""Character displays: an HD44780 LCD (16x2 or 20x4) on an I2C backpack through RPLCD (the `pi`
extra, imported only when an LCD is configured), and a console display that logs each screen
(the simulator, a bench without an LCD).

`layout()` fits catalogue lines to the display: accents the LCD's ROM lacks become readable
ASCII (or, on the LCD, custom characters), a line too long keeps its last money amount whole
and shortens the words before it (a buyer always sees the price and the credit), and a 4-row
display gets the two lines in its middle rows."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from vendd.config import DisplayConfig
from vendd.errors import DeviceError
from vendd.hw.base import Post

log = logging.getLogger(__name__)

# What an HD44780 with the common A00 ROM cannot show, as readable ASCII.
ASCII = str.maketrans({
    "á": "a", "é": "e", "í": "i", "ó": "o", "ú": "u", "ü": "u", "ñ": "n",
    "Á": "A", "É": "E", "Í": "I", "Ó": "O", "Ú": "U", "Ü": "U", "Ñ": "N",
    "¿": "", "¡": "", "€": "E", "—": "-", "–": "-", "…": "...",
})

# 5x8 bitmaps for the eight custom character slots of an HD44780: Spanish lower case.
CUSTOM_CHARS: dict[str, tuple[int, ...]] = {
    "á": (0b00010, 0b00100, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0),
    "é": (0b00010, 0b00100, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0),
    "í": (0b00010, 0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0),
    "ó": (0b00010, 0b00100, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0),
    "ú": (0b00010, 0b00100, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0),
    "ñ": (0b01101, 0b10010, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0),
    "¡": (0b00100, 0, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0),
    "¿": (0b00100, 0, 0b00100, 0b01000, 0b10000, 0b10001, 0b01110, 0),
}
CUSTOM = str.maketrans({ch: chr(i) for i, ch in enumerate(CUSTOM_CHARS)})

_MONEY = re.compile(r"^-?(?:S/|R\$|Bs|[$€£¥])?-?\d[\d,]*(?:\.\d+)?$")


def to_ascii(text: str) -> str:
    return text.translate(ASCII)


def fit_line(line: str, cols: int) -> str:
    """Cut `line` to `cols`, keeping a trailing amount ("Crédito $12.50") whole."""
    if len(line) <= cols:
        return line
    words = line.rsplit(" ", 1)
    if len(words) == 2 and _MONEY.match(words[1]) and len(words[1]) < cols:
        amount = words[1]
        return words[0][: cols - len(amount) - 1].rstrip() + " " + amount
    return line[:cols]


def layout(lines: list[str], cols: int, rows: int, charmap: Callable[[str], str] = to_ascii,
           ) -> list[str]:
    """Exactly `rows` lines of exactly `cols` characters."""
    mapped = [fit_line(charmap(line), cols) for line in lines][:rows]
    top = (rows - len(mapped)) // 2 if rows > 2 else 0
    out = [""] * top + mapped
    out += [""] * (rows - len(out))
    return [line.ljust(cols) for line in out]


class ConsoleDisplay:
    """Logs each new screen (and hands it to `on_show`): the display of a bench or the
    simulator. `lines` holds the catalogue text as shown, accents and all."""

    def __init__(self, name: str, config: DisplayConfig,
                 write: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.cols, self.rows = config.cols, config.rows
        self.lines: list[str] = []
        self.on_show: Callable[[list[str]], None] | None = None
        self._write = write

    def start(self, post: Post) -> None:
        pass

    def stop(self) -> None:
        pass

    def show(self, lines: list[str]) -> None:
        self.lines = list(lines)
        screen = layout(lines, self.cols, self.rows, charmap=lambda s: s)
        text = " | ".join(line.rstrip() for line in screen)
        if self._write is not None:
            self._write(text)
        else:
            log.info("display: %s", text)
        if self.on_show is not None:
            self.on_show(self.lines)


class LcdDisplay:
    """An HD44780 on a PCF8574 I2C backpack. Writes take a few milliseconds on the bus, so
    they run on the controller thread; a bus error is a DeviceError (the controller logs it)
    and the next screen tries again."""

    def __init__(self, name: str, config: DisplayConfig,
                 lcd_factory: Callable[..., Any] | None = None) -> None:
        self.name = name
        self.config = config
        self.lines: list[str] = []
        self._lcd: Any = None
        self._factory = lcd_factory
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._factory is None:
            try:
                from RPLCD.i2c import CharLCD  # the `pi` extra
            except ImportError as exc:
                raise DeviceError(
                    "display: the LCD needs RPLCD and smbus2 (pip install 'vendd[pi]')"
                ) from exc
            self._factory = CharLCD
        c = self.config
        lcd = self._factory(i2c_expander="PCF8574", address=c.i2c_address, port=c.i2c_port,
                            cols=c.cols, rows=c.rows, charmap="A00", auto_linebreaks=False)
        for slot, bitmap in enumerate(CUSTOM_CHARS.values()):
            lcd.create_char(slot, bitmap)
        return lcd

    def start(self, post: Post) -> None:
        with self._lock:
            try:
                self._lcd = self._open()
                self._lcd.clear()
            except OSError as exc:
                raise DeviceError(f"display: no LCD at I2C {self.config.i2c_address:#x} "
                                  f"on bus {self.config.i2c_port}: {exc}") from exc

    def stop(self) -> None:
        with self._lock:
            if self._lcd is not None:
                try:
                    self._lcd.close(clear=True)
                except OSError as exc:
                    log.warning("display: close failed: %s", exc)
                self._lcd = None

    def show(self, lines: list[str]) -> None:
        self.lines = list(lines)
        screen = layout(lines, self.config.cols, self.config.rows, charmap=lcd_text)
        with self._lock:
            if self._lcd is None:
                return
            try:
                for row, text in enumerate(screen):
                    self._lcd.cursor_pos = (row, 0)
                    self._lcd.write_string(text)
            except OSError as exc:
                raise DeviceError(f"display: write failed: {exc}") from exc


def lcd_text(text: str) -> str:
    """Lower-case accents and ¡ ¿ as the custom characters, the rest as ASCII."""
    return text.translate(CUSTOM).translate(ASCII)
