"""ccTalk coin acceptor driver: one thread (a `Worker`) owns the serial port, polls header 229
and posts events. The controller only calls `set_accepting` / `stop`, which never block on the
wire. A bug in the loop sets the master inhibit, is journaled as a blocking fault, and the port
is reopened with back-off; coins are taken again after a clean poll."""

from __future__ import annotations

import logging
import termios
import threading
import time
from collections.abc import Callable
from typing import Protocol

import serial

from vendd.config import CctalkConfig, CoinConfig
from vendd.errors import DeviceError, ProtocolError
from vendd.events import CoinRejected, CreditInserted, DeviceFault, Event
from vendd.hw.base import Post
from vendd.hw.cctalk import codec
from vendd.hw.cctalk.codec import EventKind, Frame
from vendd.worker import FaultLatch, Worker

log = logging.getLogger(__name__)

BUSY_PAUSE_S = 0.02


class SerialLike(Protocol):
    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class NoResponseError(DeviceError):
    """The acceptor did not give a good answer within the retry budget."""


class _Silence(DeviceError):
    """One request went unanswered."""


class _Refused(DeviceError):
    """The acceptor answered NAK or BUSY."""


def open_port(config: CctalkConfig) -> SerialLike:
    """Open the configured port; real ports (paths) exclusively."""
    kwargs: dict[str, object] = {"baudrate": config.baud, "timeout": config.reply_timeout_ms / 1000}
    if "://" not in config.port:
        kwargs["exclusive"] = True
    return serial.serial_for_url(config.port, **kwargs)


def _ignore(event: Event) -> None:
    log.debug("event before start(): %r", event)


