"""The seamstresses' button menu: pure like the vend machine (see `state` for how it works).

`state` holds the types and `Turn`, `screens` what the display shows, `keys` the key handling per
screen and the answers, `core` the `handle` function, `pins` the PIN pad. What the controller
reads from the ledger and the system for the menu is `vendd.daemon.menu_view`."""

from vendd.menu.core import handle, initial, is_menu_timer, wants
from vendd.menu.keys import BIG_STEP, KEYS
from vendd.menu.screens import sales_pages, screen_of, status_pages
from vendd.menu.state import (
    CLOSE,
    COLLECT,
    CONFIRM,
    FIXED,
    IDLE,
    ITEMS,
    LOCK,
    LOCKED,
    MAIN,
    NO_PIN_ACTOR,
    NOTE,
    OFF,
    PICK,
    PIN,
    PRICE,
    SALES,
    STATUS,
    STOCK,
    TESTING,
    Answer,
    Enter,
    Leave,
    MakerSales,
    MenuSettings,
    MenuState,
    PinRecord,
    Record,
    Refresh,
    Screen,
    Submit,
    TestDone,
    Turn,
    View,
)

__all__ = [
    "BIG_STEP", "CLOSE", "COLLECT", "CONFIRM", "FIXED", "IDLE", "ITEMS", "KEYS", "LOCK",
    "LOCKED", "MAIN", "NOTE",
    "NO_PIN_ACTOR", "OFF", "PICK", "PIN", "PRICE", "SALES", "STATUS", "STOCK", "TESTING",
    "Answer", "Enter", "Leave", "MakerSales", "MenuSettings", "MenuState", "PinRecord",
    "Record", "Refresh", "Screen", "Submit", "TestDone", "Turn", "View", "handle", "initial",
    "is_menu_timer", "sales_pages", "screen_of", "status_pages", "wants",
]
