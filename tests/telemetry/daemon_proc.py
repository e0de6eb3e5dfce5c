"""A daemon in a child process for the SIGKILL test:

    python daemon_proc.py CONFIG.json sell|idle

Prints `ready` once the machine sells; `sell` keeps selling until killed, `idle` waits.
SIGTERM stops the daemon cleanly."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from feed_helpers import sell

from vendd.config import Config
from vendd.daemon.app import Daemon

SLOTS = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]


def main() -> int:
    config = Config(**json.loads(Path(sys.argv[1]).read_text()))
    mode = sys.argv[2]
    stopping = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    daemon = Daemon(config)
    daemon.start()
    daemon.wait_ready()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    i = 0
    while not stopping.is_set():
        if mode == "sell":
            sell(daemon, SLOTS[i % len(SLOTS)])
            i += 1
        else:
            stopping.wait(0.5)
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
