"""The three ways a Pi reaches an MDB bus, behind one interface (`Link`).

- `FramedLink` (`link = "sim"`): the simulator's pty; the mode bit travels in-band as
  `FF 00 b` (a literal FF as `FF FF`) both ways, a bus reset as `FF 00 00` (a break).
- `UartLink` (`link = "uart"`): the Pi's PL011. Transmit: mark parity for the address byte,
  drain, space parity for the rest. Receive on space parity with termios `INPCK|PARMRK` (set
  again after every parity change: pyserial clears them), so a mode byte reads `FF 00 b`. The
  receive parser is the one `FramedLink` uses.
- `BridgeLink` (`link = "bridge"`): an ASCII adapter at 115200 (`M,1`; `R,<addr>,<hex>` ->
  `p,ACK` / `p,NACK` / `p,<hex>`); it adds the checksum and mode bit and ACKs by itself.

`transact()` sends one command and returns the device's answer: it ACKs data at once, answers
a bad checksum with RET and then NAK, and retries silence, NAKs and garbage. Raises
`NoResponseError` when the budget is spent and `LinkDown` when the port is gone.
"""

from __future__ import annotations

import logging
import termios
import time
from collections.abc import Callable
from typing import Any

import serial

from vendd.config import MdbConfig
from vendd.errors import DeviceError, ProtocolError
from vendd.hw.mdb import codec
from vendd.hw.mdb.codec import Answer, ChecksumError, Word
from vendd.hw.serial import NoResponseError, SerialLike, open_serial, retry

__all__ = ["Link", "LinkDown", "NoResponseError", "make_link"]

log = logging.getLogger(__name__)


class LinkDown(DeviceError):
    """The serial port cannot be opened or was lost."""


class _Silence(DeviceError):
    """One answer did not come (in time)."""


Opener = Callable[[], SerialLike]


class Link:
    """Common request/answer logic; subclasses move the words."""

    baud = 9600

    def __init__(self, config: MdbConfig, opener: Opener | None = None) -> None:
        self.config = config
        self._opener = opener
        # A SerialLike, plus the line controls the UART and bridge links use (parity, break).
        self.ser: Any = None
        # Counters for the logs, the self-test and the tests.
        self.timeouts = 0
        self.checksum_errors = 0
        self.protocol_errors = 0
        self.naks = 0
        self.on_ack: Callable[[], None] | None = None  # the benchmark's probe

    # --- the port --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.ser is not None

    def open(self) -> None:
        try:
            if self._opener is not None:
                self.ser = self._opener()
            else:
                self.ser = open_serial(self.config.port, self.baud,
                                       self.config.response_timeout_ms / 1000)
            self._setup()
        except (OSError, ValueError, termios.error) as exc:
            self.ser = None
            raise LinkDown(f"cannot open {self.config.port}: {exc}") from exc
        log.info("MDB %s link on %s", type(self).__name__, self.config.port)

    def _setup(self) -> None:
        """After opening: line settings of this kind of link."""

    def close(self) -> None:
        ser, self.ser = self.ser, None
        if ser is not None:
            try:
                ser.close()
            except OSError as exc:
                log.debug("close: %s", exc)

    def reset_bus(self) -> None:
        """Break >= 100 ms, then >= 200 ms for the devices to set up."""
        try:
            self._break()
        except (OSError, termios.error) as exc:
            raise LinkDown(f"bus reset failed: {exc}") from exc
        time.sleep(self.config.bus_setup_ms / 1000)

    def _break(self) -> None:
        raise NotImplementedError

    # --- one command -----------------------------------------------------------------------

    def transact(self, address_byte: int, data: bytes = b"", timeout_s: float | None = None,
                 retries: int | None = None) -> Answer:
        if self.ser is None:
            raise LinkDown("the port is closed")
        timeout = timeout_s if timeout_s is not None else self.config.response_timeout_ms / 1000
        budget = self.config.retries if retries is None else retries
        words = codec.command_words(address_byte, data)

        def counted(exc: DeviceError) -> None:
            if isinstance(exc, _Silence):
                self.timeouts += 1
            else:
                self.protocol_errors += 1

        try:
            return retry(lambda: self._attempt(words, timeout), budget, f"{address_byte:02X}",
                         retry_on=(_Silence, ProtocolError), on_retry=counted)
        except (OSError, termios.error) as exc:
            self.close()
            raise LinkDown(f"{self.config.port}: {exc}") from exc

    def _attempt(self, words: list[Word], timeout: float) -> Answer:
        self._drop_input()
        self._send(words)
        try:
            answer = self._receive(timeout)
        except ChecksumError:
            self.checksum_errors += 1
            self._control(codec.RET)
            try:
                answer = self._receive(timeout)
            except ChecksumError:
                self.checksum_errors += 1
                self._control(codec.NAK)
                raise
        if answer.kind == "data":
            self._control(codec.ACK)
            if self.on_ack is not None:
                self.on_ack()
        elif answer.kind == "nak":
            self.naks += 1
            raise ProtocolError("the device answered NAK")
        return answer

    # --- moving words (FramedLink and UartLink share the receive side) ---------------------

    def _timeout(self, seconds: float) -> None:
        # pyserial reconfigures the port on every change (and clears PARMRK): only on change.
        if self.ser.timeout != seconds:
            self.ser.timeout = seconds
            self._after_reconfigure()

    def _after_reconfigure(self) -> None:
        """What a port reconfiguration undoes (PARMRK on the UART)."""

    def _drop_input(self) -> None:
        self.ser.reset_input_buffer()

    def _send(self, words: list[Word]) -> None:
        raise NotImplementedError

    def _control(self, byte: int) -> None:
        """ACK / RET / NAK from the controller: mode bit clear."""
        self.ser.write(codec.escape([(byte, False)]))

    def _receive(self, timeout: float) -> Answer:
        """Read one answer; _Silence when a byte is late (first byte or between bytes)."""
        parser = codec.WordParser()
        assembler = codec.AnswerAssembler()
        self._timeout(timeout)
        while True:
            chunk = self.ser.read(max(1, self.ser.in_waiting))
            if not chunk:
                raise _Silence(f"no answer ({assembler.pending} bytes heard)")
            try:
                words = parser.feed(chunk)
            except codec.EscapeError as exc:
                assembler.feed(exc.words)
                raise
            answers = assembler.feed(words)
            if answers:
                return codec.parse_answer(answers[0])


