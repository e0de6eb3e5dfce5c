"""`vendd-sim demo | run`: the real daemon on the simulated cabinet."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from simulator.broker import private_broker
from simulator.scenarios import demo
from simulator.sim import Cabinet, Simulation
from simulator.traffic import Traffic
from vendd.config import Config, load_config
from vendd.errors import ConfigError, VenddError
from vendd.ledger.ledger import open_readonly
from vendd.ledger.reports import render, sales_report
from vendd.money import Money

DEFAULT_CONFIG = "config/sim.toml"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vendd-sim", description="vendd on a simulated cabinet")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = sub.add_parser("demo", help="a scripted morning at the machine, then the sales report")
    d.add_argument("--config", default=DEFAULT_CONFIG)
    r = sub.add_parser("run", help="run the daemon on simulated devices until stopped")
    r.add_argument("--config", default=DEFAULT_CONFIG)
    r.add_argument("--traffic", type=int, metavar="SEED",
                   help="seeded random buyers and seamstresses")
    r.add_argument("--chaos", action="store_true",
                   help="with --traffic: faults too (jams, resets, lost events, unplugging)")
    r.add_argument("--tally", type=Path, help="append what physically happened to this file")
    r.add_argument("--turn-time", type=float, default=0.3, metavar="SECONDS",
                   help="how long a spiral takes to turn once")
    r.add_argument("--log-level", default="WARNING")
    pn = sub.add_parser("panel", help="an interactive front panel of the simulated cabinet")
    pn.add_argument("--config", default=DEFAULT_CONFIG)
    pn.add_argument("--turn-time", type=float, default=0.3, metavar="SECONDS",
                    help="how long a spiral takes to turn once")
    t = sub.add_parser("selftest", help="`vendd selftest` against the simulated cabinet")
    t.add_argument("--config", default=DEFAULT_CONFIG)
    t.add_argument("--motor", metavar="SLOT", help="also turn this slot's motor once")
    t.add_argument("--fault", choices=["stuck-home", "unplug-acceptor"],
                   help="break something first, to see the self-test name it")
    c = sub.add_parser("cabinet", help="the simulated cabinet alone, in its own process")
    c.add_argument("--config", default=DEFAULT_CONFIG)
    c.add_argument("--dir", type=Path, required=True,
                   help="folder of its sockets (cabinet.sock, pins.sock) and files")
    c.add_argument("--tally", type=Path, help="append what physically happened to this file")
    c.add_argument("--turn-time", type=float, default=0.3, metavar="SECONDS")
    c.add_argument("--dwell", type=float, default=0.05, metavar="SECONDS",
                   help="how long a powered cam rests at home before turning on")
    dm = sub.add_parser("daemon", help="the daemon on a cabinet started with `cabinet`")
    dm.add_argument("--config", default=DEFAULT_CONFIG)
    dm.add_argument("--cabinet", type=Path, required=True, help="the cabinet's --dir")
    dm.add_argument("--log-level", default="WARNING")
    dm.add_argument("--standby", action="store_true",
                    help="load, print `standby`, and start when a line arrives on stdin")
    args = p.parse_args(argv)
    try:
        if args.command == "cabinet":
            from simulator.cabinet_proc import run_cabinet

            logging.basicConfig(level=logging.WARNING)
            return run_cabinet(load_config(args.config), args.dir, args.tally,
                               args.turn_time, args.dwell)
        if args.command == "daemon":
            from simulator.host import run_daemon

            return run_daemon(args.config, args.cabinet, args.log_level, args.standby)
        if args.command == "demo":
            return run_demo(args.config)
        if args.command == "selftest":
            return run_selftest(args)
        if args.command == "panel":
            return run_panel_command(args)
        return run_until_stopped(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except VenddError as exc:
        print(f"vendd-sim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run_demo(config_path: str) -> int:
    config = load_config(config_path)
    # Errors only: the demo narrates itself, and a missing broker is expected here.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    sim = Simulation(config)
    sim.start()
    try:
        demo(sim, print)
    finally:
        sim.stop()
    money = Money(config.machine.currency, config.machine.decimals)
    db = open_readonly(config.ledger.path)
    try:
        print()
        print(render(sales_report(db, "maker"), "table", money))
    finally:
        db.close()
    print(f"\nledger: {config.ledger.path.resolve()}")
    return 0


def spirals_file(config: Config) -> Path:
    return Path(f"{config.ledger.path}.spirals.json")


def run_panel_command(args: argparse.Namespace) -> int:
    from simulator.panel import run_panel

    config = load_config(args.config)
    # Log lines would scribble over the panel: only errors, to stderr.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    sim = Simulation(config, turn_time_s=args.turn_time, state_path=spirals_file(config))
    sim.start()
    try:
        run_panel(sim)
    finally:
        sim.stop()
    return 0


def run_selftest(args: argparse.Namespace) -> int:
    from vendd.cli.selftest import selftest

    config = load_config(args.config)
    with tempfile.TemporaryDirectory(prefix="vendd-sim-") as folder, \
            private_broker(Path(folder)) as port:
        # The simulated site has its own broker, as the museum has one.
        data = config.model_dump()
        data["mqtt"] |= {"host": "127.0.0.1", "port": port}
        cabinet = Cabinet(Config(**data), turn_time_s=0.1)
        for slot in cabinet.config.slots:
            cabinet.load(slot.id, slot.capacity)
        cabinet.start_physics()
        try:
            if args.fault == "stuck-home" and cabinet.cabinet is not None:
                cabinet.cabinet.faults.stuck_home.add(args.motor or cabinet.config.slots[0].id)
            if args.fault == "unplug-acceptor" and cabinet.cctalk is not None:
                cabinet.cctalk.unplug()
            return selftest(cabinet.config, pin_factory=cabinet.pins, motor=args.motor,
                            devices=cabinet.simulated_devices())
        finally:
            cabinet.stop_physics()


def run_until_stopped(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # The spirals outlive this process in a file next to the ledger, as a cabinet outlives
    # its daemon (`vendd-sim cabinet` keeps the acceptor's buffer too).
    sim = Simulation(config, tally_path=args.tally, turn_time_s=args.turn_time,
                     state_path=spirals_file(config))
    sim.start()
    # The credit the daemon recovered from the journal, before anyone touches the machine.
    print(f"ready credit={sim.state.credit}", flush=True)
    traffic = Traffic(sim, args.traffic, chaos=args.chaos) if args.traffic is not None else None
    if traffic is not None:
        traffic.start()
    stop.wait()
    if traffic is not None:
        traffic.stop()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
