"""The acceptor's buffer is money, on a line that misbehaves: the ccTalk driver against the
simulated acceptor on a real pty. No coin credited twice, none lost without a fault."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from cctalk_rig import COINS, Events, config_for
from support import wait_for

from simulator.cctalk_peer import SimCctalkAcceptor
from vendd.events import CoinCounter, CreditInserted, DeviceFault, DeviceRecovered
from vendd.hw.cctalk import codec
from vendd.hw.cctalk.driver import CctalkCoinAcceptor
from vendd.hw.cctalk.line import CctalkLine, NoResponseError, open_port

VARIANTS = [(True, "simple"), (False, "simple"), (True, "crc16"), (False, "crc16")]
IDS = ["echo-simple", "noecho-simple", "echo-crc16", "noecho-crc16"]


@pytest.fixture(params=VARIANTS, ids=IDS)
def sim(request) -> Iterator[SimCctalkAcceptor]:
    echo, checksum = request.param
    peer = SimCctalkAcceptor(COINS, echo=echo, checksum=checksum, coin_gap_s=0.0).start()
    yield peer
    peer.stop()


class Rig:
    def __init__(self, sim: SimCctalkAcceptor, **config: object) -> None:
        self.sim = sim
        self.events = Events()
        self.driver = CctalkCoinAcceptor("coin_acceptor", config_for(sim, **config))

    def start(self, mark: tuple[int, int] | None = None) -> Rig:
        self.driver.resume(mark)
        self.driver.start(self.events)
        self.driver.set_accepting(True)
        return self

    def polls(self, n: int = 3) -> None:
        """Wait until the driver has read the credit buffer `n` more times."""
        seen = self.sim.requests.count(codec.READ_CREDIT)
        wait_for(lambda: self.sim.requests.count(codec.READ_CREDIT) >= seen + n,
                 what=f"{n} more credit reads")

    def credits(self) -> list[CreditInserted]:
        return self.events.of(CreditInserted)

    def mark(self) -> tuple[int, int]:
        """What the ledger would hold: the last journaled (serial, counter)."""
        last = self.credits()[-1]
        assert last.serial is not None and last.counter is not None
        return last.serial, last.counter


@pytest.fixture
def rig(sim) -> Iterator[Rig]:
    r = Rig(sim).start()
    wait_for(lambda: sim.accepting, what="master inhibit released")
    yield r
    r.driver.stop()


def insert_all(rig: Rig, positions: list[int]) -> None:
    for n, position in enumerate(positions, start=1):
        assert rig.sim.insert(position)
        wait_for(lambda n=n: len(rig.credits()) == n, what=f"credit {n}")


# --- each credit names its event; the buffer is taken up at start ----------------------------


def test_each_credit_carries_serial_and_counter(rig):
    insert_all(rig, [1, 2, 3])
    assert [(c.amount, c.serial, c.counter) for c in rig.credits()] == [
        (5, 12345678, 1), (10, 12345678, 2), (25, 12345678, 3)]


def test_first_contact_journals_a_baseline_and_credits_nothing(sim):
    sim.push_raw(1, 1)
    sim.push_raw(2, 1)  # another host's coins: already credited there
    r = Rig(sim).start(None)
    try:
        wait_for(lambda: r.events.of(CoinCounter), what="the baseline")
        assert r.events.of(CoinCounter) == [CoinCounter("coin_acceptor", 12345678, 2, "baseline")]
        r.polls()
        assert r.credits() == []
    finally:
        r.driver.stop()


def test_coins_left_in_the_buffer_are_credited_once_at_the_next_start(sim):
    """A daemon killed with coins still in the acceptor: the next start credits exactly the
    events newer than the last journaled counter, nothing older."""
    first = Rig(sim).start()
    wait_for(lambda: sim.accepting)
    insert_all(first, [1, 3])
    mark = first.mark()
    first.driver.stop()
    sim.push_raw(2, 1)  # in the buffer, never journaled (the daemon died before it could)
    sim.push_raw(1, 1)
    second = Rig(sim).start(mark)
    try:
        wait_for(lambda: len(second.credits()) == 2, what="the two buffered coins")
        second.polls()
        assert [(c.amount, c.counter) for c in second.credits()] == [(10, 3), (5, 4)]
        assert second.events.of(DeviceFault) == []
    finally:
        second.driver.stop()


def test_start_with_nothing_new_credits_nothing(sim):
    sim.push_raw(1, 1)
    sim.push_raw(3, 1)
    r = Rig(sim).start((12345678, 2))
    try:
        r.polls()
        assert r.credits() == [] and r.events.of(DeviceFault) == []
    finally:
        r.driver.stop()


def test_counter_jump_of_six_at_start_is_a_lost_events_fault_of_one(sim):
    for position in [1, 2, 3, 1, 2, 3]:
        sim.push_raw(position, 1)
    r = Rig(sim).start((12345678, 0))
    try:
        wait_for(lambda: len(r.credits()) == 5, what="the five still buffered")
        fault = r.events.faults("lost_events")
        assert len(fault) == 1 and fault[0].count == 1 and not fault[0].blocking
        assert [c.amount for c in r.credits()] == [COINS[p][0] for p in [2, 3, 1, 2, 3]]
        assert [c.counter for c in r.credits()] == [2, 3, 4, 5, 6]
    finally:
        r.driver.stop()


def test_counter_jump_of_six_between_polls(rig):
    insert_all(rig, [1])
    assert all(rig.sim.insert_burst([2, 2, 2, 2, 2, 2]))
    wait_for(lambda: len(rig.credits()) == 6, what="five of the six")
    fault = rig.events.faults("lost_events")
    assert len(fault) == 1 and fault[0].count == 1


def test_another_serial_number_rebases(sim):
    sim.push_raw(1, 1)
    r = Rig(sim).start((999, 0))  # the ledger knew another acceptor
    try:
        wait_for(lambda: r.events.of(CoinCounter), what="the new baseline")
        assert r.events.of(CoinCounter)[0].reason == "other_device"
        r.polls()
        assert r.credits() == []
    finally:
        r.driver.stop()


def test_a_reset_device_rebases_on_zero(sim):
    r = Rig(sim).start((12345678, 40))  # the acceptor lost power since: counter 0
    try:
        wait_for(lambda: r.events.faults("device_reset"), what="the reset")
        assert CoinCounter("coin_acceptor", 12345678, 0, "reset") in r.events.of(CoinCounter)
        wait_for(lambda: sim.accepting, what="inhibits restored")
        assert sim.insert(2)
        wait_for(lambda: [c.counter for c in r.credits()] == [1])
    finally:
        r.driver.stop()


# --- a counter that does not move forward by 1..5 is read again ------------------------------


def test_counter_one_step_back_in_one_reply_credits_nothing_again(rig):
    insert_all(rig, [3, 3, 2, 1])
    before = [c.amount for c in rig.credits()]
    rig.sim.counter_back(1)
    rig.polls(4)
    assert [c.amount for c in rig.credits()] == before
    assert rig.events.of(DeviceFault) == []
    assert rig.sim.insert(1)
    wait_for(lambda: len(rig.credits()) == 5)
    rig.polls()
    assert [c.amount for c in rig.credits()] == [*before, 5]


def test_counter_behind_in_agreeing_reads_is_a_fault_never_credit(rig):
    insert_all(rig, [3, 2])
    rig.sim.counter_back(3)  # three replies in a row: two of them agree
    wait_for(lambda: rig.events.faults("counter_behind"), what="counter_behind")
    fault = rig.events.faults("counter_behind")[0]
    assert fault.blocking and fault.count == 1
    wait_for(lambda: rig.events.of(DeviceRecovered), what="the counter right again")
    wait_for(lambda: rig.sim.accepting, what="accepting again")
    rig.polls()
    assert [c.amount for c in rig.credits()] == [25, 10]
    assert rig.sim.insert(1)
    wait_for(lambda: [c.amount for c in rig.credits()] == [25, 10, 5])


def test_line_error_that_keeps_the_simple_checksum_gives_no_money(rig):
    insert_all(rig, [1])
    for _ in range(3):
        rig.sim.line_error(1)
        rig.polls()
    assert [c.amount for c in rig.credits()] == [5]
    assert rig.sim.insert(2)
    wait_for(lambda: [c.amount for c in rig.credits()] == [5, 10])
    assert rig.events.of(DeviceFault) == []


# --- replies that do not answer the request ---------------------------------------------------


def test_late_replies_answer_their_own_request(sim):
    """The acceptor answers every request 120 ms late, four times the reply timeout: the
    driver waits for the late reply instead of sending again, so the coin table is right and
    every coin is credited once."""
    sim.reply_delay_s = 0.12
    # The late window is wide (a loaded machine can delay the peer's thread a lot): what is
    # checked is whose answer each reply is taken for, not how fast it came.
    r = Rig(sim, reply_timeout_ms=30, late_reply_ms=3000).start()
    try:
        wait_for(lambda: sim.accepting, timeout=15, what="accepting")
        ids = r.driver.identity["coin_ids"]
        assert ids == {p: f"US{COINS[p][0]:03d}A" if p in COINS else "......"
                       for p in range(1, 17)}
        assert sim.insert(3) and sim.insert(1)
        wait_for(lambda: len(r.credits()) == 2, timeout=15)
        r.polls()
        assert [c.amount for c in r.credits()] == [25, 5]
        assert r.driver.line.counters.late_replies > 0
    finally:
        r.driver.stop()


def test_reply_later_than_the_window_is_drained_before_the_next_request(sim):
    line = CctalkLine(config_for(sim), lambda: open_port(config_for(sim)), threading.Event())
    line.open()
    try:
        sim.late(1.0)  # far beyond the 90 ms window of config_for
        with pytest.raises(NoResponseError):
            line.transact(codec.SIMPLE_POLL, retries=0)
        assert line.ser is not None
        ser = line.ser
        wait_for(lambda: ser.in_waiting > 0, what="the late reply on the line")
        frame = line.transact(codec.SERIAL_NUMBER)
        assert codec.parse_serial_number(frame.data) == sim.serial_number
        assert line.counters.stale_replies == 1
    finally:
        line.close()


MISFITS = [(echo, checksum, fault) for echo, checksum in VARIANTS
           for fault in ("wrong_source", "wrong_dest", "wrong_length")
           if not (fault == "wrong_source" and checksum == "crc16")]  # the CRC takes that byte


@pytest.mark.parametrize(("echo", "checksum", "fault"), MISFITS)
def test_misfit_replies_are_discarded_and_counted(echo, checksum, fault):
    peer = SimCctalkAcceptor(COINS, echo=echo, checksum=checksum, coin_gap_s=0.0).start()
    r = Rig(peer).start()
    try:
        wait_for(lambda: peer.accepting)
        insert_all(r, [2])
        getattr(peer, fault)(3)
        assert peer.insert(3)
        wait_for(lambda: r.driver.line.counters.misfits >= 3, what="three misfits")
        wait_for(lambda: len(r.credits()) == 2)
        r.polls()
        assert [c.amount for c in r.credits()] == [10, 25]
        assert [c.counter for c in r.credits()] == [1, 2]
    finally:
        r.driver.stop()
        peer.stop()


# --- the simulated acceptor as hosts meet it --------------------------------------------------


@pytest.mark.parametrize("unsupported", ["silence", "nak"])
def test_unsupported_and_malformed_requests_are_met_as_configured(unsupported):
    peer = SimCctalkAcceptor(COINS, unsupported=unsupported).start()
    line = CctalkLine(config_for(peer), lambda: open_port(config_for(peer)), threading.Event())
    line.open()
    try:
        for header, data in [(77, b""), (codec.MODIFY_MASTER_INHIBIT, b"\x01\x00"),
                             (codec.READ_CREDIT, b"\x01")]:
            with pytest.raises(NoResponseError):
                line.transact(header, data, retries=0)
        c = line.counters
        assert (c.naks, c.timeouts) == ((3, 0) if unsupported == "nak" else (0, 3))
        replies = {h: line.transact(h, d).data for h, d in [
            (codec.BUILD_CODE, b""), (codec.SOFTWARE_REVISION, b""), (codec.COMMS_REVISION, b""),
            (codec.POLLING_PRIORITY, b""), (codec.COIN_POSITION, b"\x03"),
            (codec.REQUEST_STATUS, b"")]}
        assert replies[codec.COIN_POSITION] == b"\x04\x00"
        assert replies[codec.COMMS_REVISION] == b"\x01\x04\x02"
        assert replies[codec.REQUEST_STATUS] == b"\x00"
        assert replies[codec.BUILD_CODE] and replies[codec.SOFTWARE_REVISION]
    finally:
        line.close()
        peer.stop()


def test_fast_coins_are_paced_and_none_is_lost():
    """Six coins as fast as a hand can drop them (the panel's `555553`): a real acceptor takes
    them one after another, so its buffer never overflows."""
    peer = SimCctalkAcceptor(COINS, coin_gap_s=0.1).start()
    r = Rig(peer, poll_interval_ms=60).start()
    try:
        wait_for(lambda: peer.accepting)
        assert all(peer.insert(p) for p in [1, 1, 1, 1, 1, 3])
        wait_for(lambda: len(r.credits()) == 6, what="six credits")
        assert r.events.faults("lost_events") == []
    finally:
        r.driver.stop()
        peer.stop()
