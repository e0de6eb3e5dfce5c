"""`vendd hub run | ingest | status | report | export`: the hub's commands, registered on the
main `vendd` parser by `register(subparsers)`. The hub's libraries (SQLAlchemy, Alembic,
psycopg: the `hub` extra) are imported only when a hub command runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from vendd.errors import VenddError
from vendd.hub.config import DEFAULT_PATH, LOG_FORMAT, HubConfig, load_hub_config

EXTRA = "the hub needs its extra libraries: pip install 'vendd[hub]'"


def register(sub: Any) -> None:
    hub = sub.add_parser("hub", help="the collective's hub: every machine's journal, verified",
                         description="the collective's hub: every machine's journal "
                                     "replicated, verified and reported")
    hsub = hub.add_subparsers(dest="hub_command", required=True, metavar="HUB_COMMAND")

    def command(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        sp = hsub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--config", default=DEFAULT_PATH, help="hub config file (TOML)")
        sp.set_defaults(func=func)
        return sp

    run = command("run", _run, "ingest, the web side and alerts in one process")
    run.add_argument("--log-level", default="INFO",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    ing = command("ingest", _ingest, "only store the feed (one of several workers)")
    ing.add_argument("--worker", metavar="NAME",
                     help="this worker's name: its own MQTT session (client id + -NAME)")
    ing.add_argument("--log-level", default="INFO",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    st = command("status", _status, "machines, verified heads, open gaps, integrity alarms")
    st.add_argument("--format", choices=["table", "json"], default="table")
    rep = command("report", _report, "statements, cash and stock from the replica, as "
                  "`vendd report` prints them on the machine")
    rep.add_argument("what", nargs="?", choices=["sales", "cash", "stock"], default="sales")
    rep.add_argument("--machine", help="one machine (default: all)")
    rep.add_argument("--by", choices=["maker", "product", "slot", "day"], default="maker")
    rep.add_argument("--period", help="today, week, month, last-month or "
                     "YYYY-MM-DD..YYYY-MM-DD (local days of each machine)")
    rep.add_argument("--from", dest="start", type=_day, help="first local day, YYYY-MM-DD")
    rep.add_argument("--to", dest="end", type=_day, help="last local day, YYYY-MM-DD")
    rep.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rep.add_argument("--chart", metavar="FILE.png", help="also draw the figures as a PNG chart")
    exp = command("export", _export, "a machine's verified rows as JSON lines "
                  "(for `vendd verify --against`)")
    exp.add_argument("--machine", required=True)
    exp.add_argument("--out", required=True, metavar="FILE")
    from vendd.hub.dashboard.usercli import register as register_users

    register_users(hsub, command)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _config(args: argparse.Namespace) -> HubConfig:
    config = load_hub_config(args.config)
    try:
        import alembic  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise VenddError(EXTRA) from exc
    return config


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.hub.runner import COMPONENTS, run

    config = _config(args)
    _logging(args.log_level)
    return run(config, list(COMPONENTS), out)


def _ingest(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.hub.ingest import Ingest
    from vendd.hub.runner import run

    config = _config(args)
    _logging(args.log_level)
    worker = args.worker
    return run(config, ["ingest"], out,
               factories={"ingest": lambda c, s: Ingest(c, s, worker=worker)})


def _logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr, format=LOG_FORMAT)


def _status(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.hub.runner import open_store
    from vendd.hub.status import render_status

    store = open_store(_config(args))
    try:
        out.write(render_status(store, args.format) + "\n")
    finally:
        store.close()
    return 0


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.hub.reports import ReportRequest, report
    from vendd.hub.runner import open_store

    config = _config(args)
    req = ReportRequest(args.what, args.by, args.period, args.start, args.end, args.format,
                        args.machine, args.chart)
    store = open_store(config)
    try:
        text = report(config, store, req)
    finally:
        store.close()
    out.write(text.rstrip("\n") + "\n")
    return 0


def _export(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.hub.export import export_lines
    from vendd.hub.runner import open_store

    config = _config(args)
    store = open_store(config)
    target = Path(args.out)
    partial = target.with_name(target.name + ".partial")
    try:
        if store.machine(args.machine) is None:
            raise VenddError(f"--machine: the hub has no rows of {args.machine!r}")
        n = 0
        with partial.open("w", encoding="utf-8") as f:
            for line in export_lines(store, args.machine):
                f.write(line)
                n += 1
        os.replace(partial, target)
    except OSError as exc:
        raise VenddError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    finally:
        store.close()
    out.write(f"{target}: {n} verified rows of {args.machine}\n")
    return 0
