"""sd_notify: READY, STATUS and WATCHDOG datagrams arrive on a test socket; the watchdog pings
come from the controller loop itself, so a loop stalled on purpose stops them."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import wait_for

from vendd.daemon.app import Daemon
from vendd.daemon.sdnotify import Notifier, WatchdogHook
from vendd.daemon.systemd import status_line


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket, by path or abstract (`@name`)."""

    def __init__(self, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"vendd-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
            self._dir: str | None = None
        else:
            self._dir = tempfile.mkdtemp(prefix="sdn-")  # short: sun_path holds 108 bytes
            self.address = os.path.join(self._dir, "notify")
            self.sock.bind(self.address)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self.sock.settimeout(0.05)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode())

    def lines(self) -> list[str]:
        with self._lock:
            return [line for msg in self.messages for line in msg.split("\n")]

    def count(self, line: str) -> int:
        return self.lines().count(line)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()
        if self._dir is not None:
            Path(self.address).unlink(missing_ok=True)
            os.rmdir(self._dir)


@pytest.fixture(params=[False, True], ids=["path", "abstract"])
def listener(request) -> Iterator[NotifySocket]:
    s = NotifySocket(abstract=request.param)
    yield s
    s.close()


@pytest.fixture
def systemd() -> Iterator[NotifySocket]:
    s = NotifySocket(abstract=True)
    yield s
    s.close()


def test_ready_status_stopping_datagrams(listener):
    n = Notifier(listener.address)
    assert n.enabled
    assert n.ready("idle, credit $0.00")
    assert n.status("vending\nA1")  # one line on the wire
    assert n.stopping()
    wait_for(lambda: len(listener.messages) == 3, what="three datagrams")
    assert listener.messages == ["READY=1\nSTATUS=idle, credit $0.00", "STATUS=vending A1",
                                 "STOPPING=1"]
    n.close()


def test_not_under_systemd_is_a_no_op():
    n = Notifier.from_env({})
    assert not n.enabled and n.watchdog_interval is None
    assert not n.ready() and not n.watchdog()
    WatchdogHook(n, status=lambda: "x")()  # nothing to send, nothing raised


def test_watchdog_settings_from_the_environment():
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "15000000"}
    assert Notifier.from_env(env).watchdog_interval == 7.5
    assert Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())}).watchdog_interval == 7.5
    # the watchdog belongs to another process (our parent under a wrapper): not ours to ping
    assert Notifier.from_env({**env, "WATCHDOG_PID": "1"}).watchdog_interval is None


def test_socket_gone_does_not_raise(tmp_path):
    n = Notifier(str(tmp_path / "nobody-listens"))
    assert not n.ready()
    assert not n.watchdog()


def test_hook_pings_every_half_watchdog_and_sends_status_on_change(listener):
    now = [100.0]
    status = ["idle"]
    hook = WatchdogHook(Notifier(listener.address, watchdog_usec=2_000_000),
                        status=lambda: status[0], clock=lambda: now[0])
    hook()  # first turn: ping and status
    now[0] += 0.5
    hook()  # too early for a ping; status unchanged: nothing
    now[0] += 0.5
    status[0] = "credit"
    hook()  # 1.0 s = WATCHDOG_USEC/2: ping, and the new status
    wait_for(lambda: len(listener.messages) == 4, what="four datagrams")
    assert listener.messages == ["WATCHDOG=1", "STATUS=idle", "WATCHDOG=1", "STATUS=credit"]


def test_controller_loop_pings_and_a_stalled_loop_stops_the_pings(daemon: Daemon, systemd):
    listener = systemd
    controller = daemon.controller
    assert controller is not None
    # WatchdogSec=0.4 s: a ping every 0.2 s wanted, the idle loop turns every 0.5 s at most.
    notifier = Notifier(listener.address, watchdog_usec=400_000)
    controller.loop_hooks.append(WatchdogHook(notifier, status=lambda: status_line(daemon)))
    wait_for(lambda: listener.count("WATCHDOG=1") >= 2, what="watchdog pings from the loop")
    assert any(line.startswith("STATUS=idle, credit $0.00") for line in listener.lines())

    # A step that never returns (a device call or listener hung): the loop stops turning.
    stall, stalled, release = threading.Event(), threading.Event(), threading.Event()

    def stuck(state, rows):
        if stall.is_set():
            stalled.set()
            release.wait(10)

    controller.listeners.append(stuck)
    stall.set()
    buttons = daemon.devices.inputs[0]
    buttons.cancel()  # any event: its step runs the listener
    try:
        assert stalled.wait(5)
        before = listener.count("WATCHDOG=1")
        # Three watchdog intervals without a ping: systemd would have killed and restarted us.
        assert not wait_for_more(listener, before, timeout=1.2)
    finally:
        stall.clear()
        release.set()
    wait_for(lambda: listener.count("WATCHDOG=1") > before + 1, what="pings to resume")
    notifier.close()


def wait_for_more(listener: NotifySocket, before: int, timeout: float) -> bool:
    """True as soon as another WATCHDOG=1 arrives; False when none came within `timeout`."""
    try:
        wait_for(lambda: listener.count("WATCHDOG=1") > before, timeout=timeout)
    except AssertionError:
        return False
    return True
