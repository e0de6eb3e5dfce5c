"""Fixtures shared by every test: the sim config on a temp ledger, a daemon on virtual
devices. Plain helpers live in support.py (a unique module name: several conftest.py exist)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import settings
from support import sim_config

from simulator.held_pin import HeldPin
from vendd.config import Config
from vendd.daemon.app import Daemon

# In CI the property tests run the same examples every time (a failure there is replayable);
# on a developer's machine they explore new ones on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    # The chaos test's random seed is drawn once, here, so that every xdist worker (they inherit
    # this process's environment) collects the same test ids.
    if not hasattr(config, "workerinput"):
        os.environ.setdefault("CHAOS_SEED", str(random.SystemRandom().randrange(1, 10**6)))


_CHAOS_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _CHAOS_SUMMARIES.extend(str(v) for k, v in report.user_properties if k == "chaos_summary")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The chaos test's summary lines (seed, kills, the four counts), whatever the outcome."""
    if _CHAOS_SUMMARIES:
        terminalreporter.section("chaos")
        for line in _CHAOS_SUMMARIES:
            terminalreporter.write_line(line)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return sim_config(tmp_path)


@pytest.fixture
def daemon(config: Config) -> Iterator[Daemon]:
    d = Daemon(config)
    d.start()
    d.wait_ready()
    yield d
    d.stop()


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """gpiozero's mock pins, closed afterwards so the next test can claim the same pins."""
    f = MockFactory(pin_class=HeldPin)  # a cabinet's switches hold their lines
    yield f
    f.reset()
    f.close()
