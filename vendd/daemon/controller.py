"""The one loop: event queue -> machine -> ledger -> devices.

Only this thread touches the machine state and the writing ledger connection. Devices,
library callbacks and MQTT requests put events on `queue` and return."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from vendd import __version__
from vendd import machine as m
from vendd import menu as sm
from vendd.commands import (
    CancelTimer,
    CardSessionComplete,
    CardVendRequest,
    CardVendResult,
    Command,
    EscrowDecision,
    Fact,
    PayOut,
    SetAccepting,
    Show,
    StartTimer,
    StartVend,
)
from vendd.config import Config
from vendd.daemon.menu_view import Probe, link_label, network_up, pin_record, sales_by_maker
from vendd.daemon.recovery import config_facts, resolve_open_vend
from vendd.errors import DeviceError, LedgerError
from vendd.events import (
    DeviceFault,
    Event,
    PayoutFinished,
    Started,
    TimerExpired,
    VendFinished,
    VendOutcome,
)
from vendd.hw.factory import Devices
from vendd.ledger import JournalRow, Ledger
from vendd.ledger.checkpoint import SalesDigest, checkpoint_fact
from vendd.messages import render
from vendd.worker import ListenerBoundary

log = logging.getLogger(__name__)

Listener = Callable[[m.State, list[JournalRow]], None]
MAX_IDLE_WAIT_S = 0.5  # the loop turns at least this often (watchdog pings, stop requests)


@dataclass(frozen=True)
class _Request:
    event: Event
    reply: Future[m.Reply]


class _Stop:
    pass


class Controller:
    def __init__(self, config: Config, ledger: Ledger, devices: Devices,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.ledger = ledger
        self.devices = devices
        self.clock = clock
        self.queue: queue.Queue[Event | _Request | _Stop] = queue.Queue()
        self.state: m.State | None = None
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.listeners: list[Listener] = []  # the core's own (called as they are)
        self._outside: list[Listener] = []  # everyone else's: behind the boundary
        self.listener_errors = ListenerBoundary("controller")
        self.loop_hooks: list[Callable[[], None]] = []  # called every turn (watchdog)
        self.fatal: BaseException | None = None
        self._timers: dict[str, tuple[float, int]] = {}
        self._thread: threading.Thread | None = None
        self._stop_deadline: float | None = None
        self._stop_grace = 0.0
        self._stepped = threading.Condition()  # notified after every step
        # The seamstresses' menu: gets the buttons while the service key is on.
        self.menu = sm.initial(sm.MenuSettings.from_config(config))
        self.status_probes: dict[str, Probe] = {"network": network_up}  # + "broker"
        self._menu_sales: tuple[sm.MakerSales, ...] | None = None
        # The stored sales as the start-up check read them (daemon/app.py); None: read anew.
        self.checked_sales: SalesDigest | None = None

    # --- the outside world's side ------------------------------------------------------------

    def post(self, event: Event) -> None:
        self.queue.put(event)

    def submit(self, event: Event) -> Future[m.Reply]:
        """Post a person's request; the future resolves with the machine's Reply."""
        reply: Future[m.Reply] = Future()
        self.queue.put(_Request(event, reply))
        return reply

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Follow every step from outside the core (telemetry, the simulator's panel): the
        listener's errors are logged and counted, never raised into a sale."""
        self._outside.append(listener)

        def unsubscribe() -> None:
            if listener in self._outside:
                self._outside.remove(listener)

        return unsubscribe

    def add_probe(self, name: str, probe: Probe) -> None:
        """A link for the service menu's Estado screen ("broker")."""
        self.status_probes[name] = probe

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)
        self._thread.start()

    def wait_until(self, predicate: Callable[[m.State], bool], timeout: float) -> bool:
        """Wait (off the controller thread) until the machine's state satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._stepped:
            while not (self.state is not None and predicate(self.state)):
                left = deadline - time.monotonic()
                if left <= 0 or self.stopped.is_set():
                    return False
                self._stepped.wait(min(left, MAX_IDLE_WAIT_S))
        return True

    def stop(self, vend_grace_s: float = 0.0, timeout: float = 10.0) -> None:
        """Stop the loop once no vend is under way (waiting up to `vend_grace_s` for one to
        finish) and every queued event has been handled: nothing posted is dropped."""
        self._stop_grace = vend_grace_s  # before the loop can see the stop request
        self.queue.put(_Stop())
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.state = self._recover()
            self._step(Started())
            # A lock-out on the menu outlives a restart: the journal has the wrong PINs.
            self._menu(pin_record(self.ledger.db, self.menu.settings.lock_s))
            self.ready.set()
            while not self._should_exit():
                item = self._next()
                if isinstance(item, _Stop):
                    self._stop_deadline = self.clock() + self._stop_grace
                elif isinstance(item, _Request):
                    self._request(item)
                elif item is not None:
                    self._dispatch(item)
        except LedgerError as exc:
            # Nothing may move once the ledger cannot record it: devices go safe in stop().
            log.critical("ledger failure, stopping: %s", exc)
            self.fatal = exc
        except Exception as exc:  # the thread's boundary: record why the machine stopped
            log.exception("the controller loop failed")
            self.fatal = exc
        finally:
            self.stopped.set()
            self.ready.set()

    def _should_exit(self) -> bool:
        if self._stop_deadline is None:
            return False
        vending = self.state is not None and self.state.vend is not None
        if vending and self.clock() < self._stop_deadline:
            return False
        return self.queue.empty()

    def _next(self) -> Event | _Request | _Stop | None:
        for hook in self.loop_hooks:
            hook()
        now = self.clock()
        due = min(self._timers.items(), key=lambda kv: kv[1][0], default=None)
        if due is not None and due[1][0] <= now:
            name, (_, token) = due
            del self._timers[name]
            return TimerExpired(name, token)
        wait = MAX_IDLE_WAIT_S if due is None else min(MAX_IDLE_WAIT_S, due[1][0] - now)
        try:
            return self.queue.get(timeout=max(wait, 0.0))
        except queue.Empty:
            return None

    def _request(self, request: _Request) -> None:
        replies = [c for c in self._step(request.event) if isinstance(c, m.Reply)]
        request.reply.set_result(replies[0] if replies else m.Reply(True))

    def _dispatch(self, event: Event) -> None:
        assert self.state is not None
        if sm.is_menu_timer(event) or (self.state.service_key and sm.wants(event)):
            self._menu(event)
        else:
            self._step(event)

    def _step(self, event: Event) -> list[Command]:
        assert self.state is not None
        in_service = self.state.service_key
        step = m.handle(self.state, event)
        rows = self.ledger.append(step.facts)  # before any device moves
        self.state = step.state
        for command in step.commands:
            if not isinstance(command, Fact | m.Reply):
                self._run_command(command)
        for listener in self.listeners:
            listener(self.state, rows)
        for listener in list(self._outside):
            self.listener_errors.call(listener, self.state, rows)
        if in_service or self.state.service_key or self.menu.testing:
            self._menu_follow(in_service, rows)
        with self._stepped:
            self._stepped.notify_all()
        return step.commands

    # --- the service menu: runs beside the machine while the key is on -----------------------

    def _menu_follow(self, was: bool, rows: list[JournalRow]) -> None:
        assert self.state is not None
        fresh = any(r.kind in ("sale", "cash_collected") for r in rows)
        if self.state.service_key and not was:
            self._menu(sm.Enter(self._menu_view(fresh=True)))
        elif was and not self.state.service_key:
            self._menu(sm.Leave())
        elif self.state.service_key:
            self._menu(sm.Refresh(self._menu_view(fresh)))
        for row in rows:
            if row.kind == "test_vend":
                self._menu(sm.TestDone(row.fields["slot"], row.fields["outcome"]))

    def _menu(self, event: Event) -> None:
        self.menu, commands = sm.handle(self.menu, event)
        # Screen and timers first: a Submit below may answer with a newer screen.
        for command in commands:
            if isinstance(command, Show):
                self._show(command)
            elif isinstance(command, sm.Record):  # sign-ins, wrong PINs: the menu's own facts
                self._journal([Fact(command.kind, command.fields)])
            elif not isinstance(command, sm.Submit):
                self._run_command(command)
        for command in commands:
            if isinstance(command, sm.Submit):  # journaled with who asked, like any change
                replies = [c for c in self._step(command.event) if isinstance(c, m.Reply)]
                self._menu(sm.Answer(replies[0] if replies else m.Reply(True)))

    def _journal(self, facts: list[Fact]) -> None:
        assert self.state is not None
        rows = self.ledger.append(facts)
        for listener in self.listeners:
            listener(self.state, rows)

    def _menu_view(self, fresh: bool) -> sm.View:
        s = self.state
        assert s is not None
        if fresh or self._menu_sales is None:
            names = {mk.id: mk.name for mk in self.config.makers}
            self._menu_sales = sales_by_maker(self.ledger.db, self.ledger.tz,
                                              self.config.shares, names)
        probe = {name: self.listener_errors.call(fn) for name, fn in self.status_probes.items()}
        broker = "off" if not self.config.mqtt.enabled else (
            "down" if "mqtt" in s.faults else link_label(probe.get("broker")))
        return sm.View(slots=s.slots, cash_box=s.cash_box, faults=s.faults,
                       vending=s.vend.slot if s.vend else None, sales=self._menu_sales,
                       network=link_label(probe.get("network")), broker=broker)

    def _show(self, show: Show) -> None:
        try:
            self.devices.display.show(render(show.key, self.config.machine.language,
                                             show.params))
        except DeviceError as exc:
            log.error("display failed: %s", exc)

    def _run_command(self, command: Command) -> None:
        d = self.devices
        try:
            match command:
                case StartVend(vend_id=vend_id, slot=slot):
                    d.dispenser.vend(vend_id, slot)
                case SetAccepting(accepting=accepting):
                    for acceptor in d.acceptors:
                        acceptor.set_accepting(accepting)
                    if d.card_reader is not None:
                        d.card_reader.set_enabled(accepting)
                case Show() if self.state is not None and self.state.service_key:
                    pass  # the service menu has the display
                case Show(key=key, params=params):
                    d.display.show(render(key, self.config.machine.language, params))
                case StartTimer(name=name, seconds=seconds, token=token):
                    self._timers[name] = (self.clock() + seconds, token)
                case CancelTimer(name=name):
                    self._timers.pop(name, None)
                case PayOut(amount=amount):
                    if d.changer is None:
                        self.post(PayoutFinished("changer", amount, 0))
                    else:
                        d.changer.pay_out(amount)
                case CardVendRequest(price=price, slot=slot) if d.card_reader:
                    d.card_reader.request_vend(price, slot)
                case CardVendResult(slot=slot, success=success) if d.card_reader:
                    d.card_reader.vend_result(slot, success)
                case CardSessionComplete() if d.card_reader:
                    d.card_reader.complete_session()
                case EscrowDecision(device=device, stack=stack):
                    escrow = next((getattr(a, "escrow", None) for a in d.acceptors
                                   if a.name == device), None)
                    if escrow is None:
                        log.warning("no bill validator %r for %s", device, command)
                    else:
                        escrow(stack)
                case _:
                    log.warning("no device for %s", command)
        except DeviceError as exc:
            self._device_failed(command, exc)

    def _device_failed(self, command: Command, exc: DeviceError) -> None:
        log.error("%s failed: %s", command, exc)
        if isinstance(command, StartVend):
            self.post(DeviceFault("dispenser", "start_failed", str(exc), blocking=False))
            self.post(VendFinished(command.vend_id, command.slot, VendOutcome.STUCK_AT_HOME))

    # --- start-up: the journal says where we are -------------------------------------------

    def _recover(self) -> m.State:
        facts = config_facts(self.config, self.ledger)
        record = self.ledger.machine()
        if record.open_vend is not None:
            facts += resolve_open_vend(record.open_vend, self.devices.dispenser.has_drop_sensor)
        facts.append(Fact("started", {"version": __version__}))
        self.ledger.append(facts)
        # The state the next start checks from (it replays only what comes after).
        self.ledger.append([checkpoint_fact(self.ledger.db.conn, self.checked_sales)])
        return initial_state(self.config, self.ledger, self.devices)


def initial_state(config: Config, ledger: Ledger, devices: Devices) -> m.State:
    record = ledger.machine()
    slots = {
        s.id: m.Slot(s.id, s.product, s.maker, s.price, s.capacity, s.stock, s.enabled, s.fault,
                     s.count_me)
        for s in ledger.slots()
        if any(c.id == s.id for c in config.slots)
    }
    settings = m.Settings(
        max_credit=config.sales.max_credit,
        message_s=config.sales.selection_timeout_s,
        unclaimed_credit_s=config.sales.unclaimed_credit_s,
        currency=config.machine.currency,
        decimals=config.machine.decimals,
        has_changer=devices.changer is not None,
        payment_devices=frozenset(
            d.name for d in [*devices.acceptors, devices.card_reader] if d is not None
        ),
    )
    return m.State(
        settings=settings,
        slots=slots,
        credit=record.credit,
        last_vend_id=ledger.last_vend_id(),
        out_of_service=record.out_of_service,
        cash_box=record.cash_box,
    )
