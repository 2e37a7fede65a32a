"""Records of the router: a :class:`Request` in, a :class:`Route` out, with its independence report.

All are frozen dataclasses (no pydantic in the hot path); :class:`Request` checks its own fields and
raises :class:`~nodeplan.exceptions.RoutingError` naming the field and the bad value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nodeplan.exceptions import RoutingError
from nodeplan.model.independence import IndependenceReport
from nodeplan.model.timing import TimeBreakdown
from nodeplan.scenario.model import VerificationMode

__all__ = ["Request", "Route"]


@dataclass(frozen=True)
class Request:
    """One inference request to route.

    Parameters
    ----------
    model : model id (a ``Model.id`` of the scenario)
    lat, lon : where the user is, degrees
    verification : how the result is checked (``none``, ``tee``, ``zkml``, ``reexec``)
    verifiers : number K of verifiers; 0 for ``none``, at least 1 otherwise
    slo_ms : end-to-end latency objective, ms; ``None`` = no objective
    policy : name of a registered routing policy (see :data:`nodeplan.routing.POLICIES`)
    origin : name of the user's location (a demand source of the scenario, e.g. ``"Paris"``); when the
        state's RTT model has a measured matrix with this name, its measured RTTs to the nodes override
        the fitted user -> node RTT. ``None`` = the fit from ``lat``, ``lon`` only.

    Examples
    --------
    >>> Request("llama-8b", 48.85, 2.35, "tee", 1, slo_ms=2000.0).verification
    <VerificationMode.TEE: 'tee'>
    >>> Request("m", 95.0, 0.0)
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.RoutingError: lat: must be within [-90, 90] degrees (got 95.0)
    """

    model: str
    lat: float
    lon: float
    verification: VerificationMode = VerificationMode.NONE
    verifiers: int = 0
    slo_ms: float | None = None
    policy: str = "nodeplan"
    origin: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise RoutingError(f"model: must be a non-empty model id (got {self.model!r})")
        for name, bound in (("lat", 90.0), ("lon", 180.0)):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or abs(v) > bound:
                raise RoutingError(f"{name}: must be within [-{bound:g}, {bound:g}] degrees (got {v!r})")
        try:
            mode = VerificationMode(self.verification)
        except ValueError:
            known = ", ".join(m.value for m in VerificationMode)
            raise RoutingError(f"verification: unknown mode {self.verification!r} (known: {known})") from None
        object.__setattr__(self, "verification", mode)
        k = self.verifiers
        if isinstance(k, bool) or not isinstance(k, int) or k < 0 or k > 16:
            raise RoutingError(f"verifiers: must be an integer in 0..16 (got {k!r})")
        if mode is VerificationMode.NONE and k:
            raise RoutingError(f"verifiers: verification 'none' takes no verifiers (got {k})")
        if mode is not VerificationMode.NONE and k < 1:
            raise RoutingError(f"verifiers: verification {mode.value!r} needs at least 1 verifier (got {k})")
        if self.slo_ms is not None and (
            not isinstance(self.slo_ms, int | float) or not self.slo_ms > 0 or math.isnan(self.slo_ms)
        ):
            raise RoutingError(f"slo_ms: must be a positive number of ms or None (got {self.slo_ms!r})")
        if not isinstance(self.policy, str) or not self.policy:
            raise RoutingError(f"policy: must be a policy name (got {self.policy!r})")
        if self.origin is not None and (not isinstance(self.origin, str) or not self.origin):
            raise RoutingError(f"origin: must be a non-empty place name or None (got {self.origin!r})")


@dataclass(frozen=True)
class Route:
    """Where one request runs, how long it is expected to take and what it costs.

    Attributes
    ----------
    model : model id
    policy : name of the policy that chose it
    verification : verification mode of the request
    executor : node id that runs the model
    verifiers : node ids that check the result (K of them, or fewer when degraded)
    source : storage node the executor fetches the cold model from; ``None`` when the model is warm
        there or read from its own disk
    time : expected time by part (network, queue, cold start, service, verification), ms
    price_usd : executor's and verifiers' share of their hourly price for the service seconds, USD
    slo_ms : the request's objective, ms (``None`` = none)
    meets_slo : ``time.total_ms <= slo_ms`` (True without an objective)
    independence : dimensions shared by each executor-verifier and verifier-verifier pair
    degraded : True when the independence rule or K could not be met; ``reason`` says why
    reason : empty unless degraded
    evicted : models evicted from the executor's (and re-executing verifiers') memory to warm this one,
        as ``node:model`` (only when the route was committed to the state)
    """

    model: str
    policy: str
    verification: VerificationMode
    executor: str
    verifiers: tuple[str, ...]
    source: str | None
    time: TimeBreakdown
    price_usd: float
    slo_ms: float | None
    meets_slo: bool
    independence: IndependenceReport
    degraded: bool = False
    reason: str = ""
    evicted: tuple[str, ...] = ()

    @property
    def total_ms(self) -> float:
        """Expected completion time, ms (sum of the parts of :attr:`time`)."""
        return self.time.total_ms

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping (times in ms, price in USD)."""
        t = self.time
        return {
            "model": self.model,
            "policy": self.policy,
            "verification": self.verification.value,
            "executor": self.executor,
            "verifiers": list(self.verifiers),
            "source": self.source,
            "time_ms": {
                "network": t.network_ms,
                "queue": t.queue_ms,
                "cold_start": t.cold_start_ms,
                "service": t.service_ms,
                "verification": t.verification_ms,
                "total": t.total_ms,
            },
            "price_usd": self.price_usd,
            "slo_ms": self.slo_ms,
            "meets_slo": self.meets_slo,
            "degraded": self.degraded,
            "reason": self.reason,
            "independence": self.independence.to_dict(),
            "evicted": list(self.evicted),
        }
