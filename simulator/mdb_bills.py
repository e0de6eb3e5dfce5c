"""A simulated MDB bill validator (30) with escrow; fault: `stacker_full`."""

from __future__ import annotations

from collections.abc import Callable

from simulator.mdb_device import SimDevice
from vendd.hw.mdb import codec


class SimBillValidator(SimDevice):
    address = codec.BILL_VALIDATOR

    def __init__(self, bills: dict[int, int] | None = None) -> None:
        super().__init__()
        self.bills = bills or {0: 100, 1: 500, 2: 1000, 3: 2000}
        self.enabled = 0
        self.escrow_enabled = 0
        self.held: int | None = None
        self.stacked: list[int] = []
        self.returned: list[int] = []
        self.stacker_full = False
        self.on_stack: Callable[[int], None] | None = None
        self.reset()

    def reset(self) -> None:
        super().reset()
        if self.held is not None:
            self.returned.append(self.bills[self.held])
            self.held = None
        self.enabled = self.escrow_enabled = 0
        self.activity.append(b"\x06")

    def insert(self, value: int) -> bool:
        """A bill goes in; True when it was taken (into escrow or the stacker)."""
        t = next(t for t, v in self.bills.items() if v == value)
        if self.offline or self.held is not None or not self.enabled & (1 << t):
            self.activity.append(bytes([0xC0 | t]))
            return False
        if self.escrow_enabled & (1 << t):
            self.held = t
            self.activity.append(bytes([0x90 | t]))
        else:
            self._stack(t)
        return True

    def _stack(self, t: int) -> None:
        self.stacked.append(self.bills[t])
        self.activity.append(bytes([0x80 | t]))
        if self.on_stack is not None:
            self.on_stack(self.bills[t])

    def handle(self, command: int, data: bytes) -> bytes | None:
        match command:
            case 0:
                self.reset()
                return b""
            case 1:
                credits = bytes(self.bills.get(t, 0) // 100 for t in range(max(self.bills) + 1))
                return (bytes([1, 0x18, 0x40]) + codec.be16(100) + bytes([2]) + codec.be16(500)
                        + codec.be16(0) + b"\xff" + credits)
            case 3:
                return self.poll()
            case 4:
                self.enabled, self.escrow_enabled = codec.u16(data, 0), codec.u16(data, 2)
                return b""
            case 5:
                if self.held is None:
                    self.activity.append(b"\x0a")  # invalid escrow request
                elif data[0]:
                    self._stack(self.held)
                    self.held = None
                else:
                    self.returned.append(self.bills[self.held])
                    self.activity.append(bytes([0xA0 | self.held]))
                    self.held = None
                return b""
            case 6:
                return codec.be16((0x8000 if self.stacker_full else 0) | len(self.stacked))
        return None
