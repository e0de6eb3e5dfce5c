"""Simulated MDB peripherals on one pseudo-terminal: a coin changer (08) with tubes, a bill
validator (30) with escrow and a cashless reader (10) with card taps.

The pty cannot carry the 9th bit, so both directions are framed in-band (`FF 00 b` for a byte
with the mode bit, `FF FF` for a literal FF, `FF 00 00` for a bus reset) with the daemon's own
receive parser. Each device follows its MDB state machine; the data a device
answers to POLL stays pending until the controller ACKs it (a RET resends it, a POLL without an
ACK gets it again), as real devices do.

Faults: `silence(n)` / `offline` (no response), `self_reset()` (just reset mid-session),
`bad_checksums(n)`, and per device: `jam_at = k` (coin jam after k coins of a payout),
`empty_tube()` (change comes out short), `deny` (vends denied), `lose_session()` (the reader's
next session command is out of sequence), `stacker_full`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import tempfile
import threading
import time
import tty
from collections.abc import Callable

from vendd.hw.mdb import codec

log = logging.getLogger(__name__)


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
        self.config = codec.ReaderConfig(1, 0x1840, 1, 2, 3, 0)
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
                return codec.reader_config_answer(self.config)
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


class SimMdbBus:
    """The three peripherals on one pty. `port` is a symlink to the pty's slave."""

    def __init__(self, changer: bool = True, bills: bool = True, reader: bool = True) -> None:
        self.changer = SimChanger() if changer else None
        self.bills = SimBillValidator() if bills else None
        self.reader = SimReader() if reader else None
        self.devices: dict[int, SimDevice] = {
            d.address: d for d in (self.changer, self.bills, self.reader) if d is not None}
        self.lock = threading.RLock()
        self._dir = tempfile.TemporaryDirectory(prefix="mdb-sim-")
        self.port = os.path.join(self._dir.name, "usb-sim-mdb-if00")
        self._master: int | None = None
        self._slave: int | None = None
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._cmd: list[int] | None = None
        # Sent data, waiting for ACK/RET/NAK: the device, and whether it was its poll data.
        self._waiting: tuple[SimDevice, bool] | None = None
        self._last: bytes = b""
        self._sent_at = 0.0
        self.corrupt = 0  # bad checksums on the next n data answers (any device)
        self.ack_latencies: list[float] = []  # seconds from our last byte to the ACK
        self.rets = self.naks = self.bus_resets = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> SimMdbBus:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave
        os.symlink(os.ttyname(slave), self.port)
        self._running.set()
        self._thread = threading.Thread(target=self._serve, name="sim-mdb", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._dir.cleanup()

    def __enter__(self) -> SimMdbBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def bad_checksums(self, n: int = 1) -> None:
        with self.lock:
            self.corrupt += n

    # --- the wire --------------------------------------------------------------------------

    def _serve(self) -> None:
        parser = codec.WordParser()
        while self._running.is_set():
            fd = self._master
            assert fd is not None
            try:
                ready, _, _ = select.select([fd], [], [], 0.02)
                chunk = os.read(fd, 512) if ready else b""
            except OSError:
                time.sleep(0.01)
                continue
            now = time.monotonic()
            if not chunk:
                with self.lock:
                    if self.changer is not None:
                        self.changer._dispense_tick()
                continue
            try:
                words = parser.feed(chunk)
            except codec.EscapeError as exc:
                words = exc.words
            with self.lock:
                for word in words:
                    self._word(fd, word, now)

    def _word(self, fd: int, word: codec.Word, now: float) -> None:
        byte, mode = word
        if mode:
            self._waiting = None
            if byte == 0x00:  # a break: bus reset
                self.bus_resets += 1
                for d in self.devices.values():
                    d.reset()
                self._cmd = None
                return
            self._cmd = [byte]
            return
        if self._cmd is None:
            self._control(fd, byte, now)
            return
        self._cmd.append(byte)
        address = self._cmd[0]
        need = codec.command_length(address, self._cmd[1] if len(self._cmd) > 1 else None)
        if need is None:
            if len(self._cmd) > 1:
                self._cmd = None  # a command we do not know: stay silent
            return
        if len(self._cmd) < need + 2:
            return
        cmd, self._cmd = bytes(self._cmd), None
        if codec.checksum(cmd[:-1]) != cmd[-1]:
            return  # a garbled command: a device stays silent
        device = self.devices.get(address & 0xF8)
        if device is None:
            return
        payload = device.answer(address & 0x07, cmd[1:-1])
        if payload is None:
            return
        if payload:
            self._waiting = (device, payload is device.unacked)
        self._send(fd, payload)

    def _control(self, fd: int, byte: int, now: float) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            return
        device, polled = waiting
        if byte == codec.ACK:
            self.ack_latencies.append(now - self._sent_at)
            if polled:
                device.acked()
        elif byte == codec.RET:
            self.rets += 1
            self._waiting = waiting
            self._send(fd, self._last)
        else:
            self.naks += 1  # the data stays pending: the next POLL gets it again

    def _send(self, fd: int, payload: bytes) -> None:
        self._last = payload
        words = codec.answer_words(payload)
        if self.corrupt and len(words) > 1:
            self.corrupt -= 1
            words[-1] = (words[-1][0] ^ 0x5A, True)
        with contextlib.suppress(OSError):
            os.write(fd, codec.escape(words))
        self._sent_at = time.monotonic()
