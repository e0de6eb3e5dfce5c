"""The real thing for the browser tests: a private Mosquitto, a daemon on virtual devices
publishing to it, `vendd hub run` (ingest + this dashboard) following it, and Debian's
Chromium driven by Selenium (explicit driver path, offline, headless, resolving nothing but
loopback)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from support import wait_for

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
PAGES = ["/maquinas", "/stock", "/ventas", "/cuentas", "/caja", "/diario", "/cambios",
         "/personas", "/stock/reponer?by=maker"]


def chrome() -> webdriver.Chrome:
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager reach the internet
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "--window-size=1280,900", "--lang=es"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Browser:
    """One Chromium for the session, pointed at one hub."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self.base = ""

    def go(self, path: str) -> None:
        self.driver.get(self.base.rstrip("/") + path)

    # A live part (htmx, server-sent events) may replace an element between a WebDriver find
    # and a WebDriver read; one script runs in the page at once, so it never sees a stale one.
    def text(self, css: str) -> str:
        found = self.texts(css)
        if not found:
            raise AssertionError(f"nothing on {self.driver.current_url} matches {css}")
        return found[0]

    def texts(self, css: str) -> list[str]:
        return list(self.driver.execute_script(
            # innerText parts table cells with tabs; WebDriver's text, with spaces
            "return Array.from(document.querySelectorAll(arguments[0]),"
            " e => e.innerText.replace(/\\t/g, ' '));",
            css))

    def attrs(self, css: str, name: str) -> list[str | None]:
        return list(self.driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]),"
            " e => e.getAttribute(arguments[1]));", css, name))

    def click(self, css: str) -> None:
        """Click the first match, found and clicked in one step (see texts())."""
        clicked = self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e;", css)
        if not clicked:
            raise AssertionError(f"nothing on {self.driver.current_url} matches {css}")

    def sign_in(self, username: str, password: str) -> None:
        # Leave the last page first: its live parts, still polling once the session cookie is
        # gone, would fetch /entrar in the background and replace the form's CSRF cookie.
        self.driver.get("about:blank")
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.go("/entrar")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "signin").click()
        try:
            wait_for(lambda: "/entrar" not in self.driver.current_url, 20, "the sign-in")
        except AssertionError as exc:
            said = self.texts("#signin-error")
            raise AssertionError(f"{exc}; the page says: {said[0] if said else 'nothing'}"
                                 ) from None

    def mark(self) -> None:
        """Tag the loaded document: a reload would lose the tag."""
        self.driver.execute_script("window.__noReload = 'kept';")

    def not_reloaded(self) -> bool:
        return self.driver.execute_script("return window.__noReload") == "kept"

    def until(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        def safe() -> Any:
            try:
                return condition()
            except Exception:  # the element is being swapped by htmx: look again
                return None
        return wait_for(safe, timeout, what)

    def phone(self, on: bool) -> None:
        if on:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
        else:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def horizontal_overflow(self) -> int:
        return int(self.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"))

    def screenshots(self, folder: Path, pages: list[str] = PAGES) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for path in pages:
            self.go(path)
            name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-")
            target = folder / f"{name or 'home'}.png"
            self.driver.save_screenshot(str(target))
            out.append(target)
        return out
