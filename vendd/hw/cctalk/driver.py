"""ccTalk coin acceptor driver: one thread owns the serial port, polls header 229 and posts
events. The controller only calls `set_accepting` / `stop`, which never block on the wire.

The acceptor's 5-event buffer is money: it outlives the daemon. Every credit is posted with
the device's serial number and event counter, the daemon hands the last journaled pair to
`resume()` before `start()`, and at start the events newer than it are credited. A counter that
does not move forward by 1..5, and any move read under the simple checksum (a two-byte error
can keep it valid), is acted on only when two consecutive reads agree."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from vendd.config import CctalkConfig, CoinConfig
from vendd.errors import DeviceError, ProtocolError
from vendd.events import (
    CoinCounter,
    CoinRejected,
    CreditInserted,
    DeviceFault,
    DeviceRecovered,
    Event,
)
from vendd.hw.base import Post
from vendd.hw.cctalk import codec
from vendd.hw.cctalk.codec import CreditBuffer, EventKind, Frame, Move
from vendd.hw.cctalk.line import CctalkLine, NoResponseError, SerialLike, open_port

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 2.0
CONFIRM_READS = 4  # 229 reads per poll to find two consecutive that agree

def _ignore(event: Event) -> None:
    log.debug("event before start(): %r", event)


class CctalkCoinAcceptor:
    """Implements `CashAcceptor` (and `BuffersMoney`) for a ccTalk coin acceptor."""

    def __init__(
        self,
        name: str,
        config: CctalkConfig,
        serial_factory: Callable[[], SerialLike] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._coins: dict[int, CoinConfig] = {
            c.position: c for c in config.coins if c.position is not None
        }
        self._post: Post = _ignore
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._first_attempt = threading.Event()
        self._lock = threading.Lock()
        self.line = CctalkLine(config, serial_factory or (lambda: open_port(config)),
                               self._stopping)
        self._want_accepting = False
        self._master_sent: bool | None = None  # master inhibit state last sent to the device
        self._need_init = True
        # (serial number, counter) of the last event accounted for: from the ledger at start,
        # then kept as events are posted. None: this device was never heard from.
        self._mark: tuple[int, int] | None = None
        self._behind = False  # the counter reads behind the mark: inhibited until it is not
        self._fault: str | None = None
        self.identity: dict[str, object] = {}
        # Counters for the self-test and the logs (the line keeps its own: `line.counters`).
        self.rejected = 0
        self.unknown_events = 0
        self.unconfirmed = 0  # polls whose 229 reads never agreed twice

    # --- the CashAcceptor protocol (controller thread) -----------------------------------------

    def resume(self, mark: tuple[int, int] | None) -> None:
        """Before start(): the last (serial, counter) the ledger journaled for this device."""
        self._mark = mark

    def start(self, post: Post) -> None:
        if self._thread is not None:
            return
        self._post = post
        self._stopping.clear()
        self._first_attempt.clear()
        self._thread = threading.Thread(target=self._run, name=f"cctalk-{self.name}", daemon=True)
        self._thread.start()
        # Wait for the first connection attempt so `identity` is known on a healthy device;
        # bounded: a missing device fails fast, a silent one after the retry budget.
        self._first_attempt.wait(timeout=5.0)

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout=5.0)
        if thread.is_alive():
            log.error("%s: reader thread did not stop", self.name)

    def set_accepting(self, accepting: bool) -> None:
        with self._lock:
            self._want_accepting = accepting
        self._wake.set()

    @property
    def accepting(self) -> bool:
        with self._lock:
            return self._want_accepting

    # --- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        while not self._stopping.is_set():
            try:
                healthy = self._cycle()
            except Exception as exc:  # the thread boundary: a bug must not end the reader
                log.exception("%s: reader failed; reopening %s", self.name, self.config.port)
                self._close()  # reopen: _initialise carries on from the last counter posted
                self._raise_fault("driver_error", f"{type(exc).__name__}: {exc}")
                healthy = False
            self._first_attempt.set()
            if healthy:
                backoff = BACKOFF_START_S
            else:
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
        self._shutdown()

    def _cycle(self) -> bool:
        """Open the port if needed, poll once, wait for the next poll. False when the port
        could not be opened or was lost: the caller backs off before reopening."""
        if self.line.ser is None and not self._try_open():
            return False
        started = time.monotonic()
        self.poll_once()
        if self.line.ser is None:
            return False
        self._first_attempt.set()
        interval = self.config.poll_interval_ms / 1000
        self._wake.wait(max(0.0, interval - (time.monotonic() - started)))
        self._wake.clear()
        return True

    def _try_open(self) -> bool:
        try:
            self.line.open()
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
                return
            self._apply_master_inhibit()
            buffer = self._read_credit()
            if buffer is not None:
                self._take(buffer)
        except NoResponseError as exc:
            if not self._stopping.is_set():  # a request cut short by stop() is no fault
                self._raise_fault("no_response", str(exc))
        except ProtocolError as exc:  # a well-formed frame with a wrong payload
            self.line.counters.protocol_errors += 1
            log.warning("%s: %s", self.name, exc)
        except OSError as exc:
            self._disconnected(exc)

    def _shutdown(self) -> None:
        if self.line.ser is None:
            return
        try:
            self._transact(codec.MODIFY_MASTER_INHIBIT, b"\x00", retries=1)
        except (DeviceError, OSError) as exc:
            log.info("%s: could not inhibit on stop: %s", self.name, exc)
        else:
            self._final_read()
        self._close()

    def _final_read(self) -> None:
        """Inhibited now: nothing more can come in. Post what was validated since the last
        poll (a coin dropped while the daemon stops) so the controller can still credit it;
        what is not posted now stays in the buffer for the next start."""
        if self._need_init or self._mark is None:
            return  # the device was not (re)identified: its counter is not ours to trust
        try:
            buffer = self._read_credit(force=True)
            if buffer is not None:
                self._take(buffer, reinit=False)
        except (DeviceError, OSError) as exc:
            log.warning("%s: no final credit read on stop: %s", self.name, exc)

    def _close(self) -> None:
        self.line.close()
        self._master_sent = None

    def _disconnected(self, exc: OSError) -> None:
        log.warning("%s: port %s lost: %s", self.name, self.config.port, exc)
        self._close()
        self._raise_fault("disconnected", str(exc))

    # --- start-up ------------------------------------------------------------------------------

    def _initialise(self) -> None:
        self._transact(codec.SIMPLE_POLL)
        identity = self._identify()
        self._send_inhibits()
        serial = int(identity["serial"])  # type: ignore[call-overload]
        mark = self._mark
        self.identity = identity
        if mark is not None and mark[0] == serial:
            # The same device (after a restart or a replug): what it took while nobody
            # listened is in its buffer, newer than the mark.
            buffer = self._read_credit()
            self._need_init = False
            if buffer is not None:
                self._take(buffer)
            return
        buffer = self._read_credit(baseline=True)
        if buffer is None:
            return  # no agreement yet: identify again next poll
        reason = "baseline" if mark is None else "other_device"
        log.info("%s: %s, counter %d", self.name, reason, buffer.counter)
        self._post(CoinCounter(self.name, serial, buffer.counter, reason))
        self._mark = (serial, buffer.counter)
        self._need_init = False
        self._clear_fault()

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
        want = self.accepting and not self._behind
        if want == self._master_sent:
            return
        self._transact(codec.MODIFY_MASTER_INHIBIT, b"\x01" if want else b"\x00")
        self._master_sent = want
        log.debug("%s: master inhibit %s", self.name, "released" if want else "set")

    # --- reading the buffer --------------------------------------------------------------------

    def _read_credit(self, force: bool = False, baseline: bool = False) -> CreditBuffer | None:
        """Read 229 until it can be acted on: at once for no change, or for a move of 1..5
        under the CRC; otherwise (and for a new baseline) when two consecutive reads agree.
        None when they never do (counted; the buffer is read again next poll)."""
        read = self._read_once(force)
        if not baseline and self._mark is not None:
            move = codec.counter_move(self._mark[1], read.counter)
            if move.move is Move.SAME or (
                move.trusted_from_one_read and self.config.checksum == "crc16"
            ):
                return read
        for _ in range(CONFIRM_READS - 1):
            again = self._read_once(force)
            if again == read:
                return again
            read = again
        self.unconfirmed += 1
        log.warning("%s: %d credit reads in a row disagree", self.name, CONFIRM_READS)
        return None

    def _read_once(self, force: bool) -> CreditBuffer:
        retries = 1 if force else None
        return codec.parse_credit_buffer(
            self._transact(codec.READ_CREDIT, retries=retries, force=force).data
        )

    # --- the host algorithm --------------------------------------------------------------------

    def _take(self, buffer: CreditBuffer, reinit: bool = True) -> None:
        """Act on a confirmed read: post the new results, oldest first, each with its
        counter, then move the mark. A counter behind the mark is never acted on: it is a
        blocking fault (the acceptor stays inhibited) until the counter reads right again."""
        assert self._mark is not None
        serial, last = self._mark
        news = codec.new_events(last, buffer)
        if news.behind:
            self._behind = True
            if self._fault not in (None, "counter_behind"):
                self._clear_fault()  # the line works again: journal the new cause, not the old
            self._raise_fault("counter_behind", f"counter {buffer.counter} is {news.behind} "
                              f"behind the last one accounted for ({last})", count=news.behind)
            self._apply_master_inhibit()
            return
        self._behind = False
        self._clear_fault()
        if news.reset:
            log.warning("%s: the acceptor reset itself", self.name)
            self._post(DeviceFault(self.name, "device_reset", "counter back to 0", blocking=False))
            self._post(CoinCounter(self.name, serial, 0, "reset"))
        if news.lost:
            log.warning("%s: %d events lost", self.name, news.lost)
            detail = f"{news.lost} events lost between polls"
            self._post(DeviceFault(self.name, "lost_events", detail, blocking=False,
                                   count=news.lost))
        credited = False
        for a, b, counter in news.results:
            credited = self._handle_result(a, b, serial, counter)
        if news.results and not credited:
            self._post(CoinCounter(self.name, serial, buffer.counter, "no_credit"))
        self._mark = (serial, buffer.counter)
        # A reset may also hide behind a jump of the counter (lost events). OSError (the
        # port died) goes up after the mark moved: the events were posted, never twice.
        if reinit and (news.reset or news.lost):
            self._reinit_inhibits()

    def _reinit_inhibits(self) -> None:
        """Restore the inhibits; silence means initialise again next poll. OSError (the port
        is gone) goes to the caller, which takes the disconnect path."""
        try:
            self._send_inhibits()
        except NoResponseError as exc:
            log.warning("%s: could not restore inhibits: %s", self.name, exc)
            self._need_init = True

    def _handle_result(self, a: int, b: int, serial: int, counter: int) -> bool:
        """Post one event; True when it was a credit (its fact carries the counter)."""
        kind = codec.classify(a, b)
        if kind is EventKind.ACCEPTED:
            return self._credit(a, b, serial, counter)
        if kind is EventKind.REJECTED:
            self.rejected += 1
            self._post(CoinRejected(self.name, codec.event_name(b)))
        elif kind is EventKind.SUSPICIOUS:
            log.warning("%s: suspicious event %d (%s)", self.name, b, codec.event_name(b))
            self._post(DeviceFault(self.name, "suspicious", codec.event_name(b), blocking=False))
        elif kind is EventKind.UNKNOWN:
            self.unknown_events += 1
            log.warning("%s: unknown event code %d", self.name, b)
        return False

    def _credit(self, position: int, path: int, serial: int, counter: int) -> bool:
        coin = self._coins.get(position)
        if coin is None:
            detail = f"coin position {position} (path {path}) is not in the coin table"
            log.error("%s: %s", self.name, detail)
            self._post(DeviceFault(self.name, "unknown_coin", detail, blocking=False))
            return False
        log.info("%s: coin %s (position %d, counter %d)", self.name, coin.label, position,
                 counter)
        self._post(CreditInserted(self.name, coin.value, coin.label, serial=serial,
                                  counter=counter))
        return True

    # --- faults --------------------------------------------------------------------------------

    def _raise_fault(self, code: str, detail: str, count: int | None = None) -> None:
        if self._fault == code:
            return
        self._fault = code
        log.error("%s: %s: %s", self.name, code, detail)
        self._post(DeviceFault(self.name, code, detail, blocking=True, count=count))

    def _clear_fault(self) -> None:
        if self._fault is None:
            return
        log.info("%s: recovered from %s", self.name, self._fault)
        self._fault = None
        self._post(DeviceRecovered(self.name))

    # --- one request/reply ---------------------------------------------------------------------

    def _transact(self, header: int, data: bytes = b"", retries: int | None = None,
                  force: bool = False) -> Frame:
        return self.line.transact(header, data, retries, force)
