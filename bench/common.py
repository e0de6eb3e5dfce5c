"""Helpers shared by the benchmarks."""

from __future__ import annotations

import statistics


def bench_line(name: str, figure: float, goal: str, met: bool) -> str:
    return f"BENCH {name} {figure:.3g} goal {goal} {'met' if met else 'missed'}"


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]
