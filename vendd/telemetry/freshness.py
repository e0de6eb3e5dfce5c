"""Is a signed change request still valid? Checked without trusting the machine's clock at
boot (a Raspberry Pi has no battery clock: until NTP answers it may be hours behind).

1. MQTT 5 message expiry, counted by the broker: a change request must be published with a
   MessageExpiryInterval of at most `max_age_s`, so a request queued for the machine while
   it was offline is dropped by the broker once that time is over. The interval the machine
   receives is what is left of it; a request without one, or with more, is refused.
2. `issued_at` (signed) against a lower bound of the present: the time of the journal's newest
   row, and the machine's clock as well when it is known good (the kernel says NTP
   synchronised it, or `trust_clock = "always"` for a machine with a battery clock). Older than
   `max_age_s` before that bound: refused as expired. With a trusted clock, an `issued_at`
   more than `max_age_s` ahead of it is refused too (the signer's clock is wrong).
3. Replays are refused by the counter (see memory.py), which needs no clock at all."""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from vendd.telemetry.signing import Refused

STAMP = "%Y-%m-%dT%H:%M:%SZ"
TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


def clock_synced() -> bool:
    """The kernel's word on whether NTP keeps the system clock right (read-only adjtimex)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex, zeroed: modes 0 = read only
        state = libc.adjtimex(timex)
    except (OSError, AttributeError):
        return False
    return state not in (-1, TIME_ERROR)


@dataclass(frozen=True)
class Freshness:
    max_age_s: int
    trust_clock: Literal["synced", "always", "never"] = "synced"

    def clock_trusted(self) -> bool:
        if self.trust_clock == "synced":
            return clock_synced()
        return self.trust_clock == "always"

    def check(self, *, expiry_s: int | None, issued_at: datetime, floor: datetime | None,
              now: datetime | None = None) -> None:
        """Raise Refused when the request may no longer be acted on."""
        if expiry_s is None:
            raise Refused("no message expiry: publish change requests with an MQTT 5 message "
                          f"expiry interval of at most {self.max_age_s} s")
        if expiry_s > self.max_age_s:
            raise Refused(f"message expiry {expiry_s} s is longer than this machine accepts "
                          f"({self.max_age_s} s)")
        trusted = self.clock_trusted()
        wall = now or datetime.now(UTC)
        bounds = [t for t in (floor, wall if trusted else None) if t is not None]
        if bounds:
            present = max(bounds)
            if issued_at < present - timedelta(seconds=self.max_age_s):
                raise Refused(f"expired: issued at {issued_at:{STAMP}}, more than "
                              f"{self.max_age_s} s before {present.astimezone(UTC):{STAMP}}")
        if trusted and issued_at > wall + timedelta(seconds=self.max_age_s):
            raise Refused("issued in the future: check the signer's clock")
