"""Fixtures for the MQTT feed tests: one private Mosquitto per test (cheap: ~20 ms to start),
a test CA made once per session, an independent subscriber and a daemon wired to the broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from feed_helpers import MACHINE, PREFIX, Broker, Certs, Feed, make_certs

from vendd.config import Config
from vendd.daemon.app import Daemon


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def broker(tmp_path: Path, certs: Certs) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker", certs)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def feed(broker: Broker) -> Iterator[Feed]:
    f = Feed(broker.port, PREFIX, MACHINE)
    yield f
    f.close()


@pytest.fixture
def start_daemon() -> Iterator[Callable[[Config], Daemon]]:
    started: list[Daemon] = []

    def start(config: Config) -> Daemon:
        daemon = Daemon(config)
        daemon.start()
        started.append(daemon)
        daemon.wait_ready()
        return daemon

    yield start
    for daemon in reversed(started):
        daemon.stop()
