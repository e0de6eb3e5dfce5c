"""systemd/vendd.service passes `systemd-analyze verify` and keeps the settings the Pi needs.

verify also checks that ExecStart's binary exists, and /opt/vendd/venv/bin/vendd exists only on
an installed Pi. So the test verifies a temporary copy that differs in that one path (pointed
at a stub script); every other line is the file as shipped. (`--root=` is no way out: it also
moves every unit the service depends on.) The tool is required: CI installs systemd (.ci/run);
a missing tool fails the test instead of skipping it."""

from __future__ import annotations

import re
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


def exposure(path: Path) -> float:
    proc = subprocess.run([analyze(), "security", "--offline=true", str(path)],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout + proc.stderr)
    assert found, proc.stdout + proc.stderr
    return float(found.group(1))


def test_the_unit_is_sandboxed_to_an_exposure_of_at_most_1_5(tmp_path: Path) -> None:
    shipped = exposure(verifiable_copy(UNIT.read_text(), tmp_path))
    assert shipped <= 1.5
    # The figure moves with the sandbox: without the user namespace and the IP allow list
    # it is worse, so the check above measures the shipped settings.
    loose = UNIT.read_text().replace("PrivateUsers=yes", "PrivateUsers=no").replace(
        "IPAddressDeny=any", "")
    other = tmp_path / "loose"
    other.mkdir()
    assert exposure(verifiable_copy(loose, other)) > shipped


def test_the_password_comes_as_a_systemd_credential_not_the_environment() -> None:
    assert values("LoadCredential") == ["mqtt-password:/etc/vendd/mqtt-password"]
    assert not [v for v in values("Environment") if "PASSWORD" in v]
    assert values("PrivateUsers") == ["yes"] and values("IPAddressDeny") == ["any"]
    allowed = values("IPAddressAllow")[0].split()
    assert "localhost" in allowed and "any" not in allowed
    filters = values("SystemCallFilter")
    assert "@system-service" in filters and "~@privileged @resources" in filters


def test_stop_timeout_covers_the_vend_grace():
    from vendd.config import load_config
    from vendd.daemon.systemd import vend_grace_s

    grace = vend_grace_s(load_config(ROOT / "config" / "vendd.example.toml"))
    assert float(values("TimeoutStopSec")[0].rstrip("s")) > grace + 10


def _install_config(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """install.mk's config step as it runs on every `make install`, into a test root, as the
    current user (the steps before it make the vendd user: taken as done with -o)."""
    me = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    return subprocess.run(
        ["make", "-s", "-f", str(INSTALL_MK), "-o", "install-user", "-o", "install-apt",
         "install-config", f"VENDD_CONFDIR={tmp_path / 'etc'}",
         f"VENDD_STATEDIR={tmp_path / 'state'}", f"VENDD_USER={me}", f"VENDD_CONFOWNER={me}"],
        capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_install_sets_the_modes_on_every_install_and_warns_about_the_example(tmp_path):
    first = _install_config(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "WARNING" in first.stdout and "PINs are public" in first.stdout
    config, password = tmp_path / "etc" / "vendd.toml", tmp_path / "etc" / "mqtt-password"
    assert password.read_text() == ""  # the placeholder the unit's LoadCredential= needs
    ledger = tmp_path / "state" / "vendd.db"
    ledger.write_text("")
    for path in (config, password, ledger, tmp_path / "state"):
        path.chmod(0o777)  # someone loosened them since
    second = _install_config(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "keeping the existing" in second.stdout and "WARNING" not in second.stdout
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in (config, password, ledger)} == {
        "vendd.toml": "0o640", "mqtt-password": "0o640", "vendd.db": "0o600"}
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o750"
    assert config.read_text() == (ROOT / "config" / "vendd.example.toml").read_text()


def test_install_fragment_parses():
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is missing")
    for target in ("install", "uninstall"):
        proc = subprocess.run([make, "-n", "-f", str(INSTALL_MK), target], capture_output=True,
                              text=True, cwd=ROOT, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert "vendd" in proc.stdout
