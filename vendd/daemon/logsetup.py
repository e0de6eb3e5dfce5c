"""Logging for the daemon: one logger per module (`logging.getLogger(__name__)`), one handler
on the root logger, configured here once.

Under systemd (journald adds the time, host and unit) lines are plain and start with a syslog
priority prefix such as `<4>`, which journald turns into the entry's priority, so
`journalctl -u vendd -p warning` works. Elsewhere (a terminal, the simulator) lines carry a
timestamp and the level name."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TERMINAL_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"

# syslog priorities (sd-daemon(3)): <3> err, <4> warning, <5> notice, <6> info, <7> debug.
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def under_systemd(env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> bool:
    """True when our output goes to the journal: JOURNAL_STREAM names our stderr (systemd sets
    it for StandardError=journal), or INVOCATION_ID is set (started by systemd)."""
    env = os.environ if env is None else env
    journal = env.get("JOURNAL_STREAM", "")
    if journal:
        stream = sys.stderr if stream is None else stream
        try:
            st = os.fstat(stream.fileno())
            dev, ino = (int(part) for part in journal.split(":", 1))
        except (OSError, ValueError, AttributeError):
            return True  # can't compare: trust the variable
        return (st.st_dev, st.st_ino) == (dev, ino)
    return bool(env.get("INVOCATION_ID"))


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`; continuation lines (tracebacks) get the prefix too, so a
    traceback stays one entry's priority instead of becoming info lines."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def _priority(levelno: int) -> int:
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


def parse_level(level: str | int) -> int:
    """`"info"`, `"WARNING"`, `20`: a logging level; ValueError for anything else."""
    if isinstance(level, int):
        return level
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LEVELS).lower()})")
    return int(getattr(logging, name))


def setup_logging(
    level: str | int = "INFO",
    *,
    stream: TextIO | None = None,
    journal: bool | None = None,
) -> logging.Handler:
    """Configure the root logger (replacing a handler set up here before); returns the handler.
    `journal=None` detects systemd."""
    stream = sys.stderr if stream is None else stream
    if journal is None:
        journal = under_systemd(stream=stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter(TERMINAL_FORMAT))
    handler.set_name("vendd")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "vendd"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(parse_level(level))
    # Libraries stay quiet below WARNING unless we debug.
    for noisy in ("paho", "gpiozero", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if root.level <= logging.DEBUG
                                          else logging.WARNING)
    return handler
