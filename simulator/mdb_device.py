"""A simulated MDB peripheral's common part: presence and faults, and the POLL data that stays
pending until the controller ACKs it."""

from __future__ import annotations


class SimDevice:
    address = 0

    def __init__(self) -> None:
        self.present = True
        self.offline = False
        self.silent = 0
        self.corrupt = 0
        self.commands: list[int] = []  # command bytes heard (address | command)
        self.activity: list[bytes] = []  # poll items waiting to be read
        self.unacked: bytes | None = None  # poll data sent, not yet ACKed

    def answer(self, command: int, data: bytes) -> bytes | None:
        """Payload of the answer (b"" = a lone ACK); None: no answer."""
        self.commands.append(self.address | command)
        if self.offline:
            return None
        if self.silent:
            self.silent -= 1
            return None
        return self.handle(command, data)

    def handle(self, command: int, data: bytes) -> bytes | None:
        raise NotImplementedError

    def poll(self, extra: bytes = b"") -> bytes:
        if self.unacked is None:
            out = bytearray(extra)
            while self.activity and len(out) + len(self.activity[0]) <= 16:
                out += self.activity.pop(0)
            self.unacked = bytes(out) if out else None
        return self.unacked or b""

    def acked(self) -> None:
        self.unacked = None

    def reset(self) -> None:
        self.activity.clear()
        self.unacked = None

    def self_reset(self) -> None:
        """A power glitch: the device forgets everything and says "just reset"."""
        self.reset()
