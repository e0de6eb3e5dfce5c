"""`vendd run`'s exit status is what systemd acts on: 78 (EX_CONFIG, in the unit's
RestartPreventExitStatus=) for a config, path or permission problem, which a restart cannot
fix; 1 for any other failure, which systemd restarts."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

from support import ROOT

from vendd.daemon.systemd import EXIT_CONFIG, EXIT_FAILED, failure_status
from vendd.errors import ConfigError, DeviceError, LedgerError

CONFIG = """\
[machine]
id = "exit-codes"
name = "Exit codes"

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
kind = "cctalk"
port = "{port}"

[[coin_acceptor.coins]]
position = 1
value = 25
label = "25c"

[dispenser]
kind = "virtual"

[mqtt]
enabled = false

[ledger]
path = "{ledger}"
"""


def _raised(exc: BaseException, cause: BaseException) -> BaseException:
    try:
        raise exc from cause
    except type(exc) as caught:
        return caught


def test_a_permission_anywhere_in_the_cause_is_a_config_problem() -> None:
    denied = PermissionError(errno.EACCES, "Permission denied", "/dev/ttyAMA0")
    assert failure_status(_raised(DeviceError("coin_acceptor: cannot open"), denied)) == 78
    assert failure_status(ConfigError(["x: y"])) == EXIT_CONFIG
    gone = FileNotFoundError(errno.ENOENT, "No such file", "/dev/ttyUSB0")
    assert failure_status(_raised(DeviceError("coin_acceptor: cannot open"), gone)) == 1
    assert failure_status(LedgerError("the journal does not match")) == EXIT_FAILED


def test_a_failure_that_is_no_config_problem_exits_1_and_is_restarted(tmp_path: Path) -> None:
    ledger = tmp_path / "vendd.db"
    ledger.write_bytes(b"not a database, a half-copied file " * 100)
    config = tmp_path / "vendd.toml"
    config.write_text(CONFIG.replace('kind = "cctalk"\nport = "{port}"', 'kind = "virtual"')
                      .replace("position = 1\n", "").format(ledger=ledger))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM"):
        env.pop(name, None)
    assert subprocess.run([sys.executable, "-m", "vendd.cli", "check-config", str(config)],
                          capture_output=True, env=env, timeout=60).returncode == 0
    proc = subprocess.run([sys.executable, "-m", "vendd.cli", "run", "--config", str(config)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr  # not 78: systemd restarts it
    assert "cannot start" in proc.stderr and "Traceback" not in proc.stderr
    assert ledger.read_bytes().startswith(b"not a database")  # nothing written over it
