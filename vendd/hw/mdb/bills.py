"""MDB bill validator (address 30): a `CashAcceptor` with escrow.

A bill in escrow is reported as `BillEscrowed`; the machine answers with `escrow(stack)`.
Only a bill the validator reports as stacked is credited (`CreditInserted`, route "stacker");
a bill with no decision in `escrow_timeout_s` goes back to the buyer. A full stacker is a
blocking fault of this device only."""

from __future__ import annotations

import logging
import time

from vendd.config import MdbBillValidatorConfig
from vendd.events import BillEscrowed, CoinRejected, CreditInserted, DeviceFault
from vendd.hw.mdb import codec, payloads
from vendd.hw.mdb.bus import MdbBus, MdbDevice, Phase
from vendd.hw.mdb.codec import Answer
from vendd.hw.mdb.payloads import BillRouted, DisabledAttempts, Status

log = logging.getLogger(__name__)

FAULT_STATUSES = {"motor", "sensor", "rom_checksum", "jam", "bill_removed", "cash_box_out",
                  "credited_bill_removal"}
STACKER_REFRESH_S = 5.0


class MdbBillValidator(MdbDevice):
    address = codec.BILL_VALIDATOR

    def __init__(self, name: str, bus: MdbBus, config: MdbBillValidatorConfig,
                 machine_decimals: int) -> None:
        super().__init__(name, bus)
        self.config = config
        self.non_response_s = config.non_response_s
        self.machine_decimals = machine_decimals
        self.setup: payloads.BillSetup | None = None
        self.values: dict[int, int] = {}
        self._want_accepting = False
        self._sent_accepting: bool | None = None
        self._escrow: tuple[int, int, float] | None = None  # type, cents, since
        self._decision: bool | None = None
        self.stacker_full = False
        self._stacker_at = 0.0
        self.rejected = 0

    # --- CashAcceptor + escrow (controller thread) -------------------------------------------

    def set_accepting(self, accepting: bool) -> None:
        with self._lock:
            self._want_accepting = accepting
        self.bus.wake()

    def escrow(self, stack: bool) -> None:
        """The machine's decision about the bill in escrow."""
        with self._lock:
            self._decision = stack
        self.bus.wake()

    # --- bus thread ------------------------------------------------------------------------

    def answer_says_reset(self, answer: Answer) -> bool:
        return any(isinstance(i, Status) and i.name == "just_reset"
                   for i in payloads.parse_bill_poll(answer.data))

    def take_held(self) -> None:
        """Before RESET: a bill stacked but not yet reported is credited; a bill in escrow
        (reported to a daemon that died, or not yet) is given back: no one decided to keep it,
        and the buyer is still at the machine to take it."""
        items = [item for data in self.held_items() for item in payloads.parse_bill_poll(data)]
        stacked = [i for i in items if isinstance(i, BillRouted) and i.route == "stacked"]
        if stacked:
            self._read_setup()
            for item in stacked:
                self._routed(item)
        log.info("%s: returning any bill left in escrow", self.name)
        self.send(5, b"\x00")  # ESCROW: return

    def _read_setup(self) -> payloads.BillSetup:
        setup = payloads.parse_bill_setup(self.send(1).data)
        values = {}
        for t, credit in enumerate(setup.credits):
            if credit:
                values[t] = codec.to_cents(credit, setup.scaling, setup.decimals,
                                           self.machine_decimals)
        with self._lock:
            self.setup, self.values = setup, values
        return setup

    def configure(self) -> None:
        setup = self._read_setup()
        values = self.values
        with self._lock:
            self._escrow, self._decision = None, None
        log.info("%s: level %d, bills %s, escrow %s", self.name, setup.level, values,
                 setup.escrow)
        self._read_stacker()
        self._sent_accepting = None
        self._apply_accepting()

    def went_offline(self) -> None:
        super().went_offline()
        self._sent_accepting = None

    def shutdown(self) -> None:
        if self._escrow is not None:
            self.send(5, b"\x00")  # give the bill back
        self.send(4, b"\x00\x00\x00\x00")

    def fault_persists(self) -> bool:
        return self.stacker_full

    def work(self) -> None:
        if self.stacker_full and time.monotonic() - self._stacker_at > STACKER_REFRESH_S:
            self._read_stacker()  # emptied?
        self._apply_accepting()
        self._apply_escrow()
        answer = self.send(3)
        if answer.kind != "data":
            return
        for item in payloads.parse_bill_poll(answer.data):
            self._item(item)
            if self.phase is not Phase.READY:
                return

    def _apply_accepting(self) -> None:
        with self._lock:
            want = self._want_accepting and not self.stacker_full
        if want == self._sent_accepting:
            return
        mask = codec.type_mask(self.values) if want else b"\x00\x00"
        self.send(4, mask + mask)  # bill types + escrow for the same types
        self._sent_accepting = want

    def _apply_escrow(self) -> None:
        with self._lock:
            held, decision = self._escrow, self._decision
        if held is None:
            return
        if decision is None and time.monotonic() - held[2] < self.config.escrow_timeout_s:
            return
        stack = bool(decision)
        log.info("%s: %s the bill of %d", self.name, "stacking" if stack else "returning",
                 held[1])
        self.send(5, b"\x01" if stack else b"\x00")
        with self._lock:
            self._escrow, self._decision = None, None

    def _item(self, item: payloads.BillItem) -> None:
        if isinstance(item, BillRouted):
            self._routed(item)
        elif isinstance(item, DisabledAttempts):
            log.info("%s: %d bills offered while disabled", self.name, item.count)
        elif item.name == "just_reset":
            self.reinitialise("just reset without being asked")
        elif item.name == "rejected":
            self.rejected += 1
            self._post(CoinRejected(self.name, "bill rejected"))
        elif item.name in FAULT_STATUSES:
            self._post(DeviceFault(self.name, item.name, "reported by the bill validator",
                                   blocking=False))
        else:
            log.debug("%s: status %s", self.name, item.name)

    def _routed(self, item: BillRouted) -> None:
        value = self.values.get(item.bill_type)
        if item.route == "escrow":
            if value is None:  # a type SETUP never named: never credit it
                self.send(5, b"\x00")
                return
            with self._lock:
                self._escrow, self._decision = (item.bill_type, value, time.monotonic()), None
            self._post(BillEscrowed(self.name, value))
        elif item.route == "stacked":
            with self._lock:
                self._escrow, self._decision = None, None
            if value is None:
                detail = f"bill type {item.bill_type} stacked but not in SETUP"
                self._post(DeviceFault(self.name, "unknown_bill", detail, blocking=False))
            else:
                self._post(CreditInserted(self.name, value, f"{value}c", route="stacker"))
            self._read_stacker()
        elif item.route == "returned":
            with self._lock:
                self._escrow, self._decision = None, None
            log.info("%s: bill returned", self.name)
        elif item.route == "disabled_rejected":
            self.rejected += 1
            self._post(CoinRejected(self.name, "bill type disabled"))
        else:
            log.info("%s: bill routed to %s", self.name, item.route)

    def _read_stacker(self) -> None:
        stacker = payloads.parse_stacker(self.send(6).data)
        self._stacker_at = time.monotonic()
        if stacker.full and not self.stacker_full:
            self.raise_fault("stacker_full", f"{stacker.count} bills in the stacker")
        self.stacker_full = stacker.full
