"""The one strict base of every user-written config model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictConfig(BaseModel):
    """Unknown keys rejected, immutable, no silent type coercion ("10" is not an int)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
