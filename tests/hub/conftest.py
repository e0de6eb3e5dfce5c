"""Fixtures of the hub tests: every test that takes `store_url` runs on SQLite and on a real
PostgreSQL (a throwaway cluster on loopback, one per session, a fresh database per test), with
a private Mosquitto (persistence on, so a restart keeps sessions) per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "telemetry"))

from feed_helpers import Broker

from simulator.postgres import PgCluster


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return request.getfixturevalue("pg").new_database()


@pytest.fixture
def postgres_url(pg: PgCluster) -> str:
    return pg.new_database()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker", None)
    b.start()
    yield b
    b.stop()
