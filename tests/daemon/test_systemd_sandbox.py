"""The daemon under the unit's sandbox, as far as this machine can build it without systemd as
PID 1: a system user (nobody) with a supplementary device group, no new privileges, no
capabilities, UMask=0077, and a user namespace that maps only its own user and group, as
`PrivateUsers=yes` does. In it, a device node owned by root and that group (as /dev/ttyAMA0 is
root:dialout 0660) still opens (the kernel checks the real group id, though it shows as
"nogroup" inside), the config readable through that group loads, and `vendd run` comes up
READY=1 on a notify socket, writes its ledger 0600 and exits 0 on SIGTERM.

What this cannot show here: SystemCallFilter=, IPAddressDeny=, DevicePolicy= and
ProtectSystem= (systemd's own seccomp, cgroup and mount set-up). Those are checked by
`systemd-analyze verify`/`security` (test_systemd_unit.py) and on a Pi.

Dropping to another user needs root, as systemd has; CI runs as root. Where the Python that
runs the tests is not reachable by other users (an interpreter under /root), the service user
is uid 0 with every capability dropped instead of nobody: the device and the config are then
owned by another user, so they open only through the group, as they would for vendd."""

from __future__ import annotations

import grp
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT

NOBODY = 65534
OWNER = 65533  # owns the device node and the config (as root does for the real service)


def _reachable_by_others(path: Path) -> bool:
    real = path.resolve()
    return all(p.stat().st_mode & 0o001 for p in real.parents) and bool(
        real.stat().st_mode & 0o001)


# The user the sandboxed daemon runs as (see the module's doc).
USER = NOBODY if _reachable_by_others(Path(sys.executable)) else 0
CONFIG = """\
[machine]
id = "sandbox"
name = "Sandbox"

[[makers]]
id = "rosa"
name = "Rosa"

[[slots]]
id = "A1"
product = "Monedero"
maker = "rosa"
price = 100
capacity = 5

[coin_acceptor]
kind = "virtual"

[[coin_acceptor.coins]]
value = 25
label = "25c"

[dispenser]
kind = "virtual"

[mqtt]
enabled = false

[ledger]
path = "{ledger}"
"""


def _sandbox(groups: str) -> list[str]:
    """The unit's User=/SupplementaryGroups=/NoNewPrivileges=/CapabilityBoundingSet=/
    PrivateUsers=/UMask= as setpriv, unshare and a shell's umask."""
    for tool in ("setpriv", "unshare"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} (util-linux) is missing")
    # The groups are set before the namespace (inside it they are unmapped), the capabilities
    # dropped inside it, as systemd orders its own set-up.
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", f"--groups={groups}", "--",
            "unshare", "--map-current-user", "--",
            "setpriv", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--",
            "sh", "-c", 'umask 077 && exec "$0" "$@"']


@pytest.fixture
def folder() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("this test drops to another user as systemd does, and needs root for it")
    # Not under pytest's own 0700 temp folder: the service user must reach it.
    path = Path(tempfile.mkdtemp(prefix="vendd-sandbox-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _device_group() -> int:
    return grp.getgrnam("dialout").gr_gid if _has_group("dialout") else 20


def _has_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def test_a_device_of_a_supplementary_group_opens_in_the_user_namespace(folder: Path) -> None:
    gid = _device_group()
    node = folder / "ttyAMA9"
    os.mknod(node, stat.S_IFCHR | 0o660, os.makedev(1, 3))  # a real char device (null)
    os.chown(node, OWNER, gid)
    node.chmod(0o660)
    probe = [sys.executable, "-c", f"import os; os.close(os.open({str(node)!r}, os.O_RDWR)); "
             "print(open('/proc/self/uid_map').read().split()); "
             "print([l for l in open('/proc/self/status') if l.startswith('CapEff')])"]
    inside = subprocess.run([*_sandbox(str(gid)), *probe], capture_output=True, text=True,
                            timeout=60)
    assert inside.returncode == 0, inside.stderr
    uid_map, caps = inside.stdout.splitlines()
    assert uid_map.split() == [f"['{USER}',", f"'{USER}',", "'1']"]  # maps only itself
    assert caps == "['CapEff:\\t0000000000000000\\n']"  # no capabilities
    # Without the group, the same open is refused: the check above means something.
    outside = subprocess.run([*_sandbox(str(OWNER + 1)), *probe], capture_output=True, text=True,
                             timeout=60)
    assert outside.returncode != 0 and "PermissionError" in outside.stderr


def test_vendd_run_is_ready_and_stops_cleanly_in_the_sandbox(folder: Path) -> None:
    gid = _device_group()
    state = folder / "state"
    state.mkdir(mode=0o750)
    os.chown(state, USER, USER)
    config = folder / "vendd.toml"
    config.write_text(CONFIG.format(ledger=state / "vendd.db"))
    os.chown(config, OWNER, gid)
    config.chmod(0o640)  # as install.mk leaves it (root:vendd): read through the group
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"vendd-sandbox-{uuid.uuid4().hex}"
    notify.bind("\0" + name)
    notify.settimeout(60)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NOTIFY_SOCKET": "@" + name,
           "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*_sandbox(str(gid)), sys.executable, "-m", "vendd.cli", "run",
                             "--config", str(config)], cwd=state, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said: list[str] = []
        while not any("READY=1" in d for d in said):
            try:
                said.append(notify.recv(4096).decode())
            except TimeoutError:
                proc.kill()
                raise AssertionError(f"no READY=1: {proc.communicate()[1]}") from None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        notify.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    ledger = state / "vendd.db"
    info = ledger.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (USER, 0o600)  # UMask=0077


def test_a_ledger_folder_the_service_cannot_write_exits_78(folder: Path) -> None:
    # 78 (EX_CONFIG) is in the unit's RestartPreventExitStatus=: no restart every 5 s forever.
    state = folder / "state"
    state.mkdir(mode=0o755)
    os.chown(state, OWNER, OWNER)  # not the service user's
    config = folder / "vendd.toml"
    config.write_text(CONFIG.format(ledger=state / "vendd.db"))
    config.chmod(0o644)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([*_sandbox(str(NOBODY)), sys.executable, "-m", "vendd.cli", "run",
                           "--config", str(config)], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 78, proc.stderr
    line = CONFIG.splitlines().index('path = "{ledger}"') + 1
    assert proc.stderr == (f"{config}:{line}: ledger.path: cannot create {state / 'vendd.db'} "
                           f"(permission denied on {state}): the vendd user owns "
                           "/var/lib/vendd\n")
    assert not (state / "vendd.db").exists()
