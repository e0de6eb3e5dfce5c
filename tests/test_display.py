"""Display layout, the console display, and the LCD driver against a fake RPLCD."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import sim_config

from vendd.config import DisplayConfig
from vendd.errors import DeviceError
from vendd.hw.display import (
    CUSTOM_CHARS,
    ConsoleDisplay,
    LcdDisplay,
    fit_line,
    layout,
    lcd_text,
    to_ascii,
)
from vendd.hw.factory import build_devices


def test_accents_become_readable_ascii() -> None:
    assert to_ascii("¡Gracias! ¿Crédito? Muñeca Lucía Guamán") == \
        "Gracias! Credito? Muneca Lucia Guaman"
    assert to_ascii("ÁÉÍÓÚÑ") == "AEIOUN"


def test_lcd_uses_custom_characters_for_spanish_letters() -> None:
    assert lcd_text("¡Sí, año!") == "\x06S\x02, a\x05o!"
    assert len(CUSTOM_CHARS) == 8  # all an HD44780 has
    assert all(len(bitmap) == 8 for bitmap in CUSTOM_CHARS.values())


def test_a_long_line_keeps_its_amount_whole() -> None:
    assert fit_line("Crédito restante $99.99", 16) == "Crédito r $99.99"
    assert fit_line("Servilletas bordadas $12.00", 16) == "Servillet $12.00"
    assert fit_line("Recaudado -$1.10", 12) == "Recau -$1.10"
    assert fit_line("no amount in this long line", 16) == "no amount in thi"
    assert fit_line("short", 16) == "short"


def test_layout_pads_to_the_display_and_centres_on_four_rows() -> None:
    assert layout(["Crédito $1.00", "Elija"], 16, 2) == ["Credito $1.00   ", "Elija" + " " * 11]
    four = layout(["Hola", "Chao"], 20, 4)
    assert [line.strip() for line in four] == ["", "Hola", "Chao", ""]
    assert all(len(line) == 20 for line in four)


class FakeLcd:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.chars: dict[int, tuple[int, ...]] = {}
        self.rows: dict[int, str] = {}
        self.cursor_pos = (0, 0)
        self.closed = False

    def create_char(self, location: int, bitmap: tuple[int, ...]) -> None:
        self.chars[location] = bitmap

    def clear(self) -> None:
        self.rows.clear()

    def write_string(self, text: str) -> None:
        self.rows[self.cursor_pos[0]] = text

    def close(self, clear: bool = False) -> None:
        self.closed = True


def test_lcd_driver_writes_each_row_with_custom_characters() -> None:
    made: list[FakeLcd] = []

    def factory(**kwargs: Any) -> FakeLcd:
        made.append(FakeLcd(**kwargs))
        return made[-1]

    lcd = LcdDisplay("display", DisplayConfig(kind="lcd", cols=20, rows=4, i2c_address=0x3F),
                     lcd_factory=factory)
    lcd.start(lambda event: None)
    fake = made[0]
    assert fake.kwargs == {"i2c_expander": "PCF8574", "address": 0x3F, "port": 1, "cols": 20,
                           "rows": 4, "charmap": "A00", "auto_linebreaks": False}
    assert sorted(fake.chars) == list(range(8))
    lcd.show(["¡Gracias!", "Retire su compra"])
    assert fake.rows == {0: " " * 20, 1: "\x06Gracias!".ljust(20),
                         2: "Retire su compra".ljust(20), 3: " " * 20}
    lcd.stop()
    assert fake.closed


def test_lcd_bus_errors_are_device_errors() -> None:
    class Broken(FakeLcd):
        def write_string(self, text: str) -> None:
            raise OSError(121, "Remote I/O error")

    lcd = LcdDisplay("display", DisplayConfig(kind="lcd"), lcd_factory=Broken)
    lcd.start(lambda event: None)
    with pytest.raises(DeviceError, match="write failed"):
        lcd.show(["x"])


def test_lcd_without_rplcd_says_what_to_install() -> None:
    try:
        import RPLCD  # noqa: F401
    except ImportError:
        lcd = LcdDisplay("display", DisplayConfig(kind="lcd"))
        with pytest.raises(DeviceError, match=r"vendd\[pi\]"):
            lcd.start(lambda event: None)


def test_console_display_writes_the_laid_out_screen() -> None:
    written: list[str] = []
    console = ConsoleDisplay("display", DisplayConfig(kind="console"), write=written.append)
    console.show(["Crédito $1.25", "Elija producto"])
    assert written == ["Crédito $1.25 | Elija producto"]
    assert console.lines == ["Crédito $1.25", "Elija producto"]


def test_factory_builds_console_and_lcd_displays(tmp_path: Path) -> None:
    console = build_devices(sim_config(tmp_path, display={"kind": "console"})).display
    assert isinstance(console, ConsoleDisplay)
    lcd = build_devices(sim_config(tmp_path, display={"kind": "lcd", "cols": 20, "rows": 4}))
    assert isinstance(lcd.display, LcdDisplay)
