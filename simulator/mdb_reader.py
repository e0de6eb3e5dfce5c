"""A simulated level-1 MDB cashless reader (10) with card taps; faults: `deny`,
`lose_session()`."""

from __future__ import annotations

from simulator.mdb_device import SimDevice
from vendd.hw.mdb import codec, payloads


class SimReader(SimDevice):
    """A level-1 cashless reader. States: inactive, disabled, enabled, idle (session idle),
    vend (approved, waiting for the vend result)."""

    address = codec.CASHLESS

    def __init__(self) -> None:
        super().__init__()
        self.state = "inactive"
        self.balance = 0
        self.price = 0
        self.deny = 0
        self.charges: list[int] = []  # amounts charged to cards
        self.failures = 0  # vend failures reported (not charged)
        self.out_of_sequence = 0
        self.config = payloads.ReaderConfig(1, 0x1840, 1, 2, 3, 0)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.state = "inactive"
        self.activity.append(b"\x00")

    def tap(self, balance: int) -> bool:
        """A card with `balance` cents touches the reader; True when a session began."""
        if self.offline or self.state != "enabled":
            return False
        self.balance = balance
        self.state = "idle"
        self.activity.append(b"\x03" + codec.be16(balance))
        return True

    def remove_card(self) -> None:
        if self.state == "idle":
            self.activity.append(b"\x04")  # session cancel request

    def lose_session(self) -> None:
        """The reader silently forgets its session: the next session command is out of
        sequence."""
        self.state = "enabled"

    def _oos(self) -> bytes:
        self.out_of_sequence += 1
        return b"\x0b"

    def handle(self, command: int, data: bytes) -> bytes | None:
        match command, data[:1]:
            case 0, _:
                self.reset()
                return b""
            case 1, b"\x00":
                if self.state == "inactive":
                    self.state = "disabled"
                return payloads.reader_config_answer(self.config)
            case 1, _:
                return b""
            case 2, _:
                return self.poll()
            case 4, b"\x01" if self.state in ("disabled", "enabled"):
                self.state = "enabled"
                return b""
            case 4, b"\x00" if self.state in ("disabled", "enabled"):
                self.state = "disabled"
                return b""
            case 4, _:
                return b"" if self.state != "inactive" else self._oos()
            case 3, b"\x00" if self.state == "idle":
                self.price = codec.u16(data, 1)
                if self.deny or self.price > self.balance:
                    self.deny = max(self.deny - 1, 0)
                    self.activity.append(b"\x06")
                else:
                    self.state = "vend"
                    self.activity.append(b"\x05" + codec.be16(self.price))
                return b""
            case 3, b"\x01" if self.state in ("idle", "vend"):
                self.state = "idle"
                self.activity.append(b"\x06")
                return b""
            case 3, b"\x02" if self.state == "vend":
                self.charges.append(self.price)
                self.balance -= self.price
                self.state = "idle"
                return b""
            case 3, b"\x03" if self.state == "vend":
                self.failures += 1
                self.state = "idle"
                return b""
            case 3, b"\x04" if self.state == "idle":
                self.state = "enabled"
                self.activity.append(b"\x07")
                return b""
            case 3, _:
                return self._oos()
        return None
