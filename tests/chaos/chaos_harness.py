"""The whole machine under chaos: `vendd-sim run --traffic SEED --chaos` in a child process
against a private Mosquitto, killed with SIGKILL at random moments, the broker stopped and
restarted, the acceptor unplugged and replugged (by the generator, inside the child). After
every restart and at the end the ledger is held against the cabinet's physical tally and the
feed an independent subscriber received.

    python tests/chaos/chaos_harness.py chaos --seed 42        # make chaos SEED=42
    python tests/chaos/chaos_harness.py soak --hours 1         # make soak HOURS=1

The child of round r runs the generator with seed `SEED * 1000 + r`; every step it takes is
in the tally (`{"step", "seed", "do"}`), so a failure names the seed, the round and the step.
A kill marker (`{"kill": r}`) is appended to the tally after each kill: the coins of one
process's life are held against the credits journaled between its `started` row and the
next one."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (HERE.parent, HERE.parent / "telemetry"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from feed_helpers import Broker, Feed  # noqa: E402

from vendd.ledger.journal import JournalRow  # noqa: E402
from vendd.ledger.ledger import iter_rows, open_readonly  # noqa: E402
from vendd.ledger.verify import verify  # noqa: E402

SIM_CONFIG = ROOT / "config" / "sim.toml"
TZ = "America/Guayaquil"
PREFIX, MACHINE = "vendd", "quito-01"
TURN_TIME_S = "0.03"
FEED_TIMEOUT_S = 45.0


class ChaosFailure(AssertionError):
    pass


@dataclass
class Epoch:
    """One life of the child process, as the tally saw it."""

    coins: list[int] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    last_step: dict[str, Any] | None = None
    coins_in_last_step: int = 0
    steps: int = 0
    motors_on_at_steps: list[tuple[int, list[int]]] = field(default_factory=list)
    final_motors_on: list[int] | None = None
    killed: bool = False


def read_tally(path: Path) -> list[Epoch]:
    epochs = [Epoch()]
    if not path.exists():
        return epochs
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by SIGKILL
        e = epochs[-1]
        if "kill" in entry or "stopped" in entry:
            e.killed = "kill" in entry
            epochs.append(Epoch())
        elif "coin" in entry:
            e.coins.append(entry["coin"])
            e.coins_in_last_step += 1
        elif "drop" in entry:
            e.drops.append(entry["drop"])
        elif "do" in entry:
            e.last_step, e.coins_in_last_step = entry, 0
            e.steps += 1
            if entry.get("motors_on"):
                e.motors_on_at_steps.append((entry["step"], entry["motors_on"]))
        elif "final_motors_on" in entry:
            e.final_motors_on = entry["final_motors_on"]
    return epochs


def journal(db_path: Path) -> list[JournalRow]:
    db = open_readonly(db_path)
    try:
        return list(iter_rows(db))
    finally:
        db.close()


def journal_epochs(rows: list[JournalRow]) -> list[list[JournalRow]]:
    """Rows after each `started` row, up to the next one."""
    epochs: list[list[JournalRow]] = []
    for row in rows:
        if row.kind == "started":
            epochs.append([])
        elif epochs:
            epochs[-1].append(row)
    return epochs


def lost_events(rows: list[JournalRow]) -> int:
    n = 0
    for r in rows:
        if r.kind == "device_fault" and r.fields.get("code") == "lost_events":
            m = re.match(r"(\d+)", str(r.fields.get("detail", "")))
            n += int(m.group(1)) if m else 0
    return n


class Machine:
    """The child process, the broker, the subscriber and the files of one chaos run."""

    def __init__(self, seed: int, folder: Path, say: Callable[[str], None] = print) -> None:
        self.seed = seed
        self.folder = folder
        self.say = say
        folder.mkdir(parents=True, exist_ok=True)
        self.db = folder / "vendd.db"
        self.tally = folder / "tally.jsonl"
        self.broker = Broker(folder / "broker", None)
        self.broker.start()
        self.broker_up = True
        self.feed = Feed(self.broker.port, PREFIX, MACHINE)
        self.config = self._write_config()
        self.proc: subprocess.Popen[str] | None = None
        self.round = 0
        self.expected_credit: int | None = None
        self.kills = 0
        self.broker_restarts = 0
        self.feed_checked_to = 0

    def _write_config(self) -> Path:
        text = SIM_CONFIG.read_text(encoding="utf-8")
        text = text.replace('path = "var/vendd.db"', f'path = "{self.db}"')
        text = text.replace('port = 1883', f"port = {self.broker.port}\nkeepalive_s = 10")
        path = self.folder / "sim.toml"
        path.write_text(text, encoding="utf-8")
        return path

    # --- the child -------------------------------------------------------------------------

    def start(self, traffic: bool = True) -> None:
        args = [sys.executable, "-m", "simulator.cli", "run", "--config", str(self.config),
                "--tally", str(self.tally), "--turn-time", TURN_TIME_S]
        if traffic:
            args += ["--traffic", str(self.seed * 1000 + self.round), "--chaos"]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=open(self.folder / "child.log", "a"),  # noqa: SIM115
                                     text=True)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().strip()
        if not ready.startswith("ready"):
            self.fail(f"the child did not start: {ready!r} (see {self.folder / 'child.log'})")
        if self.expected_credit is not None and ready != f"ready credit={self.expected_credit}":
            self.fail(f"credit after restart: {ready!r}, the journal held "
                      f"{self.expected_credit}")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        self.kills += 1
        with self.tally.open("a", encoding="utf-8") as f:
            f.write("\n" + json.dumps({"kill": self.round}) + "\n")  # after a cut line

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self.proc = None
        with self.tally.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"stopped": self.round}) + "\n")
        if code != 0:
            self.fail(f"vendd-sim exited {code} on SIGTERM")

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
        self.feed.close()
        self.broker.stop()

    # --- the broker ------------------------------------------------------------------------

    def broker_down(self) -> None:
        if self.broker_up:
            self.broker.stop()
            self.broker_up = False
            self.broker_restarts += 1

    def broker_back(self) -> None:
        if not self.broker_up:
            self.broker.start()
            self.broker_up = True

    # --- the checks ------------------------------------------------------------------------

    def fail(self, problem: str) -> None:
        epochs = read_tally(self.tally)
        step = next((e.last_step for e in reversed(epochs) if e.last_step), None)
        where = (f"seed {self.seed}, round {self.round}, traffic seed {step['seed']} step "
                 f"{step['step']} ({step['do']})" if step else f"seed {self.seed}, "
                 f"round {self.round}")
        raise ChaosFailure(f"{problem}\n  at {where}\n  replay: make chaos SEED={self.seed}"
                           f"\n  files: {self.folder}")

    def check(self) -> dict[str, int]:
        """Everything that must hold while the child is down (after a kill or a stop)."""
        report = verify(open_readonly(self.db), TZ)
        if not report.ok:
            self.fail(f"vendd verify: {report.problems}")
        # An interrupted vend is restored to the buyer at the next start.
        self.expected_credit = report.credit + report.money.held_in_vend
        rows = journal(self.db)
        tally = read_tally(self.tally)
        self._check_coins(tally, journal_epochs(rows))
        self._check_drops(tally, rows)
        self._check_motors(tally)
        return {"rows": len(rows), "credit": report.credit}

    def _check_coins(self, tally: list[Epoch], epochs: list[list[JournalRow]]) -> None:
        lives = [e for e in tally if e.killed or e.final_motors_on is not None]
        if len(lives) != len(epochs):
            self.fail(f"{len(lives)} lives in the tally, {len(epochs)} starts in the journal")
        # A coin still in the acceptor's buffer at a kill is credited by the next life, at
        # its start: it is carried over, never allowed to vanish there.
        carried: Counter[int] = Counter()
        carried_lost = 0  # lost events among the carried coins: gone for good
        for i, (life, rows) in enumerate(zip(lives, epochs, strict=True)):
            kept = Counter(life.coins) + carried
            credited = Counter(r.fields["amount"] for r in rows if r.kind == "credit")
            invented = credited - kept
            if invented:
                self.fail(f"life {i}: credited but never kept by the acceptor (or counted "
                          f"twice): {dict(invented)}")
            missing = kept - credited
            allowed = (lost_events(rows) + carried_lost
                       + (life.coins_in_last_step if life.killed else 0))
            carried = missing if life.killed else Counter()
            carried_lost = lost_events(rows) + carried_lost if life.killed else 0
            if sum(missing.values()) > allowed:
                self.fail(f"life {i}: {sum(missing.values())} coins kept by the acceptor are "
                          f"not in the journal (allowed: {allowed}, lost events and the step "
                          "in flight)")

    def _check_drops(self, tally: list[Epoch], rows: list[JournalRow]) -> None:
        drops = Counter(d for e in tally for d in e.drops)
        sales = Counter(r.fields["slot"] for r in rows if r.kind == "sale")
        tests = Counter(r.fields["slot"] for r in rows
                        if r.kind == "test_vend" and r.fields["outcome"] == "delivered")
        interrupted = Counter(r.fields["slot"] for r in rows if r.kind == "vend_failed"
                              and r.fields["outcome"] == "interrupted")
        # A vend the kill cut short is resolved (interrupted) at the next start.
        ended = {r.fields["vend"] for r in rows if r.kind in ("sale", "vend_failed", "test_vend")}
        interrupted += Counter(r.fields["slot"] for r in rows
                               if r.kind == "vend_intent" and r.fields["vend"] not in ended)
        unmatched = (sales + tests) - drops
        if unmatched:
            self.fail(f"sales or test turns without a product dropping: {dict(unmatched)}")
        extra = drops - (sales + tests + interrupted)
        if extra:
            self.fail(f"products dropped with no sale, test turn or interrupted vend: "
                      f"{dict(extra)}")

    def _check_motors(self, tally: list[Epoch]) -> None:
        for i, life in enumerate(tally):
            if life.motors_on_at_steps:
                step, pins = life.motors_on_at_steps[0]
                self.fail(f"life {i}: motor pins {pins} on with the machine idle (step {step})")
            if life.final_motors_on:
                self.fail(f"life {i}: motor pins {life.final_motors_on} on after the stop")

    def wait_feed(self, last_seq: int, timeout: float = FEED_TIMEOUT_S) -> None:
        """Every journal row up to `last_seq` reached the subscriber, unaltered."""
        deadline = time.monotonic() + timeout
        while not self.feed.has_all(last_seq):
            if time.monotonic() > deadline:
                have = set(self.feed.seqs())
                gap = [s for s in range(1, last_seq + 1) if s not in have]
                self.fail(f"rows {gap[:10]}{'...' if len(gap) > 10 else ''} ({len(gap)}) never "
                          f"reached the MQTT subscriber")
            time.sleep(0.05)
        with self.feed.lock:
            seen = {e["seq"]: e["hash"] for e in self.feed.events}
        rows = journal(self.db)
        wrong = [r.seq for r in rows if r.seq in seen and seen[r.seq] != r.hash]
        if wrong:
            self.fail(f"rows {wrong[:10]} reached the subscriber with another hash")
        self.feed_checked_to = max(self.feed_checked_to, last_seq)

    def wait_rows(self, more: int, timeout: float = 30.0) -> None:
        target = len(journal(self.db)) + more
        deadline = time.monotonic() + timeout
        while len(journal(self.db)) < target:
            if self.proc is not None and self.proc.poll() is not None:
                self.fail(f"vendd-sim died on its own (exit {self.proc.returncode})")
            if time.monotonic() > deadline:
                self.fail(f"the machine journaled nothing new for {timeout}s")
            time.sleep(0.02)


def run_chaos(seed: int, folder: Path, kills: int = 30,
              say: Callable[[str], None] = print) -> dict[str, int]:
    """`kills` SIGKILLs at random moments, broker outages, then a clean stop and a last start
    with no traffic to let the feed catch up. Raises ChaosFailure naming seed and step."""
    rng = random.Random(seed)
    m = Machine(seed, folder, say)
    started = time.monotonic()
    try:
        rows_at_kill = 0
        for m.round in range(kills + 1):
            m.start()
            if m.broker_up and rows_at_kill:
                m.wait_feed(rows_at_kill)  # the rows of the last life, sent by this one
            roll = rng.random()
            if not m.broker_up and roll < 0.6:
                m.broker_back()
            m.wait_rows(rng.randint(3, 30))
            if m.broker_up and roll > 0.85 and m.round < kills:
                m.broker_down()  # a while before the kill: the feed waits for the broker
                m.wait_rows(rng.randint(1, 10))
            time.sleep(rng.uniform(0, 0.05))  # a random moment inside whatever is under way
            if m.round < kills:
                m.kill()
            else:
                m.stop()
            rows_at_kill = m.check()["rows"]
        m.broker_back()
        m.round += 1
        m.start(traffic=False)  # the relay sends what the last lives left, and its start
        m.wait_feed(len(journal(m.db)))
        m.stop()
        result = m.check()
        m.wait_feed(result["rows"], timeout=0)  # nothing journaled while stopping went unsent
        say(f"chaos seed {seed}: {m.kills} kills, {m.broker_restarts} broker restarts, "
            f"{result['rows']} journal rows, {time.monotonic() - started:.0f}s: ok")
        return {**result, "kills": m.kills, "broker_restarts": m.broker_restarts}
    finally:
        m.close()


# --- soak: one long life, measured ---------------------------------------------------------


def proc_usage(pid: int) -> tuple[int, int]:
    """(RSS in kB, open file descriptors) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    rss = next(int(line.split()[1]) for line in status.splitlines()
               if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Flatness:
    name: str
    start: float  # median of the first quarter after the warm-up
    end: float  # median of the last quarter
    peak: float

    @property
    def change(self) -> float:
        return (self.end - self.start) / self.start if self.start else 0.0

    @property
    def flat(self) -> bool:
        return abs(self.change) <= 0.10 and self.peak <= self.start * 1.10 + 1

    def __str__(self) -> str:
        return (f"{self.name}: {self.start:.0f} -> {self.end:.0f} ({self.change:+.1%}), peak "
                f"{self.peak:.0f}: {'flat' if self.flat else 'NOT flat'} (within 10 %)")


def flatness(name: str, values: list[float]) -> Flatness:
    quarter = max(1, len(values) // 4)
    return Flatness(name, statistics.median(values[:quarter]),
                    statistics.median(values[-quarter:]), max(values))


def run_soak(hours: float, folder: Path, seed: int,
             say: Callable[[str], None] = print) -> bool:
    """The chaos traffic on one daemon process for `hours` (no SIGKILL: a process that lives
    the whole run is what is measured), with broker outages; RSS and open files sampled
    over time. True when every check passed and both stayed flat after the warm-up (the
    first ten minutes, or the first third of a shorter run)."""
    rng = random.Random(seed)
    duration = hours * 3600
    warmup = min(600.0, duration / 3)
    every = 10.0 if duration <= 1800 else 30.0
    m = Machine(seed, folder, say)
    samples: list[tuple[float, int, int, int]] = []  # (t, rss kB, fds, journal rows)
    try:
        m.start()
        assert m.proc is not None
        pid = m.proc.pid
        say(f"soak: {hours} h, seed {seed}, vendd-sim pid {pid}, sample every {every:.0f}s, "
            f"files in {folder}")
        say(f"{'t (s)':>8} {'RSS (kB)':>10} {'fds':>5} {'rows':>8} broker")
        t0 = time.monotonic()
        next_outage, back_at = rng.uniform(60, 240), 0.0
        while (t := time.monotonic() - t0) < duration:
            if m.proc.poll() is not None:
                m.fail(f"vendd-sim died on its own (exit {m.proc.returncode})")
            if t >= next_outage and m.broker_up:
                m.broker_down()
                back_at = t + rng.uniform(2, 10)
            elif not m.broker_up and t >= back_at:
                m.broker_back()
                next_outage = t + rng.uniform(60, 240)
            rss, fds = proc_usage(pid)
            rows = len(journal(m.db))
            samples.append((t, rss, fds, rows))
            say(f"{t:8.0f} {rss:10d} {fds:5d} {rows:8d} {'up' if m.broker_up else 'DOWN'}")
            time.sleep(min(every, max(duration - t, 0.1)))
        m.broker_back()
        m.stop()
        m.check()
        m.round += 1
        m.start(traffic=False)
        m.wait_feed(len(journal(m.db)))
        m.stop()
        result = m.check()
    finally:
        m.close()
    after = [s for s in samples if s[0] >= warmup] or samples
    rss = flatness("RSS (kB)", [s[1] for s in after])
    fds = flatness("open files", [s[2] for s in after])
    say(f"soak: {len(samples)} samples, {result['rows']} journal rows, "
        f"{m.broker_restarts} broker restarts; after the first {warmup / 60:.0f} min:")
    say(f"  {rss}")
    say(f"  {fds}")
    say("soak: ledger, tally, motors and feed checks passed")
    return rss.flat and fds.flat


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("chaos", help="one chaos run (make chaos SEED=...)")
    c.add_argument("--seed", type=int, default=None)
    c.add_argument("--kills", type=int, default=30)
    s = sub.add_parser("soak", help="a long run with RSS and open files (make soak HOURS=...)")
    s.add_argument("--hours", type=float, required=True)
    s.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    folder = ROOT / "var" / args.command / str(seed)
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    try:
        if args.command == "chaos":
            print(f"chaos: seed {seed} (replay: make chaos SEED={seed}), files in {folder}",
                  flush=True)
            run_chaos(seed, folder, kills=args.kills, say=say)
            return 0
        return 0 if run_soak(args.hours, folder, seed, say=say) else 1
    except ChaosFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
