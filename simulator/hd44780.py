"""A simulated HD44780 character LCD, in place of RPLCD's `CharLCD` on an I2C backpack.

It has the controller's memories: 80 bytes of display RAM addressed as the chip does (line 1
at 0x00, line 2 at 0x40, and on a 20x4 lines 3 and 4 continue lines 1 and 2 at 0x14 and
0x54), 8 custom characters in character RAM, and an address counter that moves one cell per
character written, so text longer than a line runs on where the chip would put it, not where
one would wish. `screen()` reads back the visible cells, custom characters shown as the
character they were made for (`glyphs`)."""

from __future__ import annotations

from typing import Any

from vendd.hw.display import CUSTOM_CHARS

LINE_START = (0x00, 0x40, 0x14, 0x54)


class SimCharLcd:
    """The surface of `RPLCD.i2c.CharLCD` the display driver uses."""

    def __init__(self, *, cols: int, rows: int, address: int = 0x27, port: int = 1,
                 **_settings: Any) -> None:
        if (cols, rows) not in ((16, 2), (20, 4), (16, 4), (20, 2)):
            raise OSError(f"no {cols}x{rows} HD44780 at {address:#x} on bus {port}")
        self.cols, self.rows = cols, rows
        self.address, self.port = address, port
        self.ddram = bytearray(b" " * 0x80)
        self.cgram: dict[int, tuple[int, ...]] = {}
        self.glyphs: dict[int, str] = {}
        self._ac = 0  # the address counter
        self.closed = False

    def create_char(self, location: int, bitmap: tuple[int, ...]) -> None:
        if not 0 <= location < 8 or len(bitmap) != 8:
            raise ValueError("a custom character is 8 rows in one of 8 places")
        self.cgram[location] = tuple(bitmap)
        made_for = next((ch for ch, bits in CUSTOM_CHARS.items() if tuple(bits) == bitmap), "?")
        self.glyphs[location] = made_for

    def clear(self) -> None:
        self.ddram[:] = b" " * 0x80
        self._ac = 0

    @property
    def cursor_pos(self) -> tuple[int, int]:
        for row in range(self.rows):
            start = LINE_START[row]
            if start <= self._ac < start + self.cols:
                return row, self._ac - start
        return 0, 0

    @cursor_pos.setter
    def cursor_pos(self, pos: tuple[int, int]) -> None:
        row, col = pos
        self._ac = (LINE_START[row] + col) & 0x7F

    def write_string(self, text: str) -> None:
        for ch in text:
            code = ord(ch)
            if code > 0xFF:
                code = ord("?")  # outside the A00 ROM
            self.ddram[self._ac] = code
            self._ac = (self._ac + 1) & 0x7F

    def close(self, clear: bool = False) -> None:
        if clear:
            self.clear()
        self.closed = True

    def screen(self) -> list[str]:
        """The visible lines, as a person reads them."""
        out = []
        for row in range(self.rows):
            start = LINE_START[row]
            cells = self.ddram[start:start + self.cols]
            out.append("".join(self.glyphs.get(c, chr(c)) if c < 8 else chr(c) for c in cells))
        return out


class SimLcdFactory:
    """Makes the LCD the way `CharLCD(...)` is called, and keeps it for whoever looks."""

    def __init__(self) -> None:
        self.lcd: SimCharLcd | None = None

    def __call__(self, **settings: Any) -> SimCharLcd:
        self.lcd = SimCharLcd(**settings)
        return self.lcd
