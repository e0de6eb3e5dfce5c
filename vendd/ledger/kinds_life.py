"""The journal's kinds of people and of the daemon's own life: the service key and menu,
sign-ins and PINs, signed requests, start, stop and checkpoints. They move no money; see
`kinds.py` for how a kind is declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vendd.ledger.kindspec import FactSchema, fact_kind


@fact_kind("service_key", record_only=True)
@dataclass(frozen=True)
class ServiceKey(FactSchema):
    on: bool


# The service menu's own facts: who signed in and out, wrong PINs and lock-outs (never a PIN).
# The menu reads the last three back at start-up, so a lock-out outlives a restart.
@fact_kind("signed_in", record_only=True)
@dataclass(frozen=True)
class SignedIn(FactSchema):
    by: str


@fact_kind("signed_out", record_only=True)
@dataclass(frozen=True)
class SignedOut(FactSchema):
    by: str
    reason: Literal["exit", "timeout", "key_off"]


@fact_kind("pin_failed", record_only=True)
@dataclass(frozen=True)
class PinFailed(FactSchema):
    tries: int  # wrong entries counted towards the next lock-out
    of: int  # the configured tries


@fact_kind("pin_locked", record_only=True)
@dataclass(frozen=True)
class PinLocked(FactSchema):
    seconds: int  # how long this lock-out lasts
    lockouts: int  # lock-outs in a row since the last sign-in


@fact_kind("service_mode")
@dataclass(frozen=True)
class ServiceMode(FactSchema):
    out_of_service: bool
    reason: str = ""
    by: str = ""
    coordinator: str = ""  # a coordinator's signed request: who signed it ...
    request_id: str = ""  # ... and which request (its `request` row closes it)


@fact_kind("request", record_only=True)
@dataclass(frozen=True)
class RequestClosed(FactSchema):
    """A coordinator's signed request that reached the machine, and its answer: its counter
    and id are used for good (see vendd/telemetry/memory.py)."""

    action: str
    coordinator: str
    counter: int
    request_id: str
    ok: bool
    error: str = ""


@fact_kind("started")
@dataclass(frozen=True)
class Started(FactSchema):
    version: str


@fact_kind("stopped", record_only=True)
@dataclass(frozen=True)
class Stopped(FactSchema):
    reason: str = ""


@fact_kind("checkpoint", record_only=True)
@dataclass(frozen=True)
class Checkpoint(FactSchema):
    """Every projection table at `through` (see ledger/checkpoint.py): the next start replays
    only the rows after it."""

    through: int
    tables: str  # JSON: table -> {"columns": [...], "rows": [[...], ...]}
    sales_rows: int
    sales_digest: str


@fact_kind("note", record_only=True)
@dataclass(frozen=True)
class Note(FactSchema):
    text: str


@fact_kind("dex_reset", record_only=True)
@dataclass(frozen=True)
class DexReset(FactSchema):
    through: int
    file: str
    by: str = ""


@fact_kind("maker_paid", record_only=True)
@dataclass(frozen=True)
class MakerPaid(FactSchema):
    """Money handed to a maker for her share (`vendd pay`): not buyers' money, so no effect
    here; the statements by maker read it as `paid`."""

    maker: str
    amount: int
    by: str
    note: str = ""
