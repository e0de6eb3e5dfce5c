"""`vendd request` (sign and send one coordinator request, print the machine's answer) and
`vendd keygen` (make a coordinator's key pair and print the lines for the machine's config)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from vendd.config import CHANGE_ACTIONS
from vendd.telemetry.gate import REQUEST_ID
from vendd.telemetry.sender import Target, send_request
from vendd.telemetry.signing import (
    MAX_COUNTER,
    config_lines,
    generate_key,
    load_private_key,
    next_counter,
    private_key_pem,
    sign_request,
)

EXIT_USAGE = 2
IDENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
FIELD = re.compile(r"([a-z_][a-z0-9_]{0,31})=(.*)", re.DOTALL)
INTEGER = re.compile(r"-?[0-9]{1,15}")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    req = sub.add_parser(
        "request", help="sign and send one request to a machine, print its answer",
        description="Sign (with --key) and send one request over MQTT, wait for the "
        "machine's answer on response/ACTION and print it. Exit 0 when the machine says "
        "ok, 1 when it refuses or does not answer.")
    req.add_argument("action", help="set_price, set_stock, enable_slot, disable_slot, "
                     "out_of_service, back_in_service, report, ping")
    req.add_argument("fields", nargs="*", metavar="FIELD=VALUE",
                     help="the action's fields, e.g. slot=A1 price=350 (whole numbers are "
                     "sent as numbers, true/false as booleans)")
    req.add_argument("--machine", required=True, help="the machine id (its [machine] id)")
    req.add_argument("--host", default="localhost", help="MQTT broker (default: localhost)")
    req.add_argument("--port", type=int, default=1883, help="MQTT port (default: 1883)")
    req.add_argument("--prefix", default="vendd", help="topic prefix (default: vendd)")
    req.add_argument("--username", help="MQTT user; the password is read from "
                     "VENDD_MQTT__PASSWORD")
    req.add_argument("--ca-file", type=Path, help="use TLS, trusting this CA")
    req.add_argument("--key", type=Path, help="the coordinator's private key (PEM) to sign "
                     "with; needed for changes")
    req.add_argument("--coordinator", help="the coordinator id the machine knows the key by")
    req.add_argument("--counter", type=int, help="the request's counter (default: this "
                     "computer's clock in milliseconds, which grows by itself)")
    req.add_argument("--request-id", help="default: a new random id")
    req.add_argument("--ttl", type=int, default=60, help="MQTT message expiry in seconds: "
                     "the broker drops the request if the machine has not taken it by then "
                     "(default: 60; the machine accepts at most its mqtt.requests.max_age_s)")
    req.add_argument("--timeout", type=float, default=10.0,
                     help="how long to wait for the answer, in seconds (default: 10)")
    req.set_defaults(func=request_command)

    key = sub.add_parser(
        "keygen", help="make a coordinator's signing key and print its config lines",
        description="Write a new Ed25519 private key (PEM, readable by you only) and print "
        "the [[mqtt.requests.coordinators]] lines to add to each machine's config.")
    key.add_argument("--coordinator", required=True, help="her id, e.g. ana")
    key.add_argument("--out", type=Path, required=True, help="where to write the private key")
    key.set_defaults(func=keygen_command)


def parse_fields(items: list[str]) -> dict[str, Any]:
    """FIELD=VALUE words -> the request's fields. Raises ValueError naming the bad word."""
    body: dict[str, Any] = {}
    for item in items:
        match = FIELD.fullmatch(item)
        if match is None:
            raise ValueError(f"{item!r} is not FIELD=VALUE (a lower-case field name)")
        name, text = match.groups()
        if name in body:
            raise ValueError(f"{name} is given twice")
        value: Any = text
        if INTEGER.fullmatch(text):
            value = int(text)
        elif text in ("true", "false"):
            value = text == "true"
        body[name] = value
    return body


def _usage(message: str) -> int:
    print(f"vendd request: {message}", file=sys.stderr)
    return EXIT_USAGE


def request_command(args: argparse.Namespace, out: TextIO) -> int:
    try:
        body = parse_fields(args.fields)
    except ValueError as exc:
        return _usage(str(exc))
    rid = args.request_id or uuid.uuid4().hex
    if REQUEST_ID.fullmatch(rid) is None:
        return _usage("--request-id: 1 to 64 letters, digits or _.:@-")
    if not 1 <= args.ttl <= 86400:
        return _usage("--ttl: 1 to 86400 seconds")
    if (args.key is None) != (args.coordinator is None):
        return _usage("--key and --coordinator go together")
    if args.key is None:
        if args.action in CHANGE_ACTIONS:
            return _usage(f"{args.action} changes the machine: sign it with --key FILE "
                          "--coordinator ID")
        request = {**body, "request_id": rid}
    else:
        if IDENT.fullmatch(args.coordinator) is None:
            return _usage("--coordinator: lower-case letters, digits, _ and -")
        counter = args.counter if args.counter is not None else next_counter()
        if not 1 <= counter <= MAX_COUNTER:
            return _usage(f"--counter: 1 to {MAX_COUNTER}")
        request = sign_request(load_private_key(args.key), args.coordinator, counter,
                               args.action, body, machine=args.machine, request_id=rid)
    target = Target(args.host, args.port, args.prefix, args.machine, args.username,
                    os.environ.get("VENDD_MQTT__PASSWORD"), args.ca_file)
    answer = send_request(target, args.action, request, ttl_s=args.ttl,
                          timeout_s=args.timeout)
    out.write(json.dumps(answer, ensure_ascii=False, indent=2) + "\n")
    return 0 if answer.get("ok") is True else 1


def keygen_command(args: argparse.Namespace, out: TextIO) -> int:
    if IDENT.fullmatch(args.coordinator) is None:
        print("vendd keygen: --coordinator: lower-case letters, digits, _ and -",
              file=sys.stderr)
        return EXIT_USAGE
    key = generate_key()
    try:
        # O_EXCL: never overwrite a key (a lost key locks its coordinator out); 0600 from birth.
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"vendd keygen: {args.out} exists; not overwriting a key", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"vendd keygen: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    with os.fdopen(fd, "wb") as f:
        f.write(private_key_pem(key))
    out.write(f"# private key written to {args.out}: keep it secret, back it up\n")
    out.write("# add these lines to the config of every machine she may change:\n")
    out.write(config_lines(args.coordinator, key))
    return 0
