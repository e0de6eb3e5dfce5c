"""What the config names outside itself: the MQTT password (systemd credential or file), the
TLS files, the ledger's folder, the serial ports, the I2C bus and the GPIO chips.

One function, `check_files`, is what `vendd check-config` and `vendd run` both call, so a file
that `run` would refuse is refused by `check-config` first. The telemetry client reads the
password and builds its TLS context with the same functions.

The difference between the two is stated, not hidden: under systemd the ledger's folder is
made by `StateDirectory=` and the credential by `LoadCredential=` just before `run` starts, so
`check-config` (outside the service) does not require them to exist yet. Device nodes are
checked on a Raspberry Pi only: elsewhere the config is being written, not run."""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from vendd.config.models import MqttConfig, TlsConfig
from vendd.config.root import Config, pin_table
from vendd.errors import ConfigError

PI_MODEL = Path("/proc/device-tree/model")
# Built-in serial ports: they exist from boot when enabled (`raspi-config nonint
# do_serial_hw 0`); a USB adapter may appear late, which a restart waits out.
BUILT_IN_SERIAL = ("/dev/serial0", "/dev/serial1", "/dev/ttyAMA", "/dev/ttyS")


def on_raspberry_pi() -> bool:
    try:
        return PI_MODEL.read_bytes().startswith(b"Raspberry Pi")
    except OSError:
        return False


