"""Request bodies of the HTTP API (pydantic, the HTTP boundary) and the one-line validation message.

Node registration takes :class:`nodeplan.scenario.model.Node` itself, so a node is validated exactly as
in a scenario file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nodeplan.scenario.model import NodeStatus, VerificationMode

__all__ = ["RouteBody", "StatusBody", "one_line_error"]


class RouteBody(BaseModel):
    """``POST /v1/route``: the router's Request fields; the user is at ``lat``/``lon`` or in ``city``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="model id of the scenario")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, description="degrees")
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, description="degrees")
    city: str | None = Field(default=None, min_length=1, description="a demand source of the scenario")
    verification: VerificationMode = VerificationMode.NONE
    verifiers: int | None = Field(default=None, ge=0, le=16, description="default: 0 for none, else 1")
    slo_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="ms")
    policy: str = Field(default="nodeplan", min_length=1)

    @model_validator(mode="after")
    def _where(self) -> RouteBody:
        has_point = self.lat is not None or self.lon is not None
        if self.city is not None and has_point:
            raise ValueError("give either city or lat/lon, not both")
        if self.city is None and (self.lat is None or self.lon is None):
            raise ValueError("give city, or both lat and lon")
        return self

    @property
    def k(self) -> int:
        """Number of verifiers (the default when not given)."""
        if self.verifiers is not None:
            return self.verifiers
        return 0 if self.verification is VerificationMode.NONE else 1


class StatusBody(BaseModel):
    """``PUT /v1/nodes/{id}/status``: take a node out of routing (``down``) or back (``up``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: NodeStatus


def _show(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def one_line_error(errors: Sequence[Any]) -> tuple[int, str]:
    """HTTP status and one line for pydantic/FastAPI validation ``errors``.

    Malformed JSON gives 400; anything else 422 with ``field: message (got value)``. The leading
    ``body``/``query``/``path`` of a location is dropped.

    >>> one_line_error([{"type": "greater_than_equal", "loc": ("body", "capacity"),
    ...                  "msg": "Input should be greater than or equal to 0", "input": -1}])
    (422, 'capacity: Input should be greater than or equal to 0 (got -1)')
    """
    if not errors:
        return 422, "body: invalid request"
    err = errors[0]
    loc = [str(p) for p in err.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header"):
        where = loc[0]
        loc = loc[1:]
    else:
        where = "body"
    if err.get("type") == "json_invalid":
        pos = loc[0] if loc else "?"
        reason = (err.get("ctx") or {}).get("error", err.get("msg", "invalid JSON"))
        return 400, f"body: malformed JSON at character {pos}: {reason}"
    field = ".".join(loc) or where
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        return 422, f"{field}: missing required field"
    return 422, f"{field}: {msg} (got {_show(err.get('input'))})"
