"""The whole machine under chaos: the simulated cabinet in its own process, the real daemon in
processes SIGKILLed at moments chosen by condition (while it starts, with a coin in the
acceptor's buffer, with a cam held before or after the drop, right after a vend, during a
seamstress's test turn), a private Mosquitto stopped and restarted, and an independent
subscriber. The cabinet outlives every kill: its acceptor, spirals, fallen products and tally
are the referee (tests/chaos/referee.py) of what the journal says.

    python tests/chaos/chaos_harness.py chaos --seed 42        # make chaos SEED=42
    python tests/chaos/chaos_harness.py soak --hours 1         # make soak HOURS=1

Everything random is drawn from `random.Random(seed)`; a failure names the seed and the life."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (HERE, HERE.parent, HERE.parent / "telemetry", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from chaos_machine import ChaosFailure, Machine, journal, ledger_exists  # noqa: E402
from chaos_people import KILL_POINTS, People  # noqa: E402
from chaos_referee import Referee  # noqa: E402

from vendd.ledger.ledger import open_readonly  # noqa: E402
from vendd.ledger.verify import verify  # noqa: E402

TZ = "America/Guayaquil"
BROKER_DOWN_P = 0.25  # chance a life ends with the broker stopped


def check_ledger(m: Machine) -> None:
    if not ledger_exists(m.db):
        return  # killed before its first start created the ledger: nothing to check
    db = open_readonly(m.db)
    try:
        report = verify(db, TZ)
    finally:
        db.close()
    if not report.ok:
        raise ChaosFailure(f"vendd verify: {report.problems}")


def settle_after_start(m: Machine, referee: Referee) -> None:
    """The daemon is ready: once it is idle, the spirals must hold what the ledger says."""
    state = m.wait_idle()
    referee.stock_after_restart(m.cab.call("in_spirals"), state, m.starts)
    motors_off(m, "with the machine idle after a start")


def motors_off(m: Machine, when: str) -> None:
    on = m.cab.call("motors_on")
    if on:
        raise ChaosFailure(f"motor pins {on} on {when}")


def one_life(m: Machine, people: People, plan: random.Random, referee: Referee) -> str:
    """Start the daemon, live a little, and kill it at a point drawn for this life. The
    plan (kill points, broker outages) comes from its own generator, so a seed gives the
    same plan however the people's actions went."""
    point = plan.choices(list(KILL_POINTS), list(KILL_POINTS.values()))[0]
    fillers, words = plan.randint(0, 2), plan.randint(1, 8)
    broker_down = m.broker_up and plan.random() < BROKER_DOWN_P
    broker_back = not m.broker_up and plan.random() < 0.6
    before = people.startup_marks()
    m.spawn()
    if point.startswith("startup"):
        people.startup_kill(point, before, words)
        return point
    m.wait_ready()
    if broker_back:
        m.broker_back()
    if point != "ready":
        settle_after_start(m, referee)
        if not any(v["sellable"] for v in m.state()["slots"].values()):
            people.restock()
        for _ in range(fillers):
            people.filler()
        if broker_down:
            m.broker_down()  # the feed waits for the broker; the journal does not
    people.kill_at(point)
    return point


def run_chaos(seed: int, folder: Path, kills: int = 32,
              say: Callable[[str], None] = print) -> dict[str, Any]:
    """`kills` SIGKILLs, then a clean start with the broker up, the feed checked row by row,
    a clean stop and the referee's counts. Raises ChaosFailure naming the seed."""
    plan = random.Random(seed)
    started = time.monotonic()
    m = Machine(folder)
    referee = Referee()
    points: dict[str, int] = {}
    try:
        people = People(m, random.Random(seed + 1), referee, say)
        life = 0
        while m.kills < kills:
            life += 1
            try:
                point = one_life(m, people, plan, referee)
            except ChaosFailure as exc:
                raise ChaosFailure(f"seed {seed}, life {life}: {exc}\n  replay: make chaos "
                                   f"SEED={seed}\n  files: {folder}") from exc
            points[point] = points.get(point, 0) + 1
            check_ledger(m)
        m.broker_back()
        m.spawn()
        m.wait_ready()
        settle_after_start(m, referee)
        rows = m.wait_feed()
        m.stop()
        motors_off(m, "after the daemon stopped")
        check_ledger(m)
        counts = referee.final(journal(m.db), m.cab.call("tally"))
    finally:
        m.close()
    seconds = time.monotonic() - started
    where = ", ".join(f"{k} {v}" for k, v in sorted(points.items()))
    say(f"chaos seed {seed}: {m.kills} kills ({where}), "
        f"{m.broker_restarts} broker restarts, {rows} journal rows, {seconds:.0f}s: "
        f"{counts.line()}")
    return {"kills": m.kills, "broker_restarts": m.broker_restarts, "rows": rows,
            "counts": counts, "points": points, "seconds": seconds}


