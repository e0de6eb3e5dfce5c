"""`vendd hub user add|passwd|remove|list`: the dashboard's accounts, from the hub's shell.

The password is read from `--password-file` (first line), else asked twice on the terminal,
else read as the first line of standard input (scripts); it never goes on the command line.
A coordinator gets an Ed25519 signing key (`<web.keys>/<username>.pem`); the command prints
the lines each machine's config needs to accept her changes."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any, TextIO

from vendd.errors import VenddError


def register(hsub: Any, command: Any) -> None:
    user = command("user", _user, "dashboard accounts: add, passwd, remove, list")
    user.add_argument("action", choices=["add", "passwd", "remove", "list"])
    user.add_argument("username", nargs="?")
    user.add_argument("--role", choices=["coordinator", "maker", "member"])
    user.add_argument("--maker", help="the maker id (as in the machines' configs) of a maker")
    user.add_argument("--name", default="", help="the name shown on the pages")
    user.add_argument("--password-file", type=Path, metavar="FILE",
                      help="read the password from this file's first line")


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            return args.password_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            raise VenddError(f"--password-file {args.password_file}: cannot read a password "
                             f"from its first line") from exc
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise VenddError("the two passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise VenddError("no password on standard input")
    return line


def _user(args: argparse.Namespace, out: TextIO) -> int:
    from vendd.hub.config import load_hub_config

    config = load_hub_config(args.config)
    try:
        from vendd.hub.dashboard.changes import key_path, make_key
        from vendd.hub.dashboard.people import People
        from vendd.hub.store import Store
        from vendd.telemetry.signing import config_lines, load_private_key
    except ImportError as exc:
        raise VenddError("the dashboard needs the hub's extra libraries: "
                         "pip install 'vendd[hub]'") from exc
    if args.action != "list" and not args.username:
        raise VenddError(f"user {args.action}: name the user")
    store = Store(config.store.url, password_file=config.store.password_file)
    people = People(store.engine)
    try:
        if args.action == "add":
            if args.role is None:
                raise VenddError("user add: --role is required")
            user = people.add(args.username, args.name, args.role, _password(args),
                              args.maker)
            out.write(f"user {user.username} added ({user.role})\n")
            if user.role == "coordinator":
                make_key(config, user.username)
                key = load_private_key(key_path(config, user.username))
                out.write("add to each machine's config to accept her changes:\n"
                          + config_lines(user.username, key))
        elif args.action == "passwd":
            people.set_password(args.username, _password(args))
            out.write(f"password of {args.username} changed; her sessions are closed\n")
        elif args.action == "remove":
            people.remove(args.username)
            out.write(f"user {args.username} removed\n")
        else:
            for u in people.all():
                out.write(f"{u.username}\t{u.role}\t{u.maker or '-'}\t{u.name}\n")
    finally:
        store.close()
    return 0
