"""MDB cashless reader (address 10, or 60 for reader #2): a `CardReader`, level 1 plus the
level-2 basics.

Sessions follow the reader's state machine: enabled -> begin session -> vend request ->
approved / denied -> vend success / failure -> session complete -> end session. A vend
approved that nobody asked for (or too late) is answered with VEND FAILURE, so nobody is
charged for nothing. A reader that resets or answers "command out of sequence" loses its
session: the machine hears the vend denied / the session ended, and the reader is set up again.
Nothing about the card is kept beyond the amounts the reader reports."""

from __future__ import annotations

import logging
from collections import deque

from vendd.config import MdbCashlessConfig
from vendd.errors import ProtocolError
from vendd.events import (
    CardSessionBegun,
    CardSessionEnded,
    CardVendApproved,
    CardVendDenied,
    DeviceFault,
)
from vendd.hw.mdb import codec, payloads
from vendd.hw.mdb.bus import MdbBus, MdbDevice, Phase
from vendd.hw.mdb.codec import Answer
from vendd.hw.mdb.payloads import CashlessEvent

log = logging.getLogger(__name__)

VMC_LEVEL = 2
VMC_COLUMNS, VMC_ROWS = 16, 2


def item_number(slot: str) -> int:
    """`A1` -> 101, `B12` -> 212: the item number the reader (and its reports) see."""
    if not slot[:1].isalpha() or not slot[1:].isdigit():
        return 0
    return (ord(slot[0].upper()) - 64) * 100 + int(slot[1:])


