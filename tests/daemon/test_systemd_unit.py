"""systemd/vendd.service passes `systemd-analyze verify` and keeps the settings the Pi needs.

verify also checks that ExecStart's binary exists, and /opt/vendd/venv/bin/vendd exists only on
an installed Pi. So the test verifies a temporary copy that differs in that one path (pointed
at a stub script); every other line is the file as shipped. (`--root=` is no way out: it also
moves every unit the service depends on.) The tool is required: CI installs systemd (.ci/run);
a missing tool fails the test instead of skipping it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support import ROOT

UNIT = ROOT / "systemd" / "vendd.service"
INSTALL_MK = ROOT / "systemd" / "install.mk"
EXEC = "/opt/vendd/venv/bin/vendd"


def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: install systemd (CI: .ci/run does)")
    return tool


def verifiable_copy(text: str, folder: Path) -> Path:
    stub = folder / "vendd"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    assert text.count(f"ExecStart={EXEC} ") == 1
    copy = folder / "vendd.service"
    copy.write_text(text.replace(f"ExecStart={EXEC} ", f"ExecStart={stub} "))
    return copy


def verify(path: Path) -> tuple[int, list[str]]:
    proc = subprocess.run([analyze(), "verify", str(path)], capture_output=True, text=True,
                          timeout=60)
    # Only what concerns our unit: a container may warn about units of its own.
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if "vendd" in line]
    return proc.returncode, lines


def settings() -> list[tuple[str, str, str]]:
    section, out = "", []
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key, value))
    return out


def values(key: str) -> list[str]:
    return [v for _, k, v in settings() if k == key]


def test_unit_passes_systemd_analyze_verify(tmp_path):
    rc, problems = verify(verifiable_copy(UNIT.read_text(), tmp_path))
    assert rc == 0 and problems == [], problems


def test_verify_catches_a_mistyped_key(tmp_path):
    # The check above would notice a typo: systemd only warns, so warnings count as failures.
    broken = UNIT.read_text().replace("ProtectClock=yes", "ProtectClok=yes")
    _, problems = verify(verifiable_copy(broken, tmp_path))
    assert any("ProtectClok" in p for p in problems)


def test_notify_watchdog_restart_and_user():
    assert values("Type") == ["notify"]
    assert values("WatchdogSec") and values("Restart") == ["on-failure"]
    assert values("User") == ["vendd"]
    groups = values("SupplementaryGroups")[0].split()
    assert {"gpio", "dialout"} <= set(groups)
    assert values("StateDirectory") == ["vendd"]
    assert values("WorkingDirectory") == ["/var/lib/vendd"]  # lgpio writes its FIFO here
    assert values("ExecStart") == [f"{EXEC} run --config /etc/vendd/vendd.toml"]
    # vendd.cli's config errors (2) and vendd.daemon.systemd.EXIT_CONFIG (78) are not restarted
    assert values("RestartPreventExitStatus") == ["2 78"]


def test_hardening_keeps_gpio_and_serial_reachable():
    assert not values("PrivateDevices"), "PrivateDevices would hide /dev/gpiochip* and ttys"
    assert values("DevicePolicy") == ["closed"]
    allowed = {v.split()[0] for v in values("DeviceAllow")}
    assert {"char-gpiochip", "char-ttyUSB", "char-ttyACM", "char-ttyAMA"} <= allowed
    assert all(v.split()[1] == "rw" for v in values("DeviceAllow"))
    assert values("ProtectSystem") == ["strict"] and values("NoNewPrivileges") == ["yes"]


def test_stop_timeout_covers_the_vend_grace():
    from vendd.config import load_config
    from vendd.daemon.systemd import vend_grace_s

    grace = vend_grace_s(load_config(ROOT / "config" / "vendd.example.toml"))
    assert float(values("TimeoutStopSec")[0].rstrip("s")) > grace + 10


def test_install_fragment_parses():
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is missing")
    for target in ("install", "uninstall"):
        proc = subprocess.run([make, "-n", "-f", str(INSTALL_MK), target], capture_output=True,
                              text=True, cwd=ROOT, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert "vendd" in proc.stdout
