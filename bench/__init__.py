"""Benchmarks: each `bench_*.py` prints `BENCH <name> <figure> goal <goal> <met|missed>`."""
