"""The daemon in a child process, for the kill tests: `python daemon_child.py CONFIG.json`.
Prints `ready` once the machine sells; SIGTERM stops it cleanly, SIGKILL as it comes."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from vendd.config import Config
from vendd.daemon.app import Daemon


def main() -> int:
    config = Config(**json.loads(Path(sys.argv[1]).read_text()))
    stopping = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    daemon = Daemon(config)
    daemon.start()
    daemon.wait_ready()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    stopping.wait()
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