class FramedLink(Link):
    """The simulator's pty: both directions framed in-band."""

    def _send(self, words: list[Word]) -> None:
        self.ser.write(codec.escape(words))

    def _break(self) -> None:
        self.ser.write(codec.BREAK)


class UartLink(Link):
    """The Pi's PL011 UART (ttyAMA0) with mark/space parity and PARMRK receive."""

    def _setup(self) -> None:
        self.ser.parity = serial.PARITY_SPACE
        self._parmrk()

    def _parmrk(self) -> None:
        fd = self.ser.fileno()
        attrs = termios.tcgetattr(fd)
        attrs[0] |= termios.INPCK | termios.PARMRK
        attrs[0] &= ~(termios.IGNPAR | termios.ISTRIP)
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    def _send(self, words: list[Word]) -> None:
        ser = self.ser
        ser.parity = serial.PARITY_MARK
        ser.write(bytes([words[0][0]]))
        ser.flush()  # drain: the address byte is on the wire before the parity changes
        ser.parity = serial.PARITY_SPACE
        self._parmrk()
        ser.write(bytes(b for b, _ in words[1:]))

    def _after_reconfigure(self) -> None:
        self._parmrk()

    def _control(self, byte: int) -> None:
        self.ser.write(bytes([byte]))  # space parity: mode bit clear

    def _break(self) -> None:
        self.ser.send_break(self.config.bus_reset_ms / 1000)


class BridgeLink(Link):
    """An ASCII bridge adapter; it frames, checksums and ACKs by itself (unsure details are
    tolerated: case, CR LF, spaces)."""

    baud = 115200

    def _setup(self) -> None:
        self.ser.write(b"M,1\n")
        self.ser.flush()
        self._timeout(0.2)
        self.ser.readline()  # the adapter's answer to M,1, if it gives one
        self.ser.reset_input_buffer()

    def _break(self) -> None:
        self._setup()

    def _attempt(self, words: list[Word], timeout: float) -> Answer:
        address = words[0][0]
        data = bytes(b for b, _ in words[1:-1])
        line = f"R,{address:02X}" + (f",{data.hex().upper()}" if data else "") + "\n"
        self._drop_input()
        self.ser.write(line.encode("ascii"))
        self._timeout(timeout + 0.05)  # the adapter's own round trip
        raw = self.ser.readline()
        if not raw.endswith(b"\n"):
            raise _Silence(f"no answer from the bridge ({raw!r})")
        return parse_bridge_line(raw)


def parse_bridge_line(raw: bytes) -> Answer:
    text = raw.decode("ascii", errors="replace").strip().replace(" ", "")
    kind, _, payload = text.partition(",")
    if kind.lower() != "p" or not payload:
        raise ProtocolError(f"bridge said {text!r}")
    if payload.upper() == "ACK":
        return codec.ANSWER_ACK
    if payload.upper() in ("NACK", "NAK"):
        raise ProtocolError("the device answered NAK")
    try:
        data = bytes.fromhex(payload)
    except ValueError as exc:
        raise ProtocolError(f"bridge answer is not hex: {payload!r}") from exc
    if not data:
        raise ProtocolError("empty bridge answer")
    return Answer("data", data)


def make_link(config: MdbConfig, opener: Opener | None = None) -> Link:
    kinds: dict[str, type[Link]] = {"sim": FramedLink, "uart": UartLink, "bridge": BridgeLink}
    return kinds[config.link](config, opener)
