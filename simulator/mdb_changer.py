"""A simulated MDB coin changer (08) with tubes; faults: `jam_at`, `empty_tube()`."""

from __future__ import annotations

import time
from collections.abc import Callable

from simulator.mdb_device import SimDevice
from vendd.hw.mdb import codec


class SimChanger(SimDevice):
    """Coin types: value in cents per type; tubes for the routable types."""

    address = codec.CHANGER

    def __init__(self, coins: dict[int, int] | None = None, tubes: dict[int, int] | None = None,
                 scaling: int = 5, coin_s: float = 0.002) -> None:
        super().__init__()
        self.coins = coins or {0: 5, 1: 10, 2: 25, 3: 100}
        self.scaling = scaling
        self.routing = {0, 1, 2}
        self.tubes = dict(tubes if tubes is not None else {0: 20, 1: 20, 2: 20})
        self.capacity = 60
        self.coin_s = coin_s
        self.enabled = 0
        self.jam_at: int | None = None
        self._paying: list[int] = []  # coin types still to come out
        self._next_coin = 0.0
        self.paid_out: list[int] = []  # values of coins that came out, in order
        self.cash_box: list[int] = []
        self.in_tubes: list[int] = []
        self.on_coin: Callable[[int], None] | None = None
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.enabled = 0
        self._paying = []
        self.activity.append(b"\x0b")  # just reset

    def type_of(self, value: int) -> int:
        return next(t for t, v in self.coins.items() if v == value)

    def insert(self, value: int) -> bool:
        t = self.type_of(value)
        if self.offline or not self.enabled & (1 << t):
            return False
        if t in self.routing and self.tubes.get(t, 0) < self.capacity:
            self.tubes[t] = self.tubes.get(t, 0) + 1
            self.in_tubes.append(value)
            self.activity.append(bytes([0x50 | t, self.tubes[t]]))
        else:
            self.cash_box.append(value)
            self.activity.append(bytes([0x40 | t, self.tubes.get(t, 0)]))
        if self.on_coin is not None:
            self.on_coin(value)
        return True

    def press_return(self) -> None:
        self.activity.append(b"\x01")  # escrow request: the coin-return lever

    def empty_tube(self, value: int, leave: int = 0) -> None:
        """The tube of `value` runs (almost) empty: change can come out short."""
        self.tubes[self.type_of(value)] = leave

    def _dispense_tick(self) -> None:
        now = time.monotonic()
        while self._paying and now >= self._next_coin:
            t = self._paying[0]
            if self.jam_at is not None and self.jam_at <= 0:
                self.jam_at = None
                self._paying = []
                self.activity.append(b"\x0c")  # coin jam
                return
            self._paying.pop(0)
            if self.tubes.get(t, 0) <= 0:
                continue  # the tube is empty: nothing comes out
            self.tubes[t] -= 1
            self.paid_out.append(self.coins[t])
            if self.jam_at is not None:
                self.jam_at -= 1
            self._next_coin = now + self.coin_s

    def handle(self, command: int, data: bytes) -> bytes | None:
        self._dispense_tick()
        match command:
            case 0:
                self.reset()
                return b""
            case 1:
                credits = [self.coins.get(t, 0) // self.scaling for t in range(max(self.coins) + 1)]
                routing = sum(1 << t for t in self.routing)
                return bytes([2, 0x18, 0x40, self.scaling, 2]) + codec.be16(routing) + bytes(
                    credits)
            case 2:
                full = sum(1 << t for t, n in self.tubes.items() if n >= self.capacity)
                return codec.be16(full) + bytes(min(self.tubes.get(t, 0), 255) for t in range(16))
            case 3:
                return self.poll(b"\x02" if self._paying else b"")
            case 4:
                self.enabled = codec.u16(data, 0)
                return b""
            case 5:
                t, n = data[0] & 0x0F, data[0] >> 4
                self._paying += [t] * n
                self._next_coin = time.monotonic() + self.coin_s
                return b""
        return None
