"""The request actions: one pydantic model per action (validated after the signature, on the
action's own fields), the controller event of each change, and the sales report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vendd.config import CHANGE_ACTIONS
from vendd.events import (
    AdminEvent,
    RequestOrigin,
    SetOutOfService,
    SetPrice,
    SetSlotEnabled,
    SetStock,
)
from vendd.ledger.db import one_snapshot
from vendd.telemetry.gate import REQUEST_ID, safe_text

ACTOR = "coordinator"
MAX_REPORT_DAYS = 366

SlotId = Annotated[str, Field(pattern=r"^[A-Z][0-9]{1,2}$")]
Cents = Annotated[int, Field(strict=True)]


class Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID.pattern)


class SlotRequest(Request):
    slot: SlotId


class SetPriceRequest(SlotRequest):
    price: Cents = Field(gt=0, le=1_000_000)


class SetStockRequest(SlotRequest):
    stock: Cents = Field(ge=0, le=99)
    reason: Literal["restock", "adjust"] = "adjust"


class OutOfServiceRequest(Request):
    reason: str = Field(default="coordinator", min_length=1, max_length=80,
                        pattern=r"^[^\x00-\x1f\x7f]*$")


class ReportRequest(Request):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    maker: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")

    @model_validator(mode="after")
    def _period(self) -> ReportRequest:
        if self.end < self.start:
            raise ValueError("'to' is before 'from'")
        if (self.end - self.start).days >= MAX_REPORT_DAYS:
            raise ValueError(f"a report covers at most {MAX_REPORT_DAYS} days")
        return self


class ReplayRequest(Request):
    """Republish journal rows `from`..`to` (the hub filling a gap in its replica)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: int = Field(alias="from", ge=1, strict=True)
    end: int = Field(alias="to", ge=1, strict=True)

    @model_validator(mode="after")
    def _range(self) -> ReplayRequest:
        if self.end < self.start:
            raise ValueError("'to' is before 'from'")
        return self


MODELS: dict[str, type[Request]] = {
    "set_price": SetPriceRequest,
    "set_stock": SetStockRequest,
    "enable_slot": SlotRequest,
    "disable_slot": SlotRequest,
    "out_of_service": OutOfServiceRequest,
    "back_in_service": Request,
    "report": ReportRequest,
    "ping": Request,
    "replay": ReplayRequest,
}
# Read-only actions answer from the ledger and change nothing: no signature needed.
READ_ONLY = frozenset(MODELS) - set(CHANGE_ACTIONS)
assert set(CHANGE_ACTIONS) <= set(MODELS)


def to_event(action: str, request: Request, origin: RequestOrigin) -> AdminEvent | None:
    """The controller event of a change request; None for read-only actions."""
    match action, request:
        case "set_price", SetPriceRequest(slot=slot, price=price):
            return SetPrice(ACTOR, slot, price, request=origin)
        case "set_stock", SetStockRequest(slot=slot, stock=stock, reason=reason):
            return SetStock(ACTOR, slot, stock, reason, request=origin)
        case "enable_slot", SlotRequest(slot=slot):
            return SetSlotEnabled(ACTOR, slot, True, request=origin)
        case "disable_slot", SlotRequest(slot=slot):
            return SetSlotEnabled(ACTOR, slot, False, request=origin)
        case "out_of_service", OutOfServiceRequest(reason=reason):
            return SetOutOfService(ACTOR, True, reason, request=origin)
        case "back_in_service", _:
            return SetOutOfService(ACTOR, False, request=origin)
    return None


def validation_message(exc: ValidationError) -> str:
    """One line naming each bad field; field names come from the request, so escaped."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(safe_text(p, 32) for p in err["loc"])
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid request: " + "; ".join(parts)


@one_snapshot
def sales_report(db: sqlite_utils.Database, start: date, end: date,
                 maker: str | None = None) -> dict[str, Any]:
    """Sales of the local days start..end (inclusive), by maker, slot, day and payment."""
    where = "day BETWEEN ? AND ?" + (" AND maker = ?" if maker else "")
    args: tuple[Any, ...] = (start.isoformat(), end.isoformat(), *([maker] if maker else []))

    def grouped(columns: str) -> list[dict[str, Any]]:
        names = [c.strip() for c in columns.split(",")]
        cur = db.conn.execute(
            f"SELECT {columns}, COUNT(*), SUM(price) FROM sales WHERE {where} "
            f"GROUP BY {columns} ORDER BY {columns}", args)
        return [{**dict(zip(names, r[:-2], strict=True)), "count": r[-2], "total": r[-1]}
                for r in cur]

    count, total = db.conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM(price), 0) FROM sales WHERE {where}", args).fetchone()
    return {
        "from": start.isoformat(), "to": end.isoformat(), "maker": maker,
        "count": count, "total": total,
        "makers": grouped("maker"),
        "products": grouped("slot, product, maker"),
        "days": grouped("day"),
        "payments": grouped("payment"),
    }
