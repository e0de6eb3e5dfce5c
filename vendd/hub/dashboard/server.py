"""The dashboard as the `web` component of `vendd hub run`: uvicorn serving the app in a
thread of the hub's process, on a socket bound before start() returns (so `[web] port = 0`
gives a free port whose address is known at once)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from vendd.errors import VenddError
from vendd.hub.config import HubConfig
from vendd.hub.dashboard.site import create_app
from vendd.hub.store import Store

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0


class DashboardServer:
    name = "web"

    def __init__(self, config: HubConfig, store: Store) -> None:
        self.app = create_app(config, store)
        try:
            self.sock = socket.create_server((config.web.host, config.web.port),
                                             reuse_port=False)
        except OSError as exc:
            raise VenddError(f"web: cannot listen on {config.web.host}:{config.web.port}: "
                             f"{exc.strerror}") from exc
        self.server = uvicorn.Server(uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="on",
            timeout_graceful_shutdown=2))
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name="hub-dashboard", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise VenddError("web: the dashboard did not start (see the log)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.app.state.hub.live.close_threadsafe()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.sock.close()