class CctalkCoinAcceptor(Worker):
    """Implements `CashAcceptor` for a ccTalk coin acceptor."""

    def __init__(
        self,
        name: str,
        config: CctalkConfig,
        serial_factory: Callable[[], SerialLike] | None = None,
    ) -> None:
        self._latch = FaultLatch(name)
        super().__init__(f"cctalk-{name}", [self._latch])
        self.name = name
        self.config = config
        self._open: Callable[[], SerialLike] = serial_factory or (lambda: open_port(config))
        self._coins: dict[int, CoinConfig] = {
            c.position: c for c in config.coins if c.position is not None
        }
        self._post: Post = _ignore
        self._ser: SerialLike | None = None
        self._wake = threading.Event()
        self._first_attempt = threading.Event()
        self._lock = threading.Lock()
        self._want_accepting = False
        self._master_sent: bool | None = None  # master inhibit state last sent to the device
        self._need_init = True
        self._last_counter: int | None = None
        self.identity: dict[str, object] = {}
        # Counters for the self-test and the logs.
        self.protocol_errors = 0
        self.timeouts = 0
        self.naks = 0
        self.busy = 0
        self.rejected = 0
        self.unknown_events = 0

    # --- the CashAcceptor protocol (controller thread) -----------------------------------------

    def start(self, post: Post) -> None:
        if self.running:
            return
        self._post = post
        self._first_attempt.clear()
        self.start_worker(post)
        # Wait for the first connection attempt so `identity` is known on a healthy device;
        # bounded: a missing device fails fast, a silent one after the retry budget.
        self._first_attempt.wait(timeout=5.0)

    def stop(self) -> None:
        self.stop_worker(5.0)

    def set_accepting(self, accepting: bool) -> None:
        with self._lock:
            self._want_accepting = accepting
        self._wake.set()

    @property
    def accepting(self) -> bool:
        with self._lock:
            return self._want_accepting

    # --- the thread ----------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def turn(self) -> bool:
        try:
            return self._cycle()
        finally:
            self._first_attempt.set()

    def go_safe(self) -> None:
        """After a bug: master inhibit at once (best effort), then reopen the port;
        `_initialise` carries on from the last counter posted."""
        if self._ser is not None:
            try:
                self._transact(codec.MODIFY_MASTER_INHIBIT, b"\x00", retries=0)
            except (DeviceError, OSError) as exc:
                log.info("%s: could not inhibit after the fault: %s", self.name, exc)
        self._close()

    def recovered(self) -> None:
        self._wake.set()  # release the master inhibit on the next poll

    def finish(self) -> None:
        self._shutdown()

    def _cycle(self) -> bool:
        """Open the port if needed, poll once, wait for the next poll. False when the port
        could not be opened or was lost: the caller backs off before reopening."""
        if self._ser is None and not self._try_open():
            return False
        started = time.monotonic()
        self.poll_once()
        if self._ser is None:
            return False
        self._first_attempt.set()
        interval = self.config.poll_interval_ms / 1000
        self._wake.wait(max(0.0, interval - (time.monotonic() - started)))
        self._wake.clear()
        return True

    def _try_open(self) -> bool:
        try:
            self._ser = self._open()
        except (OSError, ValueError) as exc:  # SerialException is an OSError; bad settings
            log.debug("%s: cannot open %s: %s", self.name, self.config.port, exc)
            self._raise_fault("disconnected", f"cannot open {self.config.port}: {exc}")
            return False
        log.info("%s: opened %s", self.name, self.config.port)
        self._need_init = True
        return True

    def poll_once(self) -> None:
        """One cycle: initialise if needed, apply the master inhibit, read 229. Never raises
        for wire trouble: errors become counters and fault events."""
        try:
            if self._need_init:
                self._initialise()
            self._apply_master_inhibit()
            reply = self._transact(codec.READ_CREDIT)
            buffer = codec.parse_credit_buffer(reply.data)
            self._clear_fault()
            # Inside the try: re-sending the inhibits after a reset can meet a dead port.
            self._handle_buffer(buffer)
        except NoResponseError as exc:
            if not self._stopping.is_set():  # a request cut short by stop() is no fault
                self._raise_fault("no_response", str(exc))
            return
        except ProtocolError as exc:  # a well-formed frame with a wrong payload
            self.protocol_errors += 1
            log.warning("%s: %s", self.name, exc)
            return
        except OSError as exc:
            self._disconnected(exc)
            return

    def _shutdown(self) -> None:
        if self._ser is None:
            return
        try:
            self._transact(codec.MODIFY_MASTER_INHIBIT, b"\x00", retries=0)
        except (DeviceError, OSError) as exc:
            log.info("%s: could not inhibit on stop: %s", self.name, exc)
        else:
            self._final_read()
        self._close()

    def _final_read(self) -> None:
        """Inhibited now: nothing more can come in. Post what was validated since the last
        poll (a coin dropped while the daemon stops) so the controller can still credit it."""
        if self._need_init or self._last_counter is None:
            return  # the device was not (re)identified: its counter is not ours to trust
        try:
            reply = self._transact(codec.READ_CREDIT, retries=1, force=True)
            self._handle_buffer(codec.parse_credit_buffer(reply.data), reinit=False)
        except (DeviceError, OSError) as exc:
            log.warning("%s: no final credit read on stop: %s", self.name, exc)

    def _close(self) -> None:
        ser, self._ser = self._ser, None
        self._master_sent = None
        if ser is None:
            return
        try:
            ser.close()
        except OSError as exc:
            log.debug("%s: close: %s", self.name, exc)

    def _disconnected(self, exc: OSError) -> None:
        log.warning("%s: port %s lost: %s", self.name, self.config.port, exc)
        self._close()
        self._raise_fault("disconnected", str(exc))

    # --- start-up ------------------------------------------------------------------------------

    def _initialise(self) -> None:
        self._transact(codec.SIMPLE_POLL)
        identity = self._identify()
        self._send_inhibits()
        buffer = codec.parse_credit_buffer(self._transact(codec.READ_CREDIT).data)
        previous = self.identity.get("serial")
        self.identity = identity
        self._need_init = False
        if self._last_counter is None or previous != identity["serial"]:
            log.info("%s: baseline counter %d", self.name, buffer.counter)
            self._last_counter = buffer.counter
            return
        # The same device came back (USB adapter replugged): it kept accepting while we were
        # away, so carry on from the last counter we credited; nothing is credited twice.
        self._clear_fault()
        self._handle_buffer(buffer)

    def _identify(self) -> dict[str, object]:
        coin_ids = {
            pos: codec.parse_ascii(self._transact(codec.COIN_ID, bytes([pos])).data)
            for pos in range(1, 17)
        }
        identity: dict[str, object] = {
            "manufacturer": codec.parse_ascii(self._transact(codec.MANUFACTURER).data),
            "category": codec.parse_ascii(self._transact(codec.CATEGORY).data),
            "product": codec.parse_ascii(self._transact(codec.PRODUCT_CODE).data),
            "serial": codec.parse_serial_number(self._transact(codec.SERIAL_NUMBER).data),
            "coin_ids": coin_ids,
        }
        for pos in self._coins:
            if coin_ids[pos].strip(".") == "":
                log.warning("%s: coin position %d is not programmed", self.name, pos)
        log.info("%s: identified %s", self.name, identity)
        return identity

    def _send_inhibits(self) -> None:
        self._transact(codec.MODIFY_INHIBITS, codec.inhibit_mask(sorted(self._coins)))
        self._master_sent = None
        self._apply_master_inhibit()

    def _apply_master_inhibit(self) -> None:
        want = self.accepting and not self.faulted
        if want == self._master_sent:
            return
        self._transact(codec.MODIFY_MASTER_INHIBIT, b"\x01" if want else b"\x00")
        self._master_sent = want
        log.debug("%s: master inhibit %s", self.name, "released" if want else "set")

    # --- the host algorithm --------------------------------------------------------------------

    def _handle_buffer(self, buffer: codec.CreditBuffer, reinit: bool = True) -> None:
        """Post the new results, re-send the inhibits after a reset or lost events, then
        commit the counter. Raises OSError when the port dies while re-sending the inhibits:
        the counter is committed all the same (the coins were posted), so a replug of the
        same device credits nothing twice."""
        news = codec.new_events(self._last_counter, buffer)
        if news.reset:
            log.warning("%s: the acceptor reset itself", self.name)
            self._post(DeviceFault(self.name, "device_reset", "counter back to 0", blocking=False))
        if news.lost:
            log.warning("%s: %d events lost", self.name, news.lost)
            detail = f"{news.lost} events lost between polls"
            self._post(DeviceFault(self.name, "lost_events", detail, blocking=False))
        for a, b in news.results:
            self._handle_result(a, b)
        try:
            # A reset may also hide behind a jump of the counter (lost events).
            if reinit and (news.reset or news.lost):
                self._reinit_inhibits()
        finally:
            self._last_counter = buffer.counter

    def _reinit_inhibits(self) -> None:
        """Restore the inhibits; silence means initialise again next poll. OSError (the port
        is gone) goes to the caller, which takes the disconnect path."""
        try:
            self._send_inhibits()
        except NoResponseError as exc:
            log.warning("%s: could not restore inhibits: %s", self.name, exc)
            self._need_init = True

    def _handle_result(self, a: int, b: int) -> None:
        kind = codec.classify(a, b)
        if kind is EventKind.ACCEPTED:
            self._credit(a, b)
        elif kind is EventKind.REJECTED:
            self.rejected += 1
            self._post(CoinRejected(self.name, codec.event_name(b)))
        elif kind is EventKind.SUSPICIOUS:
            log.warning("%s: suspicious event %d (%s)", self.name, b, codec.event_name(b))
            self._post(DeviceFault(self.name, "suspicious", codec.event_name(b), blocking=False))
        elif kind is EventKind.UNKNOWN:
            self.unknown_events += 1
            log.warning("%s: unknown event code %d", self.name, b)

    def _credit(self, position: int, path: int) -> None:
        coin = self._coins.get(position)
        if coin is None:
            detail = f"coin position {position} (path {path}) is not in the coin table"
            log.error("%s: %s", self.name, detail)
            self._post(DeviceFault(self.name, "unknown_coin", detail, blocking=False))
            return
        log.info("%s: coin %s (position %d)", self.name, coin.label, position)
        self._post(CreditInserted(self.name, coin.value, coin.label))

    # --- faults --------------------------------------------------------------------------------

    def _raise_fault(self, code: str, detail: str) -> None:
        self._latch.raise_(code, detail)

    def _clear_fault(self) -> None:
        self._latch.clear()

    # --- one request/reply ---------------------------------------------------------------------

    def _transact(
        self, header: int, data: bytes = b"", retries: int | None = None, force: bool = False
    ) -> Frame:
        """Send a request and return its ACK frame, retrying silence, NAK, BUSY and garbage.
        Raises NoResponseError when the budget is spent; OSError when the port is gone.
        While stopping only the master inhibit goes out, or a request made with `force`."""
        request = codec.build_frame(
            self.config.address, codec.HOST, header, data, self.config.checksum
        )
        budget = self.config.retries if retries is None else retries
        last: DeviceError | None = None
        for _ in range(budget + 1):
            if self._stopping.is_set() and not force and header != codec.MODIFY_MASTER_INHIBIT:
                break
            try:
                return self._exchange(request)
            except ProtocolError as exc:
                self.protocol_errors += 1
                last = exc
            except _Silence as exc:
                self.timeouts += 1
                last = exc
            except _Refused as exc:
                last = exc
                self._stopping.wait(BUSY_PAUSE_S)
        raise NoResponseError(f"header {header}: {last or 'stopping'}") from last

    def _exchange(self, request: bytes) -> Frame:
        ser = self._ser
        if ser is None:
            raise _Silence("port closed")
        try:
            ser.reset_input_buffer()
        except termios.error as exc:  # a hung-up tty; not an OSError
            raise serial.SerialException(f"reset_input_buffer failed: {exc}") from exc
        ser.write(request)
        frame = self.read_reply(request)
        if frame.header == codec.NAK:
            self.naks += 1
            raise _Refused("NAK")
        if frame.header == codec.BUSY:
            self.busy += 1
            raise _Refused("BUSY")
        if frame.header != codec.ACK:
            raise ProtocolError(f"reply header {frame.header} is not ACK/NAK/BUSY")
        return frame

    def read_reply(self, request: bytes) -> Frame:
        """Read the echo (when configured) and one reply frame addressed to the host.
        Raises ProtocolError for garbage, _Silence on timeout, OSError if the port is gone."""
        ser = self._ser
        if ser is None:
            raise _Silence("port closed")
        assembler = codec.FrameAssembler(self.config.checksum)
        echo = request if self.config.echo else b""
        while True:
            chunk = ser.read(len(echo) if echo else assembler.needed())
            if not chunk:
                what = "echo" if echo else "reply"
                raise _Silence(f"no {what} ({assembler.pending} bytes of reply)")
            if echo:
                chunk, echo = _strip_echo(chunk, echo)
            if not chunk:
                continue
            frames = assembler.feed(chunk)
            if frames:
                return self._check_addresses(frames[0])

    def _check_addresses(self, frame: Frame) -> Frame:
        if frame.dest != codec.HOST:
            raise ProtocolError(f"reply addressed to {frame.dest}, not the host")
        if frame.src is not None and frame.src != self.config.address:
            raise ProtocolError(f"reply from address {frame.src}, expected {self.config.address}")
        return frame


def _strip_echo(chunk: bytes, echo: bytes) -> tuple[bytes, bytes]:
    """Remove the expected echo from the start of `chunk`; return (rest, echo still due)."""
    n = min(len(chunk), len(echo))
    if chunk[:n] != echo[:n]:
        raise ProtocolError(f"echo mismatch: sent {echo.hex(' ')}, heard {chunk[:n].hex(' ')}")
    return chunk[n:], echo[n:]
