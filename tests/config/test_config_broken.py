"""Over a hundred broken configs, each run through `vendd check-config` and `vendd run` as an
installer runs them: check-config exits 2 and run exits 78 (EX_CONFIG: systemd does not
restart it), each with one line that names the option (slots and makers by id), no traceback,
and no secret shown. Most run in-process through `vendd.cli.main` (the console script's own
entry function); a few through real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from broken_cases import CASES, EXAMPLE, SECRET, Case

from vendd.cli import main

assert len({case.name for case in CASES}) == len(CASES) >= 60


def _write(case: Case, folder: Path) -> Path:
    path = folder / "vendd.toml"
    path.write_text(case.text(folder), encoding="utf-8")
    return path


def _one_line(err: str, path: Path, case: Case) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith(str(path)), line
    assert case.expected in line, line
    assert "Traceback" not in err and SECRET not in err
    assert "Input should" not in line and "validation error" not in line
    return line


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_config_and_run_refuse_it(case: Case, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(case, tmp_path)
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    checked = _one_line(err, path, case)
    assert out == ""
    # Only once check-config has refused it: `run` on a good config would start the daemon.
    assert main(["run", "--config", str(path)]) == 78
    assert _one_line(capsys.readouterr().err, path, case) == checked


def test_the_line_number_is_where_the_option_is_written(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    text = EXAMPLE.replace("capacity = 4\n", "capacity = 400\n", 1)  # A4's capacity
    path = tmp_path / "vendd.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    line = text.splitlines().index("capacity = 400") + 1
    assert capsys.readouterr().err == f"{path}:{line}: slots[A4].capacity: must be at most 99, " \
                                      "got 400\n"


def test_an_environment_override_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "vendd.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    monkeypatch.setenv("VENDD_MQTT__PORT", "abc")
    assert main(["check-config", str(path)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "mqtt.port: must be a whole number, got 'abc' (from VENDD_MQTT__PORT)")
    monkeypatch.setenv("VENDD_MQTT__PORT", "8883")
    monkeypatch.setenv("VENDD_MQTT__ENABLED", "false")  # the environment's own true/false
    assert main(["check-config", str(path)]) == 0
    assert "mqtt     off: localhost:8883" in capsys.readouterr().out


# --- run-only: what systemd makes just before `run` ------------------------------------------


def test_a_missing_ledger_folder_stops_run_but_not_check_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Under systemd StateDirectory= makes /var/lib/vendd as the service starts.
    path = tmp_path / "vendd.toml"
    path.write_text(EXAMPLE.replace("/var/lib/vendd/vendd.db", str(tmp_path / "nope/v.db")))
    assert main(["check-config", str(path)]) == 0
    capsys.readouterr()
    assert main(["run", "--config", str(path)]) == 78
    err = capsys.readouterr().err
    assert err.endswith(f"ledger.path: the folder {tmp_path / 'nope'} does not exist\n")


def test_a_credential_outside_systemd_stops_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = tmp_path / "vendd.toml"
    path.write_text(EXAMPLE.replace(
        "[mqtt]\n", '[mqtt]\nusername = "quito-01"\npassword_credential = "mqtt-password"\n', 1))
    assert main(["check-config", str(path)]) == 0
    assert "password from systemd credential mqtt-password" in capsys.readouterr().out
    assert main(["run", "--config", str(path)]) == 78
    assert "mqtt.password_credential: no systemd credentials here" in capsys.readouterr().err
    # Under systemd, the credential folder without that credential: both refuse it.
    (tmp_path / "creds").mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert main(["check-config", str(path)]) == 2
    assert "systemd passed no credential 'mqtt-password'" in capsys.readouterr().err


# --- the real commands -------------------------------------------------------------------------

SUBPROCESS = ["price above max_credit", "capacity mistyped", "nesting 5000 deep",
              "password in the config text", "password file others can read"]


@pytest.mark.parametrize("name", SUBPROCESS)
def test_the_commands_as_a_user_runs_them(name: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == name)
    path = _write(case, tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for args, status in ((["check-config", str(path)], 2), (["run", "--config", str(path)], 78)):
        proc = subprocess.run([sys.executable, "-m", "vendd.cli", *args], capture_output=True,
                              text=True, timeout=60, env=env, check=False)
        assert proc.returncode == status, proc.stderr
        _one_line(proc.stderr, path, case)
        assert proc.stdout == ""
