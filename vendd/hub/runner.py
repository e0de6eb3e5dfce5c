"""`vendd hub run` and `vendd hub ingest`: the hub's components in one process.

A component has a `name`, `start()` (returns at once) and `stop()`. `COMPONENTS` maps names to
factories taking (config, store); `hub run` starts every one of them in order, `hub ingest`
only `ingest`. The dashboard and the alert engine join by registering themselves
(`register("web", factory)` replaces the small status server; `register("alerts", ...)`)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Protocol, TextIO

from vendd.hub.config import HubConfig
from vendd.hub.store import Store

log = logging.getLogger(__name__)


class Component(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


Factory = Callable[[HubConfig, Store], Component]


def _ingest(config: HubConfig, store: Store) -> Component:
    from vendd.hub.ingest import Ingest

    return Ingest(config, store)


def _web(config: HubConfig, store: Store) -> Component:
    import importlib.util

    if importlib.util.find_spec("starlette") is None:  # no web libraries: the status routes
        from vendd.hub.web import StatusServer

        return StatusServer(config, store)
    from vendd.hub.alerts.web import install
    from vendd.hub.dashboard.server import DashboardServer

    if config.alerts.enabled:
        install()  # the banner, the Alertas page and the acknowledge links
    return DashboardServer(config, store)


def _alerts(config: HubConfig, store: Store) -> Component:
    from vendd.hub.alerts.component import AlertsComponent

    return AlertsComponent(config, store)


COMPONENTS: dict[str, Factory] = {"ingest": _ingest, "web": _web}


def register(name: str, factory: Factory) -> None:
    COMPONENTS[name] = factory


register("alerts", _alerts)


def open_store(config: HubConfig) -> Store:
    return Store(config.store.url, password_file=config.store.password_file)


def run(config: HubConfig, names: Sequence[str], out: TextIO,
        factories: dict[str, Factory] | None = None,
        stop: threading.Event | None = None) -> int:
    """Start the named components, say where the hub is, run until SIGTERM/SIGINT (or `stop`),
    stop them in reverse order."""
    factories = COMPONENTS if factories is None else factories
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    store = open_store(config)
    started: list[Component] = []
    try:
        for name in names:
            component = factories[name](config, store)
            component.start()
            started.append(component)
            address = getattr(component, "address", None)
            detail = f" at {address}" if address else ""
            out.write(f"hub {name}: running{detail}\n")
        mq = config.mqtt
        out.write(f"hub: following {mq.prefix}/+ on {mq.host}:{mq.port}, store "
                  f"{store.engine.url.render_as_string(hide_password=True)}\n")
        out.flush()
        stop.wait()
    finally:
        for component in reversed(started):
            try:
                component.stop()
            except Exception:  # stopping the rest matters more than this one's error
                log.exception("hub %s did not stop cleanly", component.name)
        store.close()
    return 0
