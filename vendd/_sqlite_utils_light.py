"""sqlite-utils imports numpy and pandas whenever they are installed, only to map their column
types, which vendd never writes. On the Pi that is ~18 MB of the daemon's memory for nothing (the
charts extra installs numpy). `install()` puts a finder first on `sys.meta_path` that lets
sqlite-utils load with both hidden; a later `import numpy` (the charts) works as usual."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

_HIDDEN = ("numpy", "pandas")


class _HidingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        absent = [name for name in _HIDDEN if name not in sys.modules]
        for name in absent:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` now fails
        try:
            self._loader.exec_module(module)
        finally:
            for name in absent:
                sys.modules.pop(name, None)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "sqlite_utils.db":
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _HidingLoader(spec.loader)
                return spec
        return None


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
