"""A small JSON-lines call protocol on a Unix socket, between the simulator's processes (the
cabinet, the daemon's host, the chaos test). One request per line `{"op", "args"}`, one answer
per line `{"ok": value}` or `{"error": text}`. Not used by the daemon itself."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Any]


class RpcError(Exception):
    """The other side answered with an error."""


class Server:
    """Serve `handler(op, args)` on `path`, one thread per connection."""

    def __init__(self, path: str, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(8)
        threading.Thread(target=self._accept, name=f"rpc {path}", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for raw in stream:
                try:
                    request = json.loads(raw)
                    answer = {"ok": self.handler(request["op"], request.get("args", {}))}
                except Exception as exc:  # a connection's boundary: the caller gets the error
                    log.warning("rpc %s: %r", self.path, exc)
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
                try:
                    stream.write(json.dumps(answer).encode() + b"\n")
                    stream.flush()
                except OSError:
                    return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class Client:
    """Calls on one connection; `ConnectionError` (an OSError) when the other side is gone."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(path)
        self._stream = self._sock.makefile("rwb")
        self._lock = threading.Lock()

    def call(self, op: str, **args: Any) -> Any:
        with self._lock:
            self._stream.write(json.dumps({"op": op, "args": args}).encode() + b"\n")
            self._stream.flush()
            raw = self._stream.readline()
        if not raw:
            raise ConnectionError(f"{op}: the other side closed the connection")
        answer = json.loads(raw)
        if "error" in answer:
            raise RpcError(f"{op}: {answer['error']}")
        return answer["ok"]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.close()
            self._sock.close()
