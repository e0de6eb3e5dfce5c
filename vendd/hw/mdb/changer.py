"""MDB coin changer (address 08): takes coins (a `CashAcceptor`) and pays change (a `Changer`).

Init: RESET, POLL until "just reset", SETUP (coin types, scaling), TUBE STATUS, COIN TYPE.
A payout is planned here with the fewest coins the tubes hold, dispensed type by type, and
measured with TUBE STATUS afterwards: what left the tubes is what was paid (a jam or an empty
tube makes it short, and the machine records the rest as owed). Faults are reported under the
device name "changer"."""

from __future__ import annotations

import logging
import time
from collections import deque

from vendd.config import MdbChangerConfig
from vendd.events import (
    CancelPressed,
    ChangeAvailability,
    CoinRejected,
    CreditInserted,
    DeviceFault,
    PayoutFinished,
)
from vendd.hw.mdb import change, codec, payloads
from vendd.hw.mdb.bus import MdbBus, MdbDevice, Phase
from vendd.hw.mdb.codec import Answer
from vendd.hw.mdb.payloads import CoinDeposited, CoinsDispensedManually, Slugs, Status

log = logging.getLogger(__name__)

TUBE_REFRESH_S = 2.0
FAULT_STATUSES = {"tube_sensor", "double_arrival", "acceptor_unplugged", "tube_jam",
                  "rom_checksum", "routing_error", "coin_jam", "credited_coin_removal"}


class _Payout:
    def __init__(self, requested: int, plan: dict[int, int], before: dict[int, int]) -> None:
        self.requested = requested
        self.chunks: deque[tuple[int, int]] = deque()
        for t, n in sorted(plan.items(), key=lambda kv: -kv[0]):
            while n > 0:
                self.chunks.append((t, min(n, 15)))
                n -= 15
        self.before = before
        self.into_tubes: dict[int, int] = {}  # coins routed to tubes while paying
        self.started = time.monotonic()
        self.busy_seen_at = 0.0
        self.waiting = False  # a DISPENSE was sent; waiting for the busy status to clear


class MdbChanger(MdbDevice):
    address = codec.CHANGER

    def __init__(self, name: str, bus: MdbBus, config: MdbChangerConfig,
                 machine_decimals: int) -> None:
        super().__init__(name, bus)
        self.config = config
        self.non_response_s = config.non_response_s
        self.machine_decimals = machine_decimals
        self.setup: payloads.ChangerSetup | None = None
        self.values: dict[int, int] = {}  # coin type -> cents
        self.tubes: dict[int, int] = {}
        self._want_accepting = False
        self._sent_accepting: bool | None = None
        self._requests: deque[int] = deque()
        self._payout: _Payout | None = None
        self._tubes_at = 0.0
        self._can_make_change: bool | None = None
        self.slugs = 0

    # --- CashAcceptor / Changer (controller thread) ------------------------------------------

    def set_accepting(self, accepting: bool) -> None:
        with self._lock:
            self._want_accepting = accepting
        self.bus.wake()

    def can_pay(self, amount: int) -> bool:
        with self._lock:
            values, tubes = dict(self.values), dict(self.tubes)
        return amount in change.payable(amount, values, tubes)

    def pay_out(self, amount: int) -> None:
        with self._lock:
            self._requests.append(amount)
        self.bus.wake()

    # --- bus thread ------------------------------------------------------------------------

    def answer_says_reset(self, answer: Answer) -> bool:
        return any(isinstance(i, Status) and i.name == "just_reset"
                   for i in payloads.parse_changer_poll(answer.data))

    def take_held(self) -> None:
        """Coins the changer took and has not reported yet (a daemon that died before its
        ACK): credited now, at the value SETUP gives, before RESET forgets them."""
        deposits = [item for data in self.held_items()
                    for item in payloads.parse_changer_poll(data)
                    if isinstance(item, CoinDeposited)]
        if not deposits:
            return
        self._read_setup()
        for item in deposits:
            log.info("%s: coin type %d held since before the reset", self.name, item.coin_type)
            self._deposit(item)

    def _read_setup(self) -> payloads.ChangerSetup:
        setup = payloads.parse_changer_setup(self.send(1).data)
        values = {}
        for t, credit in enumerate(setup.credits):
            if credit:
                values[t] = codec.to_cents(credit * setup.scaling, 1, setup.decimals,
                                           self.machine_decimals)
        with self._lock:
            self.setup, self.values = setup, values
        return setup

    def configure(self) -> None:
        setup = self._read_setup()
        log.info("%s: level %d, coins %s", self.name, setup.level, self.values)
        self._read_tubes()
        self._sent_accepting = None
        self._apply_accepting()

    def went_offline(self) -> None:
        super().went_offline()
        self._sent_accepting = None
        if self._payout is not None:  # nothing more comes out of a changer that is gone
            self._finish_payout(measure=False)

    def reinitialise(self, why: str) -> None:
        super().reinitialise(why)
        if self._payout is not None:
            self._finish_payout(measure=False)

    def shutdown(self) -> None:
        self.send(4, b"\x00\x00\xff\xff")  # COIN TYPE: accept none

    def work(self) -> None:
        self._apply_accepting()
        if self._payout is None:
            with self._lock:
                amount = self._requests.popleft() if self._requests else None
            if amount is not None:
                self._start_payout(amount)
        p = self._payout
        if p is not None and not p.waiting and p.chunks:
            coin_type, count = p.chunks.popleft()
            self.send(5, payloads.dispense_byte(coin_type, count))
            p.waiting, p.busy_seen_at = True, time.monotonic()
        answer = self.send(3)
        items = payloads.parse_changer_poll(answer.data) if answer.kind == "data" else []
        busy = False
        for item in items:
            busy |= self._item(item)
            if self.phase is not Phase.READY:
                return
        self._advance_payout(busy)
        if self._payout is None and time.monotonic() - self._tubes_at > TUBE_REFRESH_S:
            self._read_tubes()

    def _apply_accepting(self) -> None:
        with self._lock:
            want = self._want_accepting
        if want == self._sent_accepting:
            return
        mask = codec.type_mask(self.values) if want else b"\x00\x00"
        self.send(4, mask + b"\xff\xff")
        self._sent_accepting = want

    def _item(self, item: payloads.ChangerItem) -> bool:
        """Handle one poll item; True when it says a payout is still busy."""
        if isinstance(item, CoinDeposited):
            self._deposit(item)
        elif isinstance(item, CoinsDispensedManually):
            log.info("%s: %d coins of type %d dispensed by hand", self.name, item.count,
                     item.coin_type)
            with self._lock:
                self.tubes[item.coin_type] = item.in_tube
        elif isinstance(item, Slugs):
            self.slugs += item.count
        elif item.name == "payout_busy":
            return True
        elif item.name == "escrow_request":
            self._post(CancelPressed())  # the coin-return lever
        elif item.name == "just_reset":
            self.reinitialise("just reset without being asked")
        elif item.name in FAULT_STATUSES:
            self._post(DeviceFault(self.name, item.name, "reported by the changer",
                                   blocking=False))
        else:
            log.info("%s: status %s", self.name, item.name)
        return False

    def _deposit(self, item: CoinDeposited) -> None:
        value = self.values.get(item.coin_type)
        if item.route == "rejected":
            self._post(CoinRejected(self.name, f"coin type {item.coin_type} rejected"))
            return
        if value is None or item.route == "unused":
            detail = f"coin type {item.coin_type} routed to {item.route} is not in SETUP"
            self._post(DeviceFault(self.name, "unknown_coin", detail, blocking=False))
            return
        route = "tubes" if item.route == "tubes" else "cashbox"
        if route == "tubes":
            with self._lock:
                self.tubes[item.coin_type] = item.in_tube
            if self._payout is not None:
                p = self._payout
                p.into_tubes[item.coin_type] = p.into_tubes.get(item.coin_type, 0) + 1
        self._post(CreditInserted(self.name, value, f"{value}c", route=route))
        if route == "tubes":
            self._check_change()

    # --- payout ----------------------------------------------------------------------------

    def _start_payout(self, amount: int) -> None:
        self._read_tubes()
        with self._lock:
            plan = change.fewest_coins(amount, self.values, self.tubes)
            before = dict(self.tubes)
        log.info("%s: paying %d as %s", self.name, amount, plan)
        self._payout = _Payout(amount, plan, before)
        if not plan:
            self._finish_payout(measure=False)

    def _advance_payout(self, busy: bool) -> None:
        p = self._payout
        if p is None:
            return
        now = time.monotonic()
        if busy:
            p.busy_seen_at = now
        elif p.waiting and now - p.busy_seen_at >= self.bus.config.poll_interval_ms / 1000:
            p.waiting = False
        if now - p.started > self.config.payout_timeout_s:
            self._post(DeviceFault(self.name, "payout_timeout", "payout still busy",
                                   blocking=False))
            self._finish_payout()
        elif not p.waiting and not p.chunks:
            self._finish_payout()

    def _finish_payout(self, measure: bool = True) -> None:
        p, self._payout = self._payout, None
        assert p is not None
        paid = 0
        if measure:
            self._read_tubes()
            with self._lock:
                for t, before in p.before.items():
                    out = before + p.into_tubes.get(t, 0) - self.tubes.get(t, 0)
                    paid += max(out, 0) * self.values.get(t, 0)
        paid = min(paid, p.requested)
        log.info("%s: paid %d of %d", self.name, paid, p.requested)
        self._post(PayoutFinished(self.name, p.requested, paid))

    # --- tubes and "exact change only" -----------------------------------------------------

    def _read_tubes(self) -> None:
        status = payloads.parse_tube_status(self.send(2).data)
        with self._lock:
            self.tubes = {t: n for t, n in enumerate(status.counts) if t in self.values}
        self._tubes_at = time.monotonic()
        self._check_change()

    def change_needed(self) -> list[int]:
        """The change amounts the tubes must be able to pay: every step of the smallest coin
        up to the configured limit, by default the largest coin less the smallest (a buyer
        overpays by less than the last coin, whatever the price of the cheapest product)."""
        step = min(self.values.values(), default=0)
        if step <= 0:
            return []
        limit = self.config.exact_change_limit
        if limit is None:
            limit = max(self.values.values()) - step
        return list(range(step, limit + 1, step))

    def _check_change(self) -> None:
        needed = self.change_needed()
        with self._lock:
            ok = set(needed) <= change.payable(max(needed, default=0), self.values, self.tubes)
        if ok != self._can_make_change:
            self._can_make_change = ok
            log.info("%s: %s", self.name, "can make change" if ok else "exact change only")
            self._post(ChangeAvailability(self.name, ok))
