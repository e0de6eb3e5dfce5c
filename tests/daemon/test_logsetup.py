"""Logs: plain lines with a syslog priority under systemd (journald adds the time), timestamps
in a terminal; `--log-level` accepts the usual names."""

from __future__ import annotations

import io
import logging
import os
import tempfile

import pytest

from vendd.daemon.logsetup import parse_level, setup_logging, under_systemd


@pytest.fixture(autouse=True)
def restore_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libs = {name: logging.getLogger(name).level for name in ("paho", "gpiozero", "urllib3")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lib_level in libs.items():
        logging.getLogger(name).setLevel(lib_level)


def test_systemd_detection():
    assert not under_systemd({})
    assert under_systemd({"INVOCATION_ID": "abc"})
    with tempfile.TemporaryFile("w") as f:
        st = os.fstat(f.fileno())
        assert under_systemd({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, stream=f)
        # stderr was redirected elsewhere (a pipe to a pager): not the journal any more
        assert not under_systemd({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, stream=f)


def test_journal_lines_are_plain_with_priority():
    out = io.StringIO()
    setup_logging("info", stream=out, journal=True)
    logging.getLogger("vendd.daemon.controller").warning("motor %s jammed", "A1")
    logging.getLogger("vendd.daemon.controller").debug("hidden")
    assert out.getvalue() == "<4>vendd.daemon.controller: motor A1 jammed\n"


def test_terminal_lines_have_timestamps_and_levels():
    out = io.StringIO()
    setup_logging("DEBUG", stream=out, journal=False)
    setup_logging("DEBUG", stream=out, journal=False)  # configured twice: still one handler
    logging.getLogger("vendd.daemon.systemd").debug("hello")
    line = out.getvalue()
    assert line.count("hello") == 1
    assert line[:4].isdigit() and " DEBUG   vendd.daemon.systemd: hello" in line


def test_levels():
    assert parse_level("warning") == logging.WARNING and parse_level("DEBUG") == logging.DEBUG
    with pytest.raises(ValueError, match="unknown log level"):
        parse_level("loud")
