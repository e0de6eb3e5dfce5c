"""The ccTalk driver against the simulated acceptor on a real pty, one test per fault."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import serial
from cctalk_rig import COINS, CONFIGURED, Events, config_for
from support import wait_for

from simulator.cctalk_peer import SimCctalkAcceptor
from vendd.events import CoinRejected, DeviceFault, DeviceRecovered
from vendd.hw.base import CashAcceptor
from vendd.hw.cctalk import codec
from vendd.hw.cctalk.driver import CctalkCoinAcceptor
from vendd.hw.cctalk.line import SerialLike, open_port


@pytest.fixture(params=[(True, "simple"), (False, "simple"), (True, "crc16"), (False, "crc16")],
                ids=["echo-simple", "noecho-simple", "echo-crc16", "noecho-crc16"])
def sim(request) -> Iterator[SimCctalkAcceptor]:
    echo, checksum = request.param
    peer = SimCctalkAcceptor(COINS, echo=echo, checksum=checksum).start()
    yield peer
    peer.stop()


@pytest.fixture
def rig(sim) -> Iterator[tuple[SimCctalkAcceptor, CctalkCoinAcceptor, Events]]:
    events = Events()
    driver = CctalkCoinAcceptor("coin_acceptor", config_for(sim))
    driver.start(events)
    driver.set_accepting(True)
    wait_for(lambda: sim.accepting, what="master inhibit released")
    yield sim, driver, events
    driver.stop()


def expected_credits(sim: SimCctalkAcceptor, since: int = 0) -> list[int]:
    return [COINS[p][0] for p in sim.accepted[since:] if p in CONFIGURED]


def test_start_identifies_and_baselines(sim):
    sim.insert(1)  # buffered before start (rejected: master inhibited) ...
    sim.push_raw(2, 1)  # ... and a coin: neither is credited
    events = Events()
    driver = CctalkCoinAcceptor("coin_acceptor", config_for(sim))
    assert isinstance(driver, CashAcceptor)
    driver.start(events)
    try:
        assert driver.identity["manufacturer"] == "SIM"
        assert driver.identity["category"] == "Coin Acceptor"
        assert driver.identity["serial"] == 12345678
        assert driver.identity["coin_ids"][3] == "US025A"
        assert not sim.accepting  # not accepting until the controller says so
        driver.set_accepting(True)
        wait_for(lambda: sim.accepting)
        assert sim.insert(3)
        wait_for(lambda: events.credits() == [25])
        assert events.of(CoinRejected) == []
        assert events.of(DeviceFault) == []
    finally:
        driver.stop()


def test_coins_credited_once_in_order(rig):
    sim, driver, events = rig
    for i, p in enumerate([1, 2, 3, 3, 2, 1, 1]):
        assert sim.insert(p)
        if i % 3 == 2:  # up to 3 coins between two polls
            wait_for(lambda n=i + 1: len(events.credits()) == n)
    wait_for(lambda: len(events.credits()) == 7)
    assert events.credits() == expected_credits(sim)
    assert driver.line.counters.protocol_errors == 0


def test_inhibit_while_not_accepting(rig):
    sim, driver, events = rig
    driver.set_accepting(False)
    wait_for(lambda: not sim.accepting, what="master inhibit set")
    assert not sim.insert(2)
    wait_for(lambda: events.of(CoinRejected))
    assert events.of(CoinRejected)[0].reason == "inhibited coin"
    driver.set_accepting(True)
    wait_for(lambda: sim.accepting)
    assert sim.insert(2)
    wait_for(lambda: events.credits() == [10])


def test_coin_outside_inhibit_mask_is_rejected(rig):
    sim, _driver, events = rig
    assert not sim.insert(4)  # position 4 is not enabled by the daemon's mask
    wait_for(lambda: events.of(CoinRejected))
    assert events.of(CoinRejected)[0].reason == "inhibited coin 4"
    assert events.credits() == []


def test_unconfigured_position_never_credits(rig):
    sim, _driver, events = rig
    sim.push_raw(4, 1)  # the device claims a coin the daemon does not know
    wait_for(lambda: events.faults("unknown_coin"))
    assert not events.faults("unknown_coin")[0].blocking
    assert events.credits() == []


@pytest.mark.parametrize("fault", ["bad_checksums", "silence", "nak", "busy"])
def test_faults_within_retry_budget_are_absorbed(rig, fault):
    sim, driver, events = rig
    getattr(sim, fault)(2)  # retries=2: three attempts per request
    assert sim.insert(3)
    wait_for(lambda: events.credits() == [25])
    assert events.of(DeviceFault) == []
    c = driver.line.counters
    counters = {"bad_checksums": c.protocol_errors, "silence": c.timeouts,
                "nak": c.naks, "busy": c.busy}
    assert counters[fault] == 2


@pytest.mark.parametrize("fault", ["bad_checksums", "silence", "nak", "busy"])
def test_faults_beyond_budget_fault_then_recover(rig, fault):
    sim, _driver, events = rig
    getattr(sim, fault)(9)
    wait_for(lambda: events.faults("no_response"), what="no_response fault")
    assert events.faults("no_response")[0].blocking
    assert sim.insert(1)  # the device keeps the coin while we cannot hear it
    wait_for(lambda: events.of(DeviceRecovered), what="recovery")
    wait_for(lambda: events.credits() == [5])
    assert len(events.faults("no_response")) == 1


def test_garbage_on_the_line_is_counted_never_credited(rig):
    sim, driver, events = rig
    sim.garbage(12)
    c = driver.line.counters
    wait_for(lambda: c.protocol_errors + c.timeouts + c.misfits >= 12, what="garbage heard")
    wait_for(lambda: not events.faults("no_response") or events.of(DeviceRecovered))
    assert events.credits() == []
    assert sim.insert(2)
    wait_for(lambda: events.credits() == [10])


def test_more_than_five_events_between_polls(rig):
    sim, _driver, events = rig
    assert all(sim.insert_burst([1, 2, 3, 1, 2, 3, 1]))
    wait_for(lambda: events.faults("lost_events"))
    fault = events.faults("lost_events")[0]
    assert not fault.blocking and "2 events lost" in fault.detail
    wait_for(lambda: len(events.credits()) == 5)
    assert events.credits() == [COINS[p][0] for p in [3, 1, 2, 3, 1]]  # the 5 seen, oldest first
    assert sim.insert(2)
    wait_for(lambda: len(events.credits()) == 6)


def test_self_reset_reinitialises_and_rebases(rig):
    sim, _driver, events = rig
    assert sim.insert(1)
    wait_for(lambda: events.credits() == [5])
    sim.self_reset()
    wait_for(lambda: events.faults("device_reset"), what="device_reset")
    assert not events.faults("device_reset")[0].blocking
    wait_for(lambda: sim.accepting, what="inhibits restored")
    assert sim.insert(2)
    wait_for(lambda: events.credits() == [5, 10])


def test_counter_wraps_from_255_to_1(sim):
    for _ in range(253):
        sim.push_raw(0, 0)
    events = Events()
    driver = CctalkCoinAcceptor("coin_acceptor", config_for(sim))
    driver.start(events)
    driver.set_accepting(True)
    try:
        wait_for(lambda: sim.accepting)
        for n, p in enumerate([1, 2, 3, 1], start=1):
            assert sim.insert(p)
            wait_for(lambda n=n: len(events.credits()) == n)
        assert sim.counter == 2
        assert events.credits() == [5, 10, 25, 5]
        assert events.of(DeviceFault) == []
    finally:
        driver.stop()


@pytest.mark.parametrize(("code", "name"), [(20, "coin on string"), (17, "coin going backwards")])
def test_fraud_events_are_suspicious_faults(rig, code, name):
    sim, _driver, events = rig
    sim.fraud(code)
    wait_for(lambda: events.faults("suspicious"))
    fault = events.faults("suspicious")[0]
    assert fault.detail == name and not fault.blocking
    assert events.credits() == []


def test_unknown_event_code_is_counted(rig):
    sim, driver, events = rig
    sim.fraud(77)
    wait_for(lambda: driver.unknown_events == 1)
    assert events.credits() == []


def test_unplug_replug_keeps_every_coin_once(rig):
    sim, _driver, events = rig
    assert sim.insert(1)
    wait_for(lambda: events.credits() == [5])
    sim.unplug()
    wait_for(lambda: events.faults("disconnected"), what="disconnected")
    assert events.faults("disconnected")[0].blocking
    assert sim.insert(3)  # the acceptor is powered: it keeps a coin while the USB is out
    sim.replug()
    wait_for(lambda: events.of(DeviceRecovered), what="recovered")
    wait_for(lambda: events.credits() == [5, 25])
    assert sim.insert(2)
    wait_for(lambda: events.credits() == [5, 25, 10])
    assert events.credits() == expected_credits(sim)
    assert len(events.faults("disconnected")) == 1


def test_replug_of_another_device_rebases(rig):
    sim, driver, events = rig
    sim.unplug()
    wait_for(lambda: events.faults("disconnected"))
    sim.serial_number = 999
    sim.push_raw(1, 1)  # in the other device's buffer: not ours to credit
    sim.replug()
    wait_for(lambda: events.of(DeviceRecovered))
    wait_for(lambda: driver.identity.get("serial") == 999)
    assert events.credits() == []


def test_start_without_device_then_plug(sim):
    sim.unplug()
    events = Events()
    driver = CctalkCoinAcceptor("coin_acceptor", config_for(sim))
    driver.start(events)
    try:
        assert events.faults("disconnected")
        sim.replug()
        wait_for(lambda: events.of(DeviceRecovered))
        assert driver.identity["serial"] == 12345678
    finally:
        driver.stop()


def test_stop_inhibits_and_is_idempotent(rig):
    sim, driver, _events = rig
    assert sim.accepting
    driver.stop()
    wait_for(lambda: not sim.accepting, what="the master inhibit sent on stop")
    driver.stop()


def test_set_accepting_does_not_block_when_device_silent(rig):
    sim, driver, _events = rig
    sim.silence(1000)  # a thousand unanswered requests: minutes of retries, were they waited on
    # set_accepting only hands the flag to the driver's thread, so the caller (the controller)
    # gets its thread back while the device is still silent.
    caller = threading.Thread(
        target=lambda: [driver.set_accepting(flag) for flag in (False, True, False)])
    caller.start()
    caller.join(timeout=30)
    assert not caller.is_alive()


# --- a port that dies at the worst moment, a bug in the loop, a coin during shutdown ----------


class FlakyPort:
    """The real pty port, whose next write of a frame with header `fail_header` fails as a
    pulled USB adapter does (once per `arm()`)."""

    def __init__(self, inner: SerialLike) -> None:
        self.inner = inner
        self.fail_header: int | None = None

    def arm(self, header: int) -> None:
        self.fail_header = header

    def read(self, size: int = 1) -> bytes:
        return self.inner.read(size)

    def write(self, data: bytes) -> int | None:
        if self.fail_header is not None and len(data) > 3 and data[3] == self.fail_header:
            self.fail_header = None
            raise serial.SerialException("write failed: [Errno 5] Input/output error")
        return self.inner.write(data)

    @property
    def in_waiting(self) -> int:
        return self.inner.in_waiting

    def reset_input_buffer(self) -> None:
        self.inner.reset_input_buffer()

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def flaky_rig(sim) -> Iterator[tuple[SimCctalkAcceptor, CctalkCoinAcceptor, Events, list]]:
    cfg = config_for(sim)
    ports: list[FlakyPort] = []

    def factory() -> SerialLike:
        port = FlakyPort(open_port(cfg))
        ports.append(port)
        return port

    events = Events()
    driver = CctalkCoinAcceptor("coin_acceptor", cfg, serial_factory=factory)
    driver.start(events)
    driver.set_accepting(True)
    wait_for(lambda: sim.accepting, what="master inhibit released")
    yield sim, driver, events, ports
    driver.stop()


def test_port_dies_while_restoring_inhibits_after_lost_events(flaky_rig):
    """Seven coins between two polls (two lost), and the USB adapter drops out just as the
    driver re-sends the inhibits: the five coins it saw are credited once, the reader keeps
    running, and a coin after the reopen is credited too."""
    sim, driver, events, ports = flaky_rig
    ports[-1].arm(codec.MODIFY_INHIBITS)
    assert all(sim.insert_burst([1, 2, 3, 1, 2, 3, 1]))
    wait_for(lambda: events.faults("disconnected"), what="the port error as a fault")
    assert events.faults("disconnected")[0].blocking
    wait_for(lambda: events.of(DeviceRecovered), what="the reopen")
    wait_for(lambda: len(events.credits()) >= 5, what="the five coins seen")
    assert sim.insert(2)
    wait_for(lambda: len(events.credits()) == 6, what="a coin after the reopen")
    assert events.credits() == [COINS[p][0] for p in [3, 1, 2, 3, 1, 2]]
    assert len(ports) == 2  # reopened once
    assert driver._thread is not None and driver._thread.is_alive()


def test_port_dies_while_restoring_inhibits_after_a_reset(flaky_rig):
    sim, driver, events, ports = flaky_rig
    assert sim.insert(1)
    wait_for(lambda: events.credits() == [5])
    ports[-1].arm(codec.MODIFY_INHIBITS)
    sim.self_reset()
    wait_for(lambda: events.faults("device_reset"), what="device_reset")
    wait_for(lambda: events.faults("disconnected"), what="the port error as a fault")
    wait_for(lambda: events.of(DeviceRecovered), what="the reopen")
    wait_for(lambda: sim.accepting, what="inhibits restored after the reopen")
    assert sim.insert(2)
    wait_for(lambda: events.credits() == [5, 10], what="a coin after the reset and reopen")
    assert driver._thread is not None and driver._thread.is_alive()


def test_a_bug_in_the_loop_is_a_fault_and_the_reader_carries_on(rig, monkeypatch, caplog):
    """Anything unexpected at the thread boundary: logged with its traceback, a blocking
    fault, the port reopened, and the coin it was handling credited once after all; the
    master inhibit stays set until a poll runs clean."""
    sim, driver, events = rig
    real = driver._handle_result
    calls = {"n": 0}

    def buggy(a: int, b: int, serial: int, counter: int) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("a bug")
        return real(a, b, serial, counter)

    monkeypatch.setattr(driver, "_handle_result", buggy)
    assert sim.insert(3)
    wait_for(lambda: events.faults("driver_error"), what="the bug as a fault")
    fault = events.faults("driver_error")[0]
    assert fault.blocking and "KeyError" in fault.detail
    assert any(r.exc_info for r in caplog.records if "failed unexpectedly" in r.getMessage())
    wait_for(lambda: events.of(DeviceRecovered), what="recovery")
    wait_for(lambda: events.credits() == [25], what="the coin, once")
    wait_for(lambda: sim.accepting, what="coins taken again after the clean poll")
    assert sim.insert(1)
    wait_for(lambda: events.credits() == [25, 5])
    assert driver._thread is not None and driver._thread.is_alive()


def test_coin_validated_during_shutdown_is_still_credited(sim):
    """The daemon stops the acceptors before the controller: a coin the acceptor took between
    the last poll and the master inhibit is posted by stop(), not kept by the machine."""
    events = Events()
    driver = CctalkCoinAcceptor("coin_acceptor", config_for(sim, poll_interval_ms=999))
    driver.start(events)
    driver.set_accepting(True)
    try:
        wait_for(lambda: sim.accepting, what="master inhibit released")
        # Between two polls: the credit buffer was just read, the next read is ~1 s away.
        wait_for(lambda: sim.requests[-1] == codec.READ_CREDIT, what="an idle reader")
        assert sim.insert(3)
    finally:
        driver.stop()
    assert not sim.accepting
    assert events.credits() == [25]
    # Inhibited first, then read (twice under the simple checksum: a move is confirmed).
    last_inhibit = len(sim.requests) - 1 - sim.requests[::-1].index(codec.MODIFY_MASTER_INHIBIT)
    after = sim.requests[last_inhibit + 1:]
    assert after and set(after) == {codec.READ_CREDIT}
