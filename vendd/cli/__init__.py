"""`vendd run | check-config | verify | report | ...`: one clear line and a non-zero exit on
bad input, never a traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from vendd.cli.request import add_commands as add_request_commands
from vendd.config import Config, checked_config, load_config, on_raspberry_pi, pin_table
from vendd.errors import ConfigError, VenddError
from vendd.hub.cli import register as register_hub
from vendd.ledger.ledger import open_readonly
from vendd.ledger.verify import verify
from vendd.money import Money

DEFAULT_CONFIG = "/etc/vendd/vendd.toml"
EXIT_USAGE = 2
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: `run` with a config that cannot work; not restarted

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args, sys.stdout))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG if args.command == "run" else EXIT_USAGE
    except VenddError as exc:
        print(f"vendd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vendd", description="vending machine controller daemon")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace, TextIO], int],
                help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--config", default=DEFAULT_CONFIG, help="config file (TOML)")
        sp.set_defaults(func=func)
        return sp

    run = command("run", _run, "run the daemon until SIGTERM")
    run.add_argument("--log-level", default="INFO",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    test = command("selftest", _selftest, "check every configured device; exit 1 if one fails")
    test.add_argument("--motor", metavar="SLOT", help="also turn this slot's motor once")
    command("wiring", _wiring, "print the GPIO pin table for the person with the screwdriver")
    command("pin-hash", _pin_hash, "read a service-menu PIN (twice, not echoed) and print the "
            "scrypt hash to put in the config's `pin` instead of the digits")
    watch = command("watch", _watch, "follow the machine's MQTT feed in the terminal")
    watch.add_argument("--seconds", type=float, help="stop after this long (default: never)")
    watch.add_argument("--host", help="a broker to watch without the machine's config")
    watch.add_argument("--port", type=int, default=1883, help="with --host (default 1883)")
    watch.add_argument("--prefix", default="vendd", help="with --host (default vendd)")
    watch.add_argument("--machine", action="append", default=[], metavar="ID",
                       help="with --host: follow this machine (repeat; default: all)")
    check = command("check-config", _check_config, "check a config file and summarise it")
    check.add_argument("file", nargs="?", help="the file to check (default: --config)")
    ver = command("verify", _verify, "check the journal chain and the money/stock invariants")
    ver.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
    ver.add_argument("--against", metavar="FILE|URL", help="also compare the journal with "
                     "the hub's verified copy (`vendd hub export` file, or the hub's URL)")
    rep = command("report", _report, "statements (sales and their split) by maker, product, "
                  "slot or day; `report cash`: cash collections; `report stock`: stock")
    rep.add_argument("what", nargs="?", choices=["sales", "cash", "stock"], default="sales",
                     help="sales (default), cash or stock")
    rep.add_argument("--by", choices=["maker", "product", "slot", "day"], default="maker")
    rep.add_argument("--period", help="today, week, month or YYYY-MM-DD..YYYY-MM-DD "
                     "(local days in the machine's time zone)")
    rep.add_argument("--from", dest="start", type=_day, help="first local day, YYYY-MM-DD")
    rep.add_argument("--to", dest="end", type=_day, help="last local day, YYYY-MM-DD")
    rep.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rep.add_argument("--chart", metavar="FILE.png", help="also draw the figures as a PNG chart")
    rep.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
    pay = command("pay", _pay, "journal money paid to a maker for her share")
    pay.add_argument("--maker", required=True, help="the maker's id")
    pay.add_argument("--amount", required=True, type=int, metavar="CENTS",
                     help="in cents: 1250 is 12.50")
    pay.add_argument("--by", required=True, help="who paid her")
    pay.add_argument("--note", default="", help="a note kept with the payment")
    pay.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
    dex = command("export-dex", _export_dex, "write the EVA-DTS (DEX) audit file")
    dex.add_argument("--out", required=True, metavar="FILE", help="where to write the file")
    dex.add_argument("--reset", action="store_true",
                     help="reset the since-reset counters after this export (journaled)")
    dex.add_argument("--ledger", help="ledger file (default: the config's ledger.path)")
    add_request_commands(sub)  # request, keygen: no config file (run on a coordinator's computer)
    register_hub(sub)
    return p


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _ledger_path(args: argparse.Namespace, config: Config) -> Path:
    return Path(args.ledger) if getattr(args, "ledger", None) else config.ledger.path


def _check_config(args: argparse.Namespace, out: TextIO) -> int:
    # The same checks as `run` (files, folders, device nodes on a Pi): one shared function.
    config = checked_config(args.file or args.config, at_run=False)
    # PINs typed on the same buttons (fewer than ten of them), or hashed ones: beyond the
    # config model's own check, since they depend on the number of buttons.
    from vendd.menu import pins

    problems = pins.problems([(mk.id, mk.pin) for mk in config.makers if mk.pin],
                             len(config.slots))
    if problems:
        raise ConfigError([f"{args.file or args.config}: {p}" for p in problems])
    money = Money(config.machine.currency, config.machine.decimals)
    m = config.machine
    out.write(f"{args.file or args.config}: OK\n")
    out.write(f"machine  {m.id} — {m.name} ({m.location})\n")
    out.write(f"money    {m.currency}, {m.decimals} decimals; language {m.language}; "
              f"time zone {m.timezone}\n")
    s = config.shares
    out.write(f"shares   maker {s.maker}%, collective {s.collective}%, museum {s.museum}%\n")
    makers = {mk.id: mk.name for mk in config.makers}
    out.write(f"makers   {len(makers)}: {', '.join(makers.values())}\n")
    out.write(f"slots    {len(config.slots)}:\n")
    for slot in config.slots:
        out.write(f"  {slot.id:<4}{slot.product[:28]:<29}{makers[slot.maker][:18]:<19}"
                  f"{money(slot.price):>8}  x{slot.capacity}\n")
    ca = config.coin_acceptor
    coins = ", ".join(c.label for c in ca.coins) if ca else "none"
    if ca is not None or config.mdb is None:
        out.write(f"coins    {ca.kind if ca else 'none'}: {coins}\n")
    if config.mdb is not None:
        mdb = config.mdb
        fitted = [name.replace("_", " ") for name in ("changer", "bill_validator", "cashless")
                  if getattr(mdb, name) is not None and getattr(mdb, name).enabled]
        out.write(f"mdb      {mdb.link} on {mdb.port}: {', '.join(fitted) or 'no devices'}\n")
    out.write(f"devices  dispenser {config.dispenser.kind}, buttons {config.buttons.kind}, "
              f"display {config.display.kind}; {len(pin_table(config))} GPIO pins\n")
    mq = config.mqtt
    out.write(f"mqtt     {'on' if mq.enabled else 'off'}: {mq.host}:{mq.port} "
              f"prefix {mq.prefix}/{m.id}{', TLS' if mq.tls else ''}{_password_note(config)}\n")
    on = [a for a in type(mq.requests).model_fields if mq.requests.enabled(a)]
    signers = ", ".join(c.id for c in mq.requests.coordinators) or "nobody"
    out.write(f"requests {', '.join(on) or 'none'}; changes signed by {signers}\n")
    out.write(f"ledger   {config.ledger.path}\n")
    if not on_raspberry_pi():
        out.write("note     not a Raspberry Pi: serial ports, I2C and GPIO are checked on the "
                  "Pi itself\n")
    return 0


def _password_note(config: Config) -> str:
    mq = config.mqtt
    if mq.password_credential is not None:
        return (f", password from systemd credential {mq.password_credential}"
                " (checked when the service starts)")
    if mq.password_file is not None:
        return f", password from {mq.password_file}"
    return ""


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    path = _ledger_path(args, config)
    db = open_readonly(path)
    try:
        report = verify(db, config.machine.timezone)
        if args.against:
            from vendd.ledger.against import compare, hub_lines

            against = compare(db, hub_lines(args.against, config.machine.id), args.against)
            if against.difference:
                report.add(f"not as the hub verified it ({args.against}): "
                           f"{against.difference}")
            else:
                out.write(f"{path}: the {against.hub_rows} rows the hub verified match"
                          f"{'; ' + against.ahead if against.ahead else ''}\n")
    finally:
        db.close()
    money = Money(config.machine.currency, config.machine.decimals)
    if not report.ok:
        for problem in report.problems:
            out.write(f"{path}: {problem}\n")
        out.write(f"{path}: FAILED ({len(report.problems)} problems in {report.rows} rows)\n")
        return 1
    t = report.money
    out.write(f"{path}: OK, {report.rows} rows, head {report.head[:16]}\n")
    out.write(f"money in {money(t.cash_in)} = sales {money(t.cash_sales)} + paid out "
              f"{money(t.paid_out)} + owed {money(t.owed)} + unclaimed {money(t.unclaimed)} + "
              f"credit held {money(report.credit + t.held_in_vend)}\n")
    on_hand = ", ".join(f"{slot} {n}" for slot, n in sorted(report.stock.items()))
    out.write(f"stock on hand = loaded - sold - adjusted: {on_hand or 'no slots'}\n")
    return 0


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.ledger.cash import cash_report, render_cash
    from vendd.ledger.statements import Period, local_today, parse_period, render_statement
    from vendd.ledger.statements import statement as make_statement
    from vendd.ledger.stock import render_stock, stock_report

    config = load_config(args.config)
    tz = ZoneInfo(config.machine.timezone)
    if args.start and args.end and args.start > args.end:
        raise VenddError(f"--from {args.start} is after --to {args.end}")
    if args.period and (args.start or args.end):
        raise VenddError("use --period or --from/--to, not both")
    if args.chart and args.what != "sales":
        raise VenddError(f"--chart draws sales, not `report {args.what}`")
    period = (parse_period(args.period, local_today(tz)) if args.period
              else Period(args.start, args.end))
    money = Money(config.machine.currency, config.machine.decimals)
    db = open_readonly(_ledger_path(args, config))
    try:
        if args.what == "cash":
            text = render_cash(cash_report(db, tz), args.format, money)
        elif args.what == "stock":
            text = render_stock(stock_report(db, tz), args.format)
        else:
            st = make_statement(db, period, config.shares, tz, args.by)
            text = render_statement(st, args.format, money)
    finally:
        db.close()
    if args.chart:
        from vendd.ledger.charts import write_chart

        write_chart(st, args.chart, money, config.machine.language)
        if args.format == "table":
            text = text.rstrip("\n") + f"\nchart: {args.chart}"
    out.write(text.rstrip("\n") + "\n")
    return 0


def _export_dex(args: argparse.Namespace, out: TextIO) -> int:
    import os
    from datetime import datetime

    from vendd import __version__
    from vendd.commands import Fact
    from vendd.ledger.dex import DexMachine, write_dex
    from vendd.ledger.ledger import Ledger

    config = load_config(args.config)
    m = config.machine
    tz = ZoneInfo(m.timezone)
    path = _ledger_path(args, config)
    db = open_readonly(path)
    try:
        dex = write_dex(db, DexMachine(m.id, m.name, m.location, m.currency, m.decimals,
                                       __version__), tz, datetime.now(tz))
    finally:
        db.close()
    target = Path(args.out)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_bytes(dex.text.encode("ascii"))
        os.replace(partial, target)
    except OSError as exc:
        raise VenddError(f"{target}: cannot write the DEX file: {exc.strerror or exc}") from exc
    out.write(f"{target}: EVA-DTS audit file, {dex.stamp.line()}\n")
    if args.reset:
        ledger = Ledger(path, tz)
        try:
            (row,) = ledger.append([Fact("dex_reset", {"through": dex.stamp.head_seq,
                                                       "file": target.name, "by": "export-dex"})])
        finally:
            ledger.close()
        out.write(f"since-reset counters reset after row {dex.stamp.head_seq} "
                  f"(journal row {row.seq})\n")
    return 0


def _pay(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.ledger.payments import record_payment

    config = load_config(args.config)
    money = Money(config.machine.currency, config.machine.decimals)
    row = record_payment(_ledger_path(args, config), ZoneInfo(config.machine.timezone),
                         args.maker, args.amount, args.by, args.note)
    out.write(f"paid {args.maker} {money(args.amount)} (journal row {row.seq})\n")
    return 0


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.daemon.systemd import EXIT_CONFIG, run_service
    from vendd.menu import pins

    config = checked_config(args.config, at_run=True)
    makers = [(m.id, m.pin) for m in config.makers if m.pin]
    problems = pins.problems(makers, len(config.slots))
    for problem in problems:
        print(f"{args.config}: {problem}", file=sys.stderr)
    public = pins.example_pins(makers)
    if public:
        print(f"{args.config}: makers {', '.join(public)} still have the example's PINs, which "
              f"anyone can read: give each a PIN of her own (or a hash from `vendd pin-hash`)",
              file=sys.stderr)
    if problems or public:
        return EXIT_CONFIG
    return run_service(config, args.log_level)


def _pin_hash(args: argparse.Namespace, out: TextIO) -> int:
    import getpass

    from vendd.menu import pins

    config = load_config(args.config)
    read = getpass.getpass if sys.stdin.isatty() else _line
    first = read("PIN (4 to 8 digits): ")
    if read("again: ") != first:
        raise VenddError("the two PINs differ; nothing printed")
    try:
        out.write(pins.make_hash(first, len(config.slots)) + "\n")
    except ValueError as exc:
        raise VenddError(str(exc)) from None
    return 0


def _line(prompt: str) -> str:
    return sys.stdin.readline().strip()


def _selftest(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.cli.selftest import selftest

    return selftest(load_config(args.config), motor=args.motor, out=out)


def _wiring(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.cli.wiring import wiring

    return wiring(load_config(args.config), out)


def _watch(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.cli.watch import watch_broker, watch_main

    if args.host:
        return watch_broker(args.host, args.port, args.prefix, args.machine, out=out,
                            stop_after=args.seconds)
    return watch_main(load_config(args.config), out=out, stop_after=args.seconds)


if __name__ == "__main__":
    sys.exit(main())
