"""The chaos test in `make test`: a fixed seed and one random seed (printed; replay either with
`make chaos SEED=...`), each killing the daemon CHAOS_KILLS times (32: at least 60 kills per
run) on a cabinet that outlives it. See chaos_harness.py for how, chaos_referee.py for what
is counted; every count must be zero."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from chaos_harness import run_chaos

FIXED_SEED = 20261201
RANDOM_SEED = int(os.environ.get("CHAOS_SEED", random.SystemRandom().randrange(1, 10**6)))
KILLS = int(os.environ.get("CHAOS_KILLS", "32"))


@pytest.mark.parametrize("seed", [FIXED_SEED, RANDOM_SEED],
                         ids=[f"fixed-{FIXED_SEED}", f"random-{RANDOM_SEED}"])
def test_chaos_loses_nothing(seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                             ) -> None:
    lines: list[str] = []
    result = run_chaos(seed, tmp_path, kills=KILLS, say=lines.append)
    with capsys.disabled():
        print("\n" + "\n".join(lines), flush=True)
    counts = result["counts"]
    assert result["kills"] >= KILLS
    assert counts.zero, f"seed {seed}: {counts.line()}\n  " + "\n  ".join(counts.notes)
