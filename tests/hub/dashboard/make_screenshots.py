"""The README's screenshots of the dashboard, taken by the browser tests' own set-up (a
daemon with sales, Mosquitto, `vendd hub run`, Chromium):

    PYTHONPATH=. python tests/hub/dashboard/make_screenshots.py

writes vendd/hub/dashboard/static/screenshots/{maquinas,stock,cuentas}.png."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent),
                str(HERE.parent.parent / "telemetry")]

from browser import Browser, chrome  # noqa: E402
from test_browser import PASSWORD, ROOT, running_world  # noqa: E402

SALES = ("A1", "A2", "B1", "A1", "B2", "A3", "A1", "B1", "A4", "A2", "B3", "A1")


def main() -> None:
    target = ROOT / "vendd/hub/dashboard/static/screenshots"
    with tempfile.TemporaryDirectory() as tmp, running_world(Path(tmp), SALES) as world:
        driver = chrome()
        try:
            driver.set_window_size(1100, 820)
            b = Browser(driver)
            b.base = world.address
            b.sign_in("coord", PASSWORD)
            for shot in b.screenshots(target, ["/maquinas", "/stock", "/cuentas"]):
                print(shot)
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
