"""Pluggable scorers: per-node cost vectors a routing policy combines.

A scorer is any function ``fn(ctx) -> (n,) float array``, lower is better, where ``ctx`` is a
:class:`ScoreContext` (choosing the executor) or a :class:`VerifierContext` (choosing verifiers for a
given executor). Both contexts have the same attribute names, so one scorer serves both roles:

============== ============================================================ ===========
name           executor context                     / verifier context      unit
============== ============================================================ ===========
latency        RTT user -> node                     / RTT executor -> node  ms
time           network + queue + cold + service     / verification time     ms
cold_start     fetch + load + init, 0 when warm (warmth)                    ms
queue          expected wait for a slot                                     ms
service        service time (x the mode's executor factor)                  ms
load           requests in flight / slots                                   ratio
price          the request's share of the node's hourly price               USD
reliability    probability the node fails (its domains, ``scenario.failures``) probability
independence   sum over the independence dimensions of the share of live
               verifiers that share the node's value                        share
============== ============================================================ ===========

Register your own with :func:`register_scorer` (no need to edit the package), then use its name in
:func:`nodeplan.routing.policies.weighted_policy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import RoutingError
from nodeplan.scenario.model import VerificationMode

if TYPE_CHECKING:
    from nodeplan.routing.state import RouterState
    from nodeplan.routing.types import Request

__all__ = ["SCORERS", "ScoreContext", "Scorer", "VerifierContext", "get_scorer", "register_scorer"]


@dataclass(frozen=True, eq=False)
class ScoreContext:
    """What a scorer sees when the executor is chosen: one request against every node.

    ``rtt_ms`` and ``time_ms`` are computed up front; the other vectors on first access.
    ``time_ms`` is ``inf`` where a node cannot execute the request (down, no execution role, no slot,
    cannot run or fetch the model, lacks the TEE/zkML mode the executor must provide).
    """

    state: RouterState
    request: Request
    model: int
    mode: VerificationMode
    factor: float
    rtt_ms: NDArray[np.float64]
    time_ms: NDArray[np.float64]

    @cached_property
    def eligible(self) -> NDArray[np.bool_]:
        """(n,) nodes that can execute the request."""
        return np.isfinite(self.time_ms)

    @property
    def queue_ms(self) -> NDArray[np.float64]:
        """(n,) expected wait for a slot, ms."""
        return self.state.queue_ms[self.model]

    @property
    def cold_ms(self) -> NDArray[np.float64]:
        """(n,) cold start, ms (0 where warm)."""
        return self.state.cold_ms[self.model]

    @cached_property
    def service_ms(self) -> NDArray[np.float64]:
        """(n,) service time x executor factor of the mode, ms."""
        return self.state.svc_ms[self.model] * self.factor

    @cached_property
    def price_usd(self) -> NDArray[np.float64]:
        """(n,) price of the executor's part, USD: hourly price / slots x service seconds / 3600."""
        p = self.state.price_usd[self.model]
        return p if self.factor == 1.0 else p * self.factor

    @cached_property
    def load(self) -> NDArray[np.float64]:
        """(n,) requests in flight per slot."""
        return self.state.in_flight / np.maximum(self.state.capacity, 1.0)

    @property
    def warm(self) -> NDArray[np.bool_]:
        """(n,) model warm on the node."""
        return self.state.warm[:, self.model]

    @property
    def failure_prob(self) -> NDArray[np.float64]:
        """(n,) probability the node fails (its domains, independent)."""
        return self.state.fail_prob

    @property
    def independence_share(self) -> NDArray[np.float64]:
        """(n,) sum over independence dimensions of the share of live verifiers sharing its value."""
        return self.state.indep_share[self.mode]


@dataclass(frozen=True, eq=False)
class VerifierContext(ScoreContext):
    """What a scorer sees when verifiers are chosen for ``executor``.

    ``rtt_ms`` is the executor -> node RTT; ``time_ms`` the verification time on each node (``inf``
    where it cannot verify); ``price_usd`` the verifier's share of its hourly price.
    """

    executor: int = -1
    verify_price_usd: NDArray[np.float64] | None = None

    @cached_property
    def price_usd(self) -> NDArray[np.float64]:
        """(n,) price of the verifier's part, USD."""
        if self.verify_price_usd is None:
            raise RoutingError("verifier context: verify_price_usd was not set")
        return self.verify_price_usd

    @cached_property
    def service_ms(self) -> NDArray[np.float64]:
        """(n,) service time of one re-run, ms (re-execution; meaningless for other modes)."""
        return self.state.svc_ms[self.model]


class Scorer(Protocol):
    """``fn(ctx) -> (n,) array``, lower is better."""

    def __call__(self, ctx: ScoreContext, /) -> NDArray[np.float64]: ...


def _independence(ctx: ScoreContext) -> NDArray[np.float64]:
    return ctx.independence_share


def _load(ctx: ScoreContext) -> NDArray[np.float64]:
    return ctx.load


#: The scorer registry, name -> function. Add to it with :func:`register_scorer`.
SCORERS: dict[str, Callable[[ScoreContext], NDArray[np.float64]]] = {
    "latency": lambda ctx: ctx.rtt_ms,
    "time": lambda ctx: ctx.time_ms,
    "cold_start": lambda ctx: ctx.cold_ms,
    "queue": lambda ctx: ctx.queue_ms,
    "service": lambda ctx: ctx.service_ms,
    "load": _load,
    "price": lambda ctx: ctx.price_usd,
    "reliability": lambda ctx: ctx.failure_prob,
    "independence": _independence,
}


def register_scorer(
    name: str, fn: Callable[[ScoreContext], NDArray[np.float64]], *, replace: bool = False
) -> None:
    """Add scorer ``fn`` under ``name`` (lower is better; return an (n,) array).

    Examples
    --------
    >>> register_scorer("far_from_equator", lambda ctx: -abs(ctx.state.arrays.lat), replace=True)
    >>> "far_from_equator" in SCORERS
    True
    >>> del SCORERS["far_from_equator"]
    """
    if not isinstance(name, str) or not name:
        raise RoutingError(f"scorer: name must be a non-empty string (got {name!r})")
    if not callable(fn):
        raise RoutingError(f"scorer {name!r}: expected a function ctx -> array (got {type(fn).__name__})")
    if name in SCORERS and not replace:
        raise RoutingError(f"scorer {name!r} is already registered (pass replace=True to override it)")
    SCORERS[name] = fn


def get_scorer(name: str) -> Callable[[ScoreContext], NDArray[np.float64]]:
    """The scorer registered under ``name``; :class:`RoutingError` listing the known ones otherwise."""
    try:
        return SCORERS[name]
    except KeyError:
        raise RoutingError(f"scorer: unknown scorer {name!r} (known: {', '.join(sorted(SCORERS))})") from None
