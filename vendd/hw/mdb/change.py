"""Change-making for a coin changer's tubes: pure functions, no I/O."""

from __future__ import annotations


def _change_table(amount: int, values: dict[int, int],
                  counts: dict[int, int]) -> dict[int, tuple[int, dict[int, int]]]:
    """Bounded change-making by dynamic programming (exact for any coin set, not only
    canonical ones): every amount <= `amount` the tubes can pay exactly -> (coins, plan)."""
    best: dict[int, tuple[int, dict[int, int]]] = {0: (0, {})}
    for t, value in sorted(values.items()):
        if value <= 0 or counts.get(t, 0) <= 0:
            continue
        nxt = dict(best)
        for paid, (n, plan) in best.items():
            for k in range(1, counts[t] + 1):
                v = paid + k * value
                if v > amount:
                    break
                if v not in nxt or nxt[v][0] > n + k:
                    nxt[v] = (n + k, {**plan, t: k})
        best = nxt
    return best


def fewest_coins(amount: int, values: dict[int, int], counts: dict[int, int]) -> dict[int, int]:
    """Coins (type -> count) that pay as much of `amount` as the tubes can without going over,
    with the fewest coins among the plans paying that much."""
    if amount <= 0:
        return {}
    best = _change_table(amount, values, counts)
    return best[max(best)][1]


def payable(limit: int, values: dict[int, int], counts: dict[int, int]) -> frozenset[int]:
    """Every amount up to `limit` the tubes can pay exactly."""
    return frozenset(_change_table(max(limit, 0), values, counts))
