"""Fixtures of the dashboard tests: one hub store with a real ledger's rows per module."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Starlette's test client still works on httpx; the warning names a successor not needed here.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from dash_helpers import Dash, make_dash  # noqa: E402  (after the filter above)


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    d = make_dash(tmp_path_factory.mktemp("dash"))
    yield d
    d.store.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test, so a fixture can see the test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
