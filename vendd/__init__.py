"""vendd: the controller daemon of a community-owned vending machine."""

from vendd._sqlite_utils_light import install as _install_sqlite_utils_light

__version__ = "0.1.0"

_install_sqlite_utils_light()
