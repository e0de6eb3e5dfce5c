"""The hub's small HTTP side (standard library only): `GET /` the status as text, `/status`
as JSON, `/machines/<id>/journal.jsonl` the verified rows (what `vendd verify --against`
reads). It is the `web` component of `vendd hub run` until the dashboard takes its place."""

from __future__ import annotations

import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vendd.hub.config import HubConfig
from vendd.hub.export import export_lines
from vendd.hub.status import render_status, status_data
from vendd.hub.store import Store, StoreError

log = logging.getLogger(__name__)

_EXPORT = re.compile(r"^/machines/([a-z0-9][a-z0-9_-]{0,31})/journal\.jsonl$")


class StatusServer:
    name = "web"

    def __init__(self, config: HubConfig, store: Store) -> None:
        self.store = store
        handler = _handler(store)
        self.server = ThreadingHTTPServer((config.web.host, config.web.port), handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{shown}:{port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="hub-web",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/":
                    self._send(render_status(store) + "\n", "text/plain; charset=utf-8")
                elif path == "/status":
                    self._send(json.dumps(status_data(store), ensure_ascii=False),
                               "application/json")
                elif m := _EXPORT.match(path):
                    if store.machine(m.group(1)) is None:
                        self.send_error(HTTPStatus.NOT_FOUND, "no such machine")
                        return
                    self._send("".join(export_lines(store, m.group(1))),
                               "application/x-ndjson")
                else:
                    self.send_error(HTTPStatus.NOT_FOUND)
            except StoreError as exc:
                self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))

        def _send(self, body: str, ctype: str) -> None:
            data = body.encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler
