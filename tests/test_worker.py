"""The worker base on its own: a bug is one blocking fault per outage (with the intake held off
until a clean turn), the loop starts again with back-off, the latch posts each code once, and a
listener behind the boundary cannot raise into its caller."""

from __future__ import annotations

import logging
import queue
import threading

import pytest
from support import wait_for

from vendd.events import DeviceFault, DeviceRecovered, Event
from vendd.worker import BUG, FaultLatch, ListenerBoundary, Worker


class Flaky(Worker):
    """Fails its first `bugs` turns, then runs clean; counts what the base asked of it."""

    backoff_start_s = 0.01
    backoff_max_s = 0.02

    def __init__(self, bugs: int) -> None:
        self.latch = FaultLatch("coins")
        super().__init__("flaky", [self.latch])
        self.left = bugs
        self.safe_calls = 0
        self.recoveries = 0
        self.clean = threading.Event()
        self.finished = False

    def turn(self) -> bool:
        if self.left:
            self.left -= 1
            raise KeyError(f"bug {self.left}")
        self.clean.set()
        return not self.pause(0.005)

    def go_safe(self) -> None:
        self.safe_calls += 1

    def recovered(self) -> None:
        self.recoveries += 1

    def finish(self) -> None:
        self.finished = True


def drain(events: queue.Queue[Event]) -> list[Event]:
    out = []
    while not events.empty():
        out.append(events.get_nowait())
    return out


def test_a_bug_is_one_fault_until_a_clean_turn_then_one_recovery() -> None:
    events: queue.Queue[Event] = queue.Queue()
    worker = Flaky(bugs=3)
    worker.start_worker(events.put)
    try:
        assert worker.clean.wait(10)
        wait_for(lambda: worker.recoveries == 1, what="the recovery")
        assert not worker.faulted and worker.running
    finally:
        assert worker.stop_worker(10)
    assert worker.finished and worker.bugs == 3 and worker.safe_calls == 3
    assert drain(events) == [DeviceFault("coins", BUG, "KeyError: 'bug 2'", blocking=True),
                             DeviceRecovered("coins")]


class Sleeper(Worker):
    backoff_start_s = backoff_max_s = 3600.0  # an hour: only a stop ends this wait

    def turn(self) -> bool:
        return False


def test_stop_cuts_the_back_off_short() -> None:
    worker = Sleeper("sleeper")
    worker.start_worker()
    assert worker.running
    assert worker.stop_worker(10)
    assert not worker.running


def test_the_latch_posts_each_code_once_and_holds_a_bug() -> None:
    posted: list[Event] = []
    latch = FaultLatch("changer", posted.append)
    latch.raise_("no_response", "silent")
    latch.raise_("no_response", "silent again")
    latch.clear()
    latch.clear()
    assert posted == [DeviceFault("changer", "no_response", "silent"), DeviceRecovered("changer")]
    posted.clear()
    latch.raise_("no_response", "silent")
    latch.hold(BUG, "KeyError: 9")  # already out: journaled beside it, not as a new outage
    latch.clear()  # a good exchange does not lift a bug
    latch.raise_("disconnected", "gone")  # nor does another code replace it
    assert posted == [DeviceFault("changer", "no_response", "silent"),
                      DeviceFault("changer", BUG, "KeyError: 9", blocking=False)]
    latch.release()
    assert posted[-1] == DeviceRecovered("changer")


def test_a_latch_waits_for_its_device_to_be_ready() -> None:
    posted: list[Event] = []
    ready = False
    latch = FaultLatch("bill_validator", posted.append, ready=lambda: ready)
    latch.raise_("stacker_full", "500 bills")
    latch.clear()
    assert posted == [DeviceFault("bill_validator", "stacker_full", "500 bills")]
    ready = True
    latch.clear()
    assert posted[-1] == DeviceRecovered("bill_validator")


def test_the_listener_boundary_counts_and_logs_once_per_kind(
        caplog: pytest.LogCaptureFixture) -> None:
    boundary = ListenerBoundary("controller")

    def broken(state: object, rows: list[object]) -> None:
        raise KeyError("slots")

    with caplog.at_level(logging.DEBUG, logger="vendd.worker"):
        assert boundary.call(broken, None, []) is None
        assert boundary.call(broken, None, []) is None
    assert boundary.call(lambda: 7) == 7
    assert boundary.errors == 2
    assert len([r for r in caplog.records if r.exc_info]) == 1
