"""`make bench`: run every benchmark module, echo its BENCH lines, count goals met and missed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    lines: list[str] = []
    for module in sorted(HERE.glob("bench_*.py")):
        os.sync()  # each benchmark starts with the last one's writes on the disk
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{module.stem}"], cwd=HERE.parent,
            capture_output=True, text=True, check=False,
        )
        found = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
        lines += found
        for line in found:
            print(line, flush=True)
        if proc.returncode != 0:
            print(f"BENCH {module.stem} error goal run missed", flush=True)
            lines.append("missed")
            print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "", flush=True)
    met = sum(ln.endswith(" met") for ln in lines)
    missed = sum(ln.endswith("missed") for ln in lines)
    print(f"BENCH summary: {met} met, {missed} missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
