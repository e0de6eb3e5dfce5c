"""vendd: the controller daemon of a community-owned vending machine."""

import sys

__version__ = "0.1.0"


def _import_sqlite_utils_light() -> None:
    """sqlite-utils imports numpy and pandas whenever they are installed, only to map their column
    types, which vendd never writes. On the Pi that is ~18 MB of the daemon's memory for nothing
    (the charts extra installs numpy). Import it once here, before any module of ours does, with
    both hidden; a later `import numpy` (the charts) still works."""
    if "sqlite_utils" in sys.modules:
        return
    hidden = {name: sys.modules.get(name) for name in ("numpy", "pandas")}
    for name, module in hidden.items():
        if module is None:
            sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name, module in hidden.items():
            if module is None:
                del sys.modules[name]


_import_sqlite_utils_light()