# --- soak: one long life, measured ---------------------------------------------------------


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


def proc_usage(pid: int) -> tuple[int, int]:
    """(RSS in kB, open file descriptors) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    rss = next(int(line.split()[1]) for line in status.splitlines()
               if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def run_soak(hours: float, folder: Path, seed: int,
             say: Callable[[str], None] = print) -> bool:
    """Buyers, seamstresses and faults on one daemon process for `hours` (no kills: the
    process that lives the whole run is what is measured), with broker outages; the daemon's
    RSS and open files sampled over time. True when the referee counted nothing and both
    stayed flat after the warm-up (ten minutes, or the first third of a shorter run)."""
    rng = random.Random(seed)
    duration = hours * 3600
    warmup = min(600.0, duration / 3)
    every = 10.0 if duration <= 1800 else 30.0
    m = Machine(folder)
    referee = Referee()
    samples: list[tuple[float, int, int]] = []
    try:
        people = People(m, rng, referee, say)
        m.spawn()
        m.wait_ready()
        assert m.proc is not None
        pid = m.proc.pid
        say(f"soak: {hours} h, seed {seed}, daemon pid {pid}, files in {folder}")
        t0 = next_sample = time.monotonic()
        while (t := time.monotonic() - t0) < duration:
            if not m.alive():
                raise ChaosFailure("the daemon died on its own")
            if rng.random() < 0.01:
                m.broker_down() if m.broker_up else m.broker_back()
            if not any(v["sellable"] for v in m.state()["slots"].values()):
                people.restock()
            people.filler()
            if time.monotonic() >= next_sample:
                rss, fds = proc_usage(pid)
                samples.append((t, rss, fds))
                say(f"{t:8.0f}s RSS {rss} kB, {fds} fds, broker "
                    f"{'up' if m.broker_up else 'DOWN'}")
                next_sample += every
        m.broker_back()
        rows = m.wait_feed()
        m.stop()
        check_ledger(m)
        counts = referee.final(journal(m.db), m.cab.call("tally"))
    finally:
        m.close()
    after = [s for s in samples if s[0] >= warmup] or samples
    rss = flatness("RSS (kB)", [s[1] for s in after])
    fds = flatness("open files", [s[2] for s in after])
    say(f"soak: {len(samples)} samples, {rows} journal rows, {m.broker_restarts} broker "
        f"restarts; {counts.line()}")
    say(f"  {rss}")
    say(f"  {fds}")
    return counts.zero and rss.flat and fds.flat


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("chaos", help="one chaos run (make chaos SEED=...)")
    c.add_argument("--seed", type=int, default=None)
    c.add_argument("--kills", type=int, default=32)
    s = sub.add_parser("soak", help="a long run with RSS and open files (make soak HOURS=...)")
    s.add_argument("--hours", type=float, required=True)
    s.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    folder = ROOT / "var" / args.command / str(seed)
    if folder.exists():
        shutil.rmtree(folder)
    say = lambda line: print(line, flush=True)  # noqa: E731
    try:
        if args.command == "chaos":
            say(f"chaos: seed {seed} (replay: make chaos SEED={seed}), files in {folder}")
            result = run_chaos(seed, folder, kills=args.kills, say=say)
            for note in result["counts"].notes:
                say(f"  {note}")
            return 0 if result["counts"].zero else 1
        return 0 if run_soak(args.hours, folder, seed, say=say) else 1
    except ChaosFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
