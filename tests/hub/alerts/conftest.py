"""Fixtures of the alert tests: the hub tests' broker (tests/hub/conftest.py), their helpers
and the dashboard tests' browser tools on the path, and each phase's report kept on the test
so the browser fixture can take screenshots when it failed."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent, HERE.parent / "dashboard"):
    sys.path.insert(0, str(folder))
# Starlette's test client still works on httpx; the warning names a successor not needed here.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
import starlette.testclient  # noqa: E402,F401  (imported once, under the filter above)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
