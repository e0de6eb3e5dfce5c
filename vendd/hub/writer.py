"""The ingest's writes, in a process of their own.

The ingest's thread reads the broker; storing a batch (the chain check, the inserts, the
commit's fsync) takes about as long again. In one interpreter the two would take turns, so
the hub writes in a child process (`python -m vendd.hub.writer`) with its own connection to
the store: while the child stores batch k, the ingest reads batch k+1 on the other core,
and acknowledges batch k to the broker only once the child says it is committed.

One batch is in the child at a time (`busy`). The child ignores SIGINT and SIGTERM and
ends when its pipe closes, so a stopping hub drains it first; a hub killed with -9 closes
the pipe too, and the child ends after the batch it holds (committed or not: nothing of it
was acknowledged, the broker delivers it again and the store takes each row once).

A store in memory (`sqlite://`, tests) cannot be shared with a child: `InlineWriter` stores
in the ingest's own thread, through the same `store_job`."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

import vendd
from vendd.hub.config import LOG_FORMAT
from vendd.hub.records import BatchResult, RowIn, StoreError
from vendd.hub.store import Store

log = logging.getLogger(__name__)

START_S = 60.0  # the child opens the store within this
RESULT_S = 600.0  # a batch stored within this, or the child is taken for hung
CLOSE_S = 10.0  # a child whose pipe closed ends within this, or it is killed


@dataclass
class Job:
    """What one batch of messages asks of the store."""

    rows: list[RowIn] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    # machine -> (the head it reported in a replay answer, the head the hub had when it asked)
    heads: dict[str, tuple[int, int | None]] = field(default_factory=dict)


@dataclass
class Done:
    result: BatchResult
    head_alarms: int = 0


def store_job(store: Store, job: Job) -> Done:
    """Rows first, then what the machines said about themselves. Raises StoreError."""
    result = store.add_rows(job.rows) if job.rows else BatchResult()
    for machine, status in job.statuses.items():
        store.set_status(machine, status)
    for machine, state in job.states.items():
        store.set_state(machine, state)
    head_alarms = sum(store.machine_reports_head(machine, head, ours)
                      for machine, (head, ours) in job.heads.items())
    return Done(result, head_alarms)


class Writer(Protocol):
    @property
    def busy(self) -> bool: ...

    def open(self) -> None: ...

    def submit(self, job: Job) -> None: ...

    def result(self, timeout: float) -> Done | None:
        """The submitted batch's outcome once stored (None: not yet). Raises StoreError."""

    def close(self) -> None: ...


class InlineWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._done: Done | StoreError | None = None

    @property
    def busy(self) -> bool:
        return self._done is not None

    def open(self) -> None:
        pass

    def submit(self, job: Job) -> None:
        try:
            self._done = store_job(self.store, job)
        except StoreError as exc:
            self._done = exc

    def result(self, timeout: float) -> Done | None:
        done, self._done = self._done, None
        if isinstance(done, StoreError):
            raise done
        return done

    def close(self) -> None:
        self._done = None


class ProcessWriter:
    """The child process: started by open() or the next batch after it failed."""

    def __init__(self, store: Store) -> None:
        self.url = store.url
        self.password_file = store.password_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._to: Connection | None = None
        self._from: Connection | None = None
        self._busy = False
        self._ready = False

    @property
    def busy(self) -> bool:
        return self._busy

    def open(self) -> None:
        """Start the child; it opens the store while the ingest connects."""
        if self._proc is not None:
            return
        env = dict(os.environ)
        # The child imports the same vendd as this process, installed or not.
        root = str(Path(vendd.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen([sys.executable, "-m", "vendd.hub.writer"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        self._from = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()
        # The URL goes down the pipe, not on the command line, where `ps` would show it.
        self._to.send((self.url, self.password_file, logging.getLogger().getEffectiveLevel()))
        self._ready = False

    def _started(self) -> Connection:
        self.open()
        if not self._ready:
            ready = self._receive(START_S)
            if ready != ("ready", None):
                self.close()
                raise StoreError(f"the hub's writer cannot open the store: {ready[1]}")
            self._ready = True
        assert self._to is not None
        return self._to

    def submit(self, job: Job) -> None:
        to = self._started()
        try:
            to.send(job)
        except OSError as exc:
            raise self._gone() from exc
        self._busy = True

    def result(self, timeout: float) -> Done | None:
        if not self._busy:
            return None
        if self._from is None or not self._from.poll(timeout):
            return None
        self._busy = False
        kind, value = self._receive(0)
        if kind == "error":
            raise StoreError(str(value))
        assert isinstance(value, Done)
        return value

    def _receive(self, timeout: float) -> tuple[str, object]:
        assert self._from is not None
        try:
            if not self._from.poll(timeout):
                self.close()
                raise StoreError("the hub's writer process does not answer")
            answer: tuple[str, object] = self._from.recv()
        except (EOFError, OSError) as exc:
            raise self._gone() from exc
        return answer

    def _gone(self) -> StoreError:
        """The child ended on its own (killed, or a bug: its traceback is on stderr)."""
        proc = self._proc
        self.close()  # reaps it
        code = proc.returncode if proc is not None else None
        return StoreError(f"the hub's writer process ended (exit {code})")

    def close(self) -> None:
        """Close the pipe (the child ends after the batch it holds) and reap the child."""
        for conn in (self._to, self._from):
            if conn is not None:
                conn.close()
        self._to = self._from = None
        self._busy = self._ready = False
        if self._proc is not None:
            try:
                self._proc.wait(CLOSE_S)
            except subprocess.TimeoutExpired:
                log.error("the hub's writer process did not end; killing it")
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def writer_for(store: Store) -> Writer:
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return InlineWriter(store)
    return ProcessWriter(store)


def _child() -> int:
    """The child's loop: (url, password file, log level), then jobs until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the child ends
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    jobs = Connection(os.dup(0), writable=False)
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a stray print must not land in the answers
    try:
        url, password_file, level = jobs.recv()
    except EOFError:
        return 0
    logging.basicConfig(level=level, stream=sys.stderr, format=LOG_FORMAT)
    try:
        store = Store(url, password_file=password_file, migrate=False)
    except StoreError as exc:
        answers.send(("error", str(exc)))
        return 1
    try:
        answers.send(("ready", None))
        while True:
            try:
                job = jobs.recv()
            except EOFError:
                return 0
            try:
                answers.send(("done", store_job(store, job)))
            except StoreError as exc:
                answers.send(("error", str(exc)))
    except BrokenPipeError:  # the hub is gone: nothing more to answer
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    from vendd.hub import writer  # by its own name: what the child pickles must be found

    sys.exit(writer._child())