class MdbCashless(MdbDevice):
    poll_command = payloads.CASHLESS_POLL

    def __init__(self, name: str, bus: MdbBus, config: MdbCashlessConfig,
                 machine_decimals: int) -> None:
        super().__init__(name, bus)
        self.address = config.address
        self.config = config
        self.non_response_s = config.non_response_s or 5.0
        self.machine_decimals = machine_decimals
        self.reader: payloads.ReaderConfig | None = None
        self._want_enabled = False
        self._sent_enabled: bool | None = None
        self._requests: deque[tuple[str, int, str, bool]] = deque()
        self.session = False
        self.vend: str | None = None  # None | "requested" | "approved"
        self.vend_slot = ""

    # --- CardReader (controller thread) ------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._want_enabled = enabled
        self.bus.wake()

    def request_vend(self, price: int, slot: str) -> None:
        self._request("vend", price, slot)

    def vend_result(self, slot: str, success: bool) -> None:
        self._request("result", 0, slot, success)

    def complete_session(self) -> None:
        self._request("complete")

    def _request(self, kind: str, price: int = 0, slot: str = "", success: bool = False) -> None:
        with self._lock:
            self._requests.append((kind, price, slot, success))
        self.bus.wake()

    # --- bus thread ------------------------------------------------------------------------

    @property
    def level(self) -> int:
        return min(self.reader.level, VMC_LEVEL) if self.reader else 1

    def answer_says_reset(self, answer: Answer) -> bool:
        return answer.kind == "data" and any(
            e.kind == "just_reset" for e in payloads.parse_cashless_poll(answer.data, self.level))

    def configure(self) -> None:
        self.session, self.vend = False, None
        self._handle(self.send(1, bytes([0, VMC_LEVEL, VMC_COLUMNS, VMC_ROWS, 0])))
        self._handle(self.send(1, b"\x01\xff\xff\x00\x00"))  # max / min price: any
        if self.reader is None:
            raise ProtocolError("the reader sent no configuration")
        if self.config.non_response_s is None:
            self.non_response_s = float(max(self.reader.max_response_s, 1))
        self._sent_enabled = None
        self._apply_enabled()

    def went_offline(self) -> None:
        self._lose_session("offline")
        super().went_offline()
        self._sent_enabled = None

    def reinitialise(self, why: str) -> None:
        self._lose_session(why)
        super().reinitialise(why)

    def take_held(self) -> None:
        """Before RESET: an approval the reader still reports answers no vend of this daemon
        (the one that asked is gone): VEND FAILURE, so the card is not charged for it. RESET
        then ends whatever session the reader held; it holds no cash."""
        events = [e for data in self.held_items()
                  for e in payloads.parse_cashless_poll(data, self.level)]
        if any(e.kind == "vend_approved" for e in events):
            log.warning("%s: an approval from before the reset: vend failure", self.name)
            self.send(payloads.CASHLESS_VEND, bytes([payloads.VEND_FAILURE]))

    def shutdown(self) -> None:
        if self.vend == "approved":
            self.send(payloads.CASHLESS_VEND, bytes([payloads.VEND_FAILURE]))
        if self.session:
            self.send(payloads.CASHLESS_VEND, bytes([payloads.SESSION_COMPLETE]))
        self.send(payloads.CASHLESS_READER, bytes([payloads.READER_DISABLE]))

    def work(self) -> None:
        self._apply_enabled()
        while self.phase is Phase.READY:
            with self._lock:
                request = self._requests.popleft() if self._requests else None
            if request is None:
                break
            self._do(*request)
        if self.phase is Phase.READY:
            self._handle(self.send(payloads.CASHLESS_POLL))

    def _apply_enabled(self) -> None:
        with self._lock:
            want = self._want_enabled
        # Never disable in the middle of a session: the machine is selling to this card.
        if want == self._sent_enabled or (not want and self.session):
            return
        self._sent_enabled = want
        sub = payloads.READER_ENABLE if want else payloads.READER_DISABLE
        self._handle(self.send(payloads.CASHLESS_READER, bytes([sub])))

    def _do(self, kind: str, price: int, slot: str, success: bool) -> None:
        if kind == "vend":
            if not self.session or self.vend is not None or self.reader is None:
                log.warning("%s: vend request with no session idle", self.name)
                self._post(CardVendDenied(self.name))
                return
            r = self.reader
            units = codec.from_cents(price, r.scale, r.decimals, self.machine_decimals)
            self.vend, self.vend_slot = "requested", slot
            data = (bytes([payloads.VEND_REQUEST]) + codec.be16(units)
                    + codec.be16(item_number(slot)))
            self._handle(self.send(payloads.CASHLESS_VEND, data))
        elif kind == "result":
            if self.vend != "approved":
                log.warning("%s: vend result for %s but no approved vend", self.name, slot)
                return
            self.vend = None
            if success:
                data = bytes([payloads.VEND_SUCCESS]) + codec.be16(item_number(slot))
            else:
                data = bytes([payloads.VEND_FAILURE])
            self._handle(self.send(payloads.CASHLESS_VEND, data))
        else:
            self._complete()

    def _complete(self) -> None:
        if self.vend == "requested":
            self.vend = None
            self._handle(self.send(payloads.CASHLESS_VEND, bytes([payloads.VEND_CANCEL])))
        if self.vend == "approved":  # never leave an approval charged without a vend
            self.vend = None
            self._handle(self.send(payloads.CASHLESS_VEND, bytes([payloads.VEND_FAILURE])))
        if self.session:
            self._handle(self.send(payloads.CASHLESS_VEND, bytes([payloads.SESSION_COMPLETE])))
        else:
            self._post(CardSessionEnded(self.name))

    # --- what the reader says --------------------------------------------------------------

    def _handle(self, answer: Answer) -> None:
        if answer.kind != "data":
            return
        for event in payloads.parse_cashless_poll(answer.data, self.level):
            self._event(event)
            if self.phase is not Phase.READY and event.kind != "reader_config":
                return

    def _event(self, e: CashlessEvent) -> None:
        match e.kind:
            case "reader_config":
                self.reader = e.config
                log.info("%s: reader %s", self.name, e.config)
            case "just_reset" if self.phase is Phase.READY:
                self.reinitialise("the reader reset itself")
            case "begin_session":
                self.session, self.vend = True, None
                funds = -1 if e.amount in (None, payloads.NO_FUNDS_INFO) else self._cents(e.amount)
                self._post(CardSessionBegun(self.name, funds))
            case "session_cancel_request" if self.session and self.vend is None:
                self._handle(self.send(payloads.CASHLESS_VEND, bytes([payloads.SESSION_COMPLETE])))
            case "vend_approved" if self.vend == "requested":
                self.vend = "approved"
                self._post(CardVendApproved(self.name, self._cents(e.amount or 0)))
            case "vend_approved":
                log.warning("%s: approval nobody is waiting for: vend failure", self.name)
                self._handle(self.send(payloads.CASHLESS_VEND, bytes([payloads.VEND_FAILURE])))
            case "vend_denied" if self.vend == "requested":
                self.vend = None
                self._post(CardVendDenied(self.name))
            case "end_session":
                self.session = True  # whatever we thought: the machine hears it ended
                self._lose_session("the reader ended the session")
            case "malfunction":
                self._post(DeviceFault(self.name, "malfunction", f"error code {e.code:02X}",
                                       blocking=False))
            case "out_of_sequence":
                self.reinitialise("command out of sequence")
            case _:
                log.debug("%s: %s", self.name, e.kind)

    def _cents(self, units: int) -> int:
        r = self.reader
        if r is None:
            raise ProtocolError("an amount before the reader's configuration")
        return codec.to_cents(units, r.scale, r.decimals, self.machine_decimals)

    def _lose_session(self, why: str) -> None:
        """The reader forgot the session: tell the machine so the buyer is never charged for
        a vend the reader cannot complete."""
        if self.vend == "requested":
            self._post(CardVendDenied(self.name))
        elif self.vend == "approved":
            self._post(DeviceFault(self.name, "session_lost",
                                   f"{why} after approving {self.vend_slot}", blocking=False))
        if self.session:
            self._post(CardSessionEnded(self.name))
        self.session, self.vend = False, None
