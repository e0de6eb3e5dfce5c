"""The config's shared pieces: the frozen base model and the constrained field types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.functional_validators import AfterValidator


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# A BCM GPIO number on the 40-pin header.
Pin = Annotated[int, Field(ge=0, le=27)]
Cents = Annotated[int, Field(strict=True)]
SlotId = Annotated[str, Field(pattern=r"^[A-Z][0-9]{1,2}$")]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


def _positive_price(value: int) -> int:
    if value <= 0:
        raise ValueError("price must be more than zero (integer cents, e.g. 350 for 3.50)")
    return value


Price = Annotated[Cents, AfterValidator(_positive_price)]
