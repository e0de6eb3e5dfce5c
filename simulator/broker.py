"""A private Mosquitto on a free loopback port: the simulated site's broker, for
`vendd-sim selftest` and the tests. Needs `mosquitto` installed (Debian's package)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from vendd.errors import VenddError


def mosquitto_path() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: each is held while the next is picked, since the kernel
    may hand a port just released straight out again."""
    with ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def private_broker(folder: Path, timeout: float = 10.0) -> Iterator[int]:
    """Yield the port of a fresh anonymous broker; stop it on exit."""
    exe = mosquitto_path()
    if exe is None:
        raise VenddError("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n", encoding="utf-8")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise VenddError(f"mosquitto did not start on port {port}")
            time.sleep(0.01)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)
