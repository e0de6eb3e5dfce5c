"""Chasing missing rows: a gap that stays open past its grace time is asked for with a
`replay {from, to}` request, and asked again with back-off (retry_min_s, doubling up to
retry_max_s) until the rows arrive. Rows arriving re-open the count: the rest of a partly
filled gap is asked for at once. The gap stays in the store, and in `hub status`, until it
closes. The due gaps of one machine are asked for together, in one request spanning them
(at most max_rows), since the machine answers one replay at a time. With several workers,
the store lets exactly one of them ask for each gap each time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from vendd.hub.config import GapsConfig
from vendd.hub.store import Gap, Store

log = logging.getLogger(__name__)

TICK_S = 1.0


def backoff(config: GapsConfig, asks: int) -> float:
    """Seconds to the next ask after `asks` asks without the gap moving."""
    return min(config.retry_min_s * 2 ** min(asks, 30), config.retry_max_s)


class GapKeeper:
    def __init__(self, config: GapsConfig, store: Store,
                 ask: Callable[[str, int, int], None]) -> None:
        self.config = config
        self.store = store
        self.ask = ask
        self._last_tick = 0.0

    def tick(self, now: float) -> list[Gap]:
        """Ask for the gaps that are due; returns them. Cheap when called often."""
        if now - self._last_tick < TICK_S:
            return []
        self._last_tick = now
        asked: list[Gap] = []
        by_machine: dict[str, list[Gap]] = {}
        for gap in self.store.due_gaps(now, self.config.grace_s):
            by_machine.setdefault(gap.machine, []).append(gap)
        for machine, gaps in by_machine.items():
            first = gaps[0].first
            limit = first + self.config.max_rows - 1
            mine = [g for g in gaps if g.first <= limit
                    and self.store.claim_ask(g, now, now + backoff(self.config, g.asks))]
            if not mine:
                continue  # another worker asked
            self.ask(machine, mine[0].first, min(max(g.last for g in mine), limit))
            asked += mine
        return asked
