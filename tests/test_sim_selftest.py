"""`vendd-sim selftest`: `vendd selftest` on config/sim.toml against the simulated cabinet,
its ccTalk acceptor on a pty and a private broker, as an installer would run it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import ROOT


def _selftest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "selftest", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)


def test_every_device_of_the_simulated_machine_is_ok() -> None:
    proc = _selftest("--motor", "B2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    for device in ("coin_acceptor  identify", "dispenser      drop beam", "display        text",
                   "motor B2       turn", "mqtt           broker"):
        assert f"{device}" in proc.stdout and "OK" in proc.stdout.split(device)[1].split("\n")[0]


@pytest.mark.parametrize(("fault", "named"), [
    ("stuck-home", "1 check(s) FAILED: motor A1 turn"),
    ("unplug-acceptor", "1 check(s) FAILED: coin_acceptor serial port"),
])
def test_a_broken_device_is_named_and_exits_1(fault: str, named: str) -> None:
    proc = _selftest("--motor", "A1", "--fault", fault)
    assert proc.returncode == 1
    assert named in proc.stdout