def check_files(config: Config, *, at_run: bool, devices: bool | None = None,
                environ: Mapping[str, str] | None = None) -> list[str]:
    """Every problem as `dotted.option: what is wrong` (no values of secrets). `at_run`: the
    daemon is about to start (under systemd: credentials loaded, state folder made).
    `devices`: check device nodes (default: on a Raspberry Pi)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    if config.mqtt.enabled:
        problems += _collect(lambda: password_of(config.mqtt, env, at_run=at_run))
        tls = config.mqtt.tls
        if tls is not None:
            problems += _collect(lambda: tls_context(tls))
    problems += _ledger(config.ledger.path, at_run=at_run)
    if devices if devices is not None else on_raspberry_pi():
        problems += _devices(config)
    return problems


def _collect(check: Callable[[], object]) -> list[str]:
    try:
        check()
    except ConfigError as exc:
        return exc.problems
    return []


# --- the MQTT password -----------------------------------------------------------------------

def password_of(mqtt: MqttConfig, environ: Mapping[str, str] | None = None, *,
                at_run: bool = True) -> str | None:
    """The password from the systemd credential, the file, or (tests) the environment; None
    when none is configured. Raises ConfigError naming the option, never showing the value."""
    env = os.environ if environ is None else environ
    if mqtt.password_credential is not None:
        return _credential(mqtt.password_credential, env, at_run=at_run)
    if mqtt.password_file is not None:
        return _password_file(mqtt.password_file)
    if mqtt.password is not None:
        return mqtt.password.get_secret_value()
    return None


def _credential(name: str, env: Mapping[str, str], *, at_run: bool) -> str | None:
    folder = env.get("CREDENTIALS_DIRECTORY")
    option = "mqtt.password_credential"
    if not folder:
        if not at_run:  # outside the service: systemd loads it when the service starts
            return None
        raise ConfigError([f"{option}: no systemd credentials here ($CREDENTIALS_DIRECTORY is "
                           f"unset): the unit's LoadCredential={name}:/etc/vendd/{name} "
                           "provides it; outside systemd use mqtt.password_file"])
    path = Path(folder) / name
    try:
        return _first_line(path, option, f"credential {name!r}")
    except FileNotFoundError as exc:
        raise ConfigError([f"{option}: systemd passed no credential {name!r} (the unit needs "
                           f"LoadCredential={name}:/etc/vendd/{name})"]) from exc


def _password_file(path: Path) -> str:
    option = "mqtt.password_file"
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise ConfigError([f"{option}: no such file {path}"]) from exc
    except OSError as exc:
        raise ConfigError([f"{option}: cannot read {path}: {exc.strerror}"]) from exc
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError([f"{option}: {path} is not a regular file"])
    if info.st_mode & 0o022:
        raise ConfigError([f"{option}: {path} can be written by others (mode "
                           f"{stat.filemode(info.st_mode)}): sudo chmod 0640 {path}"])
    if info.st_mode & 0o004:
        raise ConfigError([f"{option}: {path} can be read by every user (mode "
                           f"{stat.filemode(info.st_mode)}): sudo chmod 0640 {path}"])
    try:
        return _first_line(path, option, str(path))
    except FileNotFoundError as exc:
        raise ConfigError([f"{option}: no such file {path}"]) from exc


def _first_line(path: Path, option: str, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError as exc:
        raise ConfigError([f"{option}: cannot read {what} (permission denied): it must be "
                           "readable by the vendd group (chgrp vendd, chmod 0640)"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{option}: {what} is not UTF-8 text"]) from exc
    except IsADirectoryError as exc:
        raise ConfigError([f"{option}: {what} is a folder, not a file"]) from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ConfigError([f"{option}: {what} is empty: write the password on its first line"])
    return lines[0]


# --- TLS ---------------------------------------------------------------------------------------

def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """The client's TLS context: the broker's certificate must chain to `ca_file` and name the
    host; a client certificate when `cert_file`/`key_file` are set."""
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, name)
        if path is not None:
            _readable_file(path, f"mqtt.tls.{name}")
    if tls.key_file is not None:
        mode = tls.key_file.stat().st_mode
        if mode & 0o004:
            raise ConfigError([f"mqtt.tls.key_file: {tls.key_file} can be read by every user "
                               f"(mode {stat.filemode(mode)}): sudo chmod 0640 {tls.key_file}"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    try:
        context.load_verify_locations(cafile=str(tls.ca_file))
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError([f"mqtt.tls.ca_file: {tls.ca_file} holds no PEM certificate "
                           f"({_reason(exc)})"]) from exc
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError([f"mqtt.tls.cert_file: {tls.cert_file} and key_file "
                               f"{tls.key_file} are not a PEM certificate and its key "
                               f"({_reason(exc)})"]) from exc
    return context


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or exc).lower().replace("_", " ")


def _readable_file(path: Path, option: str) -> None:
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise ConfigError([f"{option}: no such file {path}"]) from exc
    except OSError as exc:
        raise ConfigError([f"{option}: cannot read {path}: {exc.strerror}"]) from exc
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError([f"{option}: {path} is not a regular file"])
    if not os.access(path, os.R_OK):
        raise ConfigError([f"{option}: cannot read {path} (permission denied): it must be "
                           "readable by the vendd group"])


# --- the ledger ------------------------------------------------------------------------------

def _ledger(path: Path, *, at_run: bool) -> list[str]:
    folder = path.parent if str(path.parent) else Path(".")
    if path.exists():
        if not path.is_file():
            return [f"ledger.path: {path} is not a file"]
        if at_run and not os.access(path, os.R_OK | os.W_OK):
            return [f"ledger.path: {path} cannot be written by this user (permission denied): "
                    "the vendd user owns /var/lib/vendd"]
        return []
    if not folder.exists():
        # Under systemd StateDirectory= makes /var/lib/vendd as the service starts.
        return [f"ledger.path: the folder {folder} does not exist"] if at_run else []
    if not folder.is_dir():
        return [f"ledger.path: {folder} is not a folder"]
    if at_run and not os.access(folder, os.W_OK | os.X_OK):
        return [f"ledger.path: cannot create {path} (permission denied on {folder}): the "
                "vendd user owns /var/lib/vendd"]
    return []


# --- device nodes (on the Pi) ----------------------------------------------------------------

def _devices(config: Config) -> list[str]:
    problems: list[str] = []
    ca = config.coin_acceptor
    if ca is not None and ca.kind == "cctalk":
        problems += _serial("coin_acceptor.port", ca.port)
    if config.mdb is not None and config.mdb.link != "sim":
        problems += _serial("mdb.port", config.mdb.port)
    if pin_table(config):
        problems += _gpio_chips()
    if config.display.kind == "lcd":
        bus = f"/dev/i2c-{config.display.i2c_port}"
        problems += _node("display.i2c_port", bus, must_exist=True,
                          enable="sudo raspi-config nonint do_i2c 0, then reboot", group="i2c")
    return problems


def _gpio_chips() -> list[str]:
    chips = sorted(Path("/dev").glob("gpiochip*"))
    if chips and not any(os.access(c, os.R_OK | os.W_OK) for c in chips):
        return [f"dispenser: {chips[0]} cannot be opened (permission denied): the vendd user "
                "must be in the gpio group"]
    return []


def _serial(option: str, port: str) -> list[str]:
    built_in = port.startswith(BUILT_IN_SERIAL)
    return _node(option, port, must_exist=built_in, group="dialout",
                 enable="sudo raspi-config nonint do_serial_hw 0 and do_serial_cons 1, then "
                        "reboot")


def _node(option: str, path: str, *, must_exist: bool, enable: str, group: str) -> list[str]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        # A USB adapter that is not plugged in yet is no config mistake: `run` waits for it.
        return [f"{option}: {path} does not exist ({enable})"] if must_exist else []
    except OSError as exc:
        return [f"{option}: cannot open {path}: {exc.strerror}"]
    if not stat.S_ISCHR(info.st_mode):
        return [f"{option}: {path} is not a device"]
    if not os.access(path, os.R_OK | os.W_OK):
        return [f"{option}: {path} cannot be opened (permission denied): the vendd user must be "
                f"in the {group} group"]
    return []
