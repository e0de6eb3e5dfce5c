"""`make hub-demo` shows an alert opening and resolving in its first minute: the demo stops
its last machine for a while and starts it again."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from support import ROOT, wait_for


def test_hub_demo_opens_and_resolves_an_alert(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.hub_demo", "--folder", str(tmp_path / "demo"),
         "--offline-after", "1", "--offline-for", "10"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    assert proc.stdout is not None
    out = proc.stdout
    threading.Thread(target=lambda: [lines.put(ln) for ln in out], daemon=True).start()
    seen: list[str] = []

    def printed(text: str) -> bool:
        while not lines.empty():
            seen.append(lines.get())
        return any(text in ln for ln in seen)
    try:
        wait_for(lambda: printed("alerta abierta: cuenca-01 sin conexión"), 90,
                 "the offline alert to open")
        wait_for(lambda: printed("alerta resuelta: cuenca-01 sin conexión"), 90,
                 "the offline alert to resolve")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    assert printed("demo: cuenca-01 started again")
