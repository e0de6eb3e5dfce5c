"""One ccTalk request and its reply on a half-duplex line that may hold stale bytes.

ccTalk replies carry no sequence number, so a reply is matched to its request by three rules:
- before each request the input is drained: whatever is waiting answers an earlier request;
- a request is sent again only after `reply_timeout_ms + late_reply_ms` of silence, so a
  device that answers late is heard on the request it answers, never on the next one;
- a reply must fit the request (addressed to the host, from the device, the data length of
  that header's ACK); one that does not is discarded and counted, and reading goes on."""

from __future__ import annotations

import logging
import math
import termios
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial

from vendd.config import CctalkConfig
from vendd.errors import DeviceError, ProtocolError
from vendd.hw.cctalk import codec
from vendd.hw.cctalk.codec import Frame

log = logging.getLogger(__name__)

BUSY_PAUSE_S = 0.02


class SerialLike(Protocol):
    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    @property
    def in_waiting(self) -> int: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class NoResponseError(DeviceError):
    """The acceptor did not give a good answer within the retry budget."""


class Silence(DeviceError):
    """One request went unanswered."""


class Refused(DeviceError):
    """The acceptor answered NAK or BUSY."""


def open_port(config: CctalkConfig) -> SerialLike:
    """Open the configured port; real ports (paths) exclusively."""
    kwargs: dict[str, object] = {"baudrate": config.baud, "timeout": config.reply_timeout_ms / 1000}
    if "://" not in config.port:
        kwargs["exclusive"] = True
    return serial.serial_for_url(config.port, **kwargs)


@dataclass
class LineCounters:
    protocol_errors: int = 0  # damaged frames, echo mismatches
    timeouts: int = 0  # requests that went unanswered
    naks: int = 0
    busy: int = 0
    late_replies: int = 0  # taken, but after reply_timeout_ms
    stale_replies: int = 0  # bytes found waiting before a request: discarded
    misfits: int = 0  # replies that do not fit their request: discarded


class CctalkLine:
    """The port and the request/reply exchange. `stopping` cuts a retry loop short."""

    def __init__(self, config: CctalkConfig, opener: Callable[[], SerialLike],
                 stopping: threading.Event) -> None:
        self.config = config
        self._open = opener
        self._stopping = stopping
        self.ser: SerialLike | None = None
        self.counters = LineCounters()
        # Empty reads (each one read timeout long) before a request counts as unanswered.
        self._patience = 1 + math.ceil(config.late_reply_ms / config.reply_timeout_ms)

    def open(self) -> None:
        self.ser = self._open()

    def close(self) -> None:
        ser, self.ser = self.ser, None
        if ser is None:
            return
        try:
            ser.close()
        except OSError as exc:
            log.debug("close: %s", exc)

    def transact(self, header: int, data: bytes = b"", retries: int | None = None,
                 force: bool = False) -> Frame:
        """Send a request and return its ACK frame, retrying silence, NAK, BUSY and damage.
        Raises NoResponseError when the budget is spent; OSError when the port is gone.
        While stopping only the master inhibit goes out, or a request made with `force`."""
        request = codec.build_frame(
            self.config.address, codec.HOST, header, data, self.config.checksum
        )
        budget = self.config.retries if retries is None else retries
        last: DeviceError | None = None
        c = self.counters
        for _ in range(budget + 1):
            if self._stopping.is_set() and not force and header != codec.MODIFY_MASTER_INHIBIT:
                break
            try:
                return self._exchange(request, header)
            except ProtocolError as exc:
                c.protocol_errors += 1
                last = exc
            except Silence as exc:
                c.timeouts += 1
                last = exc
            except Refused as exc:
                last = exc
                self._stopping.wait(BUSY_PAUSE_S)
        raise NoResponseError(f"header {header}: {last or 'stopping'}") from last

    def _exchange(self, request: bytes, header: int) -> Frame:
        ser = self.ser
        if ser is None:
            raise Silence("port closed")
        self.drain()
        ser.write(request)
        frame = self.read_reply(request, header)
        if frame.header == codec.NAK:
            self.counters.naks += 1
            raise Refused("NAK")
        if frame.header == codec.BUSY:
            self.counters.busy += 1
            raise Refused("BUSY")
        return frame

    def drain(self) -> None:
        """Drop what is waiting on the line: it answers a request given up on."""
        ser = self.ser
        if ser is None:
            return
        try:
            waiting = ser.in_waiting
            if waiting:
                stale = ser.read(waiting)
                self.counters.stale_replies += 1
                log.info("discarded %d stale bytes: %s", len(stale), stale.hex(" "))
            ser.reset_input_buffer()
        except termios.error as exc:  # a hung-up tty; not an OSError
            raise serial.SerialException(f"draining the input failed: {exc}") from exc

    def read_reply(self, request: bytes, header: int) -> Frame:
        """Read the echo (when configured) and the first frame that fits the request.
        Raises ProtocolError for damage, Silence on timeout, OSError if the port is gone."""
        ser = self.ser
        if ser is None:
            raise Silence("port closed")
        assembler = codec.FrameAssembler(self.config.checksum)
        echo = request if self.config.echo else b""
        empty = 0
        while True:
            chunk = ser.read(len(echo) if echo else assembler.needed())
            if not chunk:
                empty += 1
                if empty >= self._patience:
                    what = "echo" if echo else "reply"
                    raise Silence(f"no {what} ({assembler.pending} bytes of reply)")
                continue
            if echo:
                chunk, echo = _strip_echo(chunk, echo)
            for frame in assembler.feed(chunk) if chunk else ():
                try:
                    codec.check_reply(frame, header, self.config.address)
                except ProtocolError as exc:
                    self.counters.misfits += 1
                    log.info("discarded a reply: %s", exc)
                    continue
                if empty:
                    self.counters.late_replies += 1
                return frame


def _strip_echo(chunk: bytes, echo: bytes) -> tuple[bytes, bytes]:
    """Remove the expected echo from the start of `chunk`; return (rest, echo still due)."""
    n = min(len(chunk), len(echo))
    if chunk[:n] != echo[:n]:
        raise ProtocolError(f"echo mismatch: sent {echo.hex(' ')}, heard {chunk[:n].hex(' ')}")
    return chunk[n:], echo[n:]
