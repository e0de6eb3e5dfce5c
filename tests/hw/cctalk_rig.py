"""What the ccTalk driver tests share: the simulated acceptor's coin table, a `post` that
collects events, and a driver config that matches a simulated acceptor."""

from __future__ import annotations

import threading

from simulator.cctalk_peer import SimCctalkAcceptor
from vendd.config import CctalkConfig, CoinConfig
from vendd.events import CreditInserted, DeviceFault, Event

COINS = {1: (5, "5c"), 2: (10, "10c"), 3: (25, "25c"), 4: (100, "$1")}
CONFIGURED = [1, 2, 3]  # position 4 exists in the acceptor but not in the daemon's table


class Events:
    """A list-collecting `post`."""

    def __init__(self) -> None:
        self.items: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.items.append(event)

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.items if isinstance(e, kind)]

    def faults(self, code: str) -> list[DeviceFault]:
        return [f for f in self.of(DeviceFault) if f.code == code]

    def credits(self) -> list[int]:
        return [e.amount for e in self.of(CreditInserted)]


def config_for(sim: SimCctalkAcceptor, **over: object) -> CctalkConfig:
    fields: dict[str, object] = {
        "kind": "cctalk",
        "port": sim.port,
        "echo": sim.echo,
        "checksum": sim.checksum,
        "poll_interval_ms": 20,
        "reply_timeout_ms": 30,
        "late_reply_ms": 60,
        "retries": 2,
        "coins": [CoinConfig(value=COINS[p][0], label=COINS[p][1], position=p) for p in CONFIGURED],
    }
    fields.update(over)
    return CctalkConfig(**fields)
