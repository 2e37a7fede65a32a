"""Routing policies: how scorer vectors combine into one choice of executor and verifiers.

A :class:`RoutingPolicy` gives two cost functions (executor, verifier; lower is better, ``inf`` =
never) and three rules: whether verifiers must be independent of the executor and of each other,
whether the SLO is a constraint, and how many of the best executors to try when verifiers must be
found (the route with the best combined cost wins; a route's cost is its executor's cost plus the
largest cost among its verifiers, which work in parallel). Ties between executors go to the lower
price, then to the node listed first.

Built in (:data:`POLICIES`):

``nodeplan``
    Minimise expected completion time (network + queue + cold start + service + verification), ms,
    plus ``price_weight_ms_per_usd`` x price (from ``scenario.policy``; 0 = price only breaks ties),
    among executors that meet the SLO (all of them when none does), with independent verifiers
    (degraded, with the reason, when impossible); tries the 4 best executors when verifiers are asked,
    and further ones in cost order (up to 256) when none of those 4 has an independent verifier set.
``random``
    What OpenGradient's SDK does today: ``random.choice`` over active nodes (here: those that can
    serve the model), verifiers too. Seeded by the state's generator.
``nearest``
    Smallest user -> node RTT; verifiers nearest to the executor.
``cheapest``
    Atoma: the cheapest node among those with the model loaded ("subscribed"); any node if none
    has it. Cheapest verifiers.
``least-loaded``
    Fewest requests in flight per slot, ties by RTT; least-loaded verifiers.
``latency-only``
    Petals-style: RTT + compute, plus a fixed 10 s when the model is not loaded on the node; no queue,
    no provider awareness. Verifiers by the same rule from the executor.

Only ``nodeplan`` enforces independence; the baselines' routes report what their verifiers share and
are flagged degraded when that breaks the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import RoutingError
from nodeplan.model.timing import price_weighted_ms
from nodeplan.routing.scorers import ScoreContext, VerifierContext, get_scorer
from nodeplan.scenario.model import VerificationMode

__all__ = [
    "BASELINES",
    "LATENCY_ONLY_MISS_PENALTY_MS",
    "NODEPLAN_EXECUTOR_COST",
    "POLICIES",
    "RoutingPolicy",
    "get_policy",
    "register_policy",
    "weighted_policy",
]

#: Petals' penalty for a server without room in its cache (NETWORKS.md: "+10 s penalty"), ms.
LATENCY_ONLY_MISS_PENALTY_MS = 10_000.0

CostFn = Callable[[ScoreContext], NDArray[np.float64]]
VerifierCostFn = Callable[[VerifierContext], NDArray[np.float64]]


@dataclass(frozen=True)
class RoutingPolicy:
    """A named way to choose executor and verifiers (see the module docstring).

    ``executor_candidates`` executors (the best by cost) are tried when verifiers are asked. When
    independence is enforced and none of them yields an independent verifier set, further executors are
    tried in cost order (blocks of doubling size) up to ``executor_scan_limit`` executors in all.
    ``static_verifier_cost`` declares that, for TEE and zkML, ``verifier_cost`` depends only on which
    nodes are up (not on load, warmth or the request), so the router may cache verifier choices per
    executor until a node goes down or up.
    """

    name: str
    executor_cost: CostFn
    verifier_cost: VerifierCostFn
    enforce_independence: bool = True
    slo_aware: bool = False
    executor_candidates: int = 1
    description: str = ""
    executor_scan_limit: int = 256
    static_verifier_cost: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise RoutingError(f"policy: name must be a non-empty string (got {self.name!r})")
        if not isinstance(self.executor_candidates, int) or self.executor_candidates < 1:
            raise RoutingError(
                f"policy {self.name!r}: executor_candidates must be >= 1 (got {self.executor_candidates!r})"
            )
        if not isinstance(self.executor_scan_limit, int) or self.executor_scan_limit < 1:
            raise RoutingError(
                f"policy {self.name!r}: executor_scan_limit must be >= 1 (got {self.executor_scan_limit!r})"
            )


def _masked(ctx: ScoreContext, cost: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(ctx.eligible, cost, np.inf)


# -- nodeplan ------------------------------------------------------------------------------------------
def _nodeplan_exec(ctx: ScoreContext) -> NDArray[np.float64]:
    return price_weighted_ms(ctx.time_ms, ctx.price_usd, ctx.state.scenario.policy.price_weight_ms_per_usd)


def _nodeplan_ver(ctx: VerifierContext) -> NDArray[np.float64]:
    return price_weighted_ms(ctx.time_ms, ctx.price_usd, ctx.state.scenario.policy.price_weight_ms_per_usd)


# -- baselines -----------------------------------------------------------------------------------------
def _random(ctx: ScoreContext) -> NDArray[np.float64]:
    draws: NDArray[np.float64] = np.asarray(ctx.state.rng.random(size=ctx.time_ms.shape[0]), dtype=float)
    return _masked(ctx, draws)


def _nearest(ctx: ScoreContext) -> NDArray[np.float64]:
    return _masked(ctx, ctx.rtt_ms)


def _cheapest_exec(ctx: ScoreContext) -> NDArray[np.float64]:
    subscribed = ctx.eligible & ctx.warm
    pool = subscribed if subscribed.any() else ctx.eligible
    return np.where(pool, ctx.price_usd, np.inf)


def _cheapest_ver(ctx: VerifierContext) -> NDArray[np.float64]:
    return _masked(ctx, ctx.price_usd)


def _least_loaded(ctx: ScoreContext) -> NDArray[np.float64]:
    # RTT (< 1e5 ms) x 1e-9 stays below any load step (>= 1e-4 for up to 1e4 slots): ties by RTT only
    return _masked(ctx, ctx.load + 1e-9 * ctx.rtt_ms)


def _latency_only_exec(ctx: ScoreContext) -> NDArray[np.float64]:
    miss = np.where(ctx.warm, 0.0, LATENCY_ONLY_MISS_PENALTY_MS)
    return _masked(ctx, ctx.rtt_ms + ctx.service_ms + miss)


def _latency_only_ver(ctx: VerifierContext) -> NDArray[np.float64]:
    if ctx.mode is VerificationMode.REEXEC:
        miss = np.where(ctx.warm, 0.0, LATENCY_ONLY_MISS_PENALTY_MS)
        return _masked(ctx, ctx.rtt_ms + ctx.service_ms + miss)
    return _masked(ctx, ctx.rtt_ms)


#: The ``nodeplan`` policy's executor cost; :func:`~nodeplan.routing.batch.route_batch` vectorises
#: policies that use it across a whole batch.
NODEPLAN_EXECUTOR_COST: CostFn = _nodeplan_exec

_BUILTIN = (
    RoutingPolicy(
        "nodeplan",
        _nodeplan_exec,
        _nodeplan_ver,
        enforce_independence=True,
        slo_aware=True,
        executor_candidates=4,
        description="min expected time s.t. SLO and independent verifiers",
        static_verifier_cost=True,
    ),
    RoutingPolicy(
        "random",
        _random,
        _random,
        enforce_independence=False,
        description="uniform over active nodes (OpenGradient SDK today)",
    ),
    RoutingPolicy(
        "nearest",
        _nearest,
        _nearest,
        enforce_independence=False,
        description="smallest RTT",
        static_verifier_cost=True,
    ),
    RoutingPolicy(
        "cheapest",
        _cheapest_exec,
        _cheapest_ver,
        enforce_independence=False,
        description="cheapest node with the model loaded (Atoma)",
        static_verifier_cost=True,
    ),
    RoutingPolicy(
        "least-loaded",
        _least_loaded,
        _least_loaded,
        enforce_independence=False,
        description="fewest requests in flight per slot",
    ),
    RoutingPolicy(
        "latency-only",
        _latency_only_exec,
        _latency_only_ver,
        enforce_independence=False,
        description="RTT + compute, +10 s if not cached (Petals)",
        static_verifier_cost=True,
    ),
)

#: Registered policies, name -> :class:`RoutingPolicy`; the built-ins first. Add with
#: :func:`register_policy`.
POLICIES: dict[str, RoutingPolicy] = {p.name: p for p in _BUILTIN}

#: Names of the built-in baselines (everything but ``nodeplan``).
BASELINES: tuple[str, ...] = tuple(p.name for p in _BUILTIN[1:])


def register_policy(policy: RoutingPolicy, *, replace: bool = False) -> RoutingPolicy:
    """Make ``policy`` available by name to :func:`~nodeplan.routing.router.route` and the CLI."""
    if not isinstance(policy, RoutingPolicy):
        raise RoutingError(f"policy: expected a RoutingPolicy (got {type(policy).__name__})")
    if policy.name in POLICIES and not replace:
        raise RoutingError(f"policy {policy.name!r} is already registered (pass replace=True to override it)")
    POLICIES[policy.name] = policy
    return policy


def get_policy(name: str) -> RoutingPolicy:
    """The policy registered under ``name``; :class:`RoutingError` listing the known ones otherwise."""
    try:
        return POLICIES[name]
    except KeyError:
        raise RoutingError(f"policy: unknown policy {name!r} (known: {', '.join(POLICIES)})") from None


def weighted_policy(
    name: str,
    weights: Mapping[str, float],
    verifier_weights: Mapping[str, float] | None = None,
    *,
    enforce_independence: bool = True,
    slo_aware: bool = True,
    executor_candidates: int = 4,
    description: str = "",
) -> RoutingPolicy:
    """A policy whose cost is ``sum(weight x scorer)`` over registered scorers.

    Weights convert each scorer's unit into a common one (ms is the natural choice: e.g.
    ``{"time": 1.0, "price": 2e5}`` values one USD at 200 s). Scorer names are checked now; the
    functions are looked up at routing time, so a scorer registered later under a checked name works.
    ``verifier_weights`` defaults to ``weights``.

    Examples
    --------
    >>> p = weighted_policy("fast-and-reliable", {"time": 1.0, "reliability": 5000.0})
    >>> p.enforce_independence, p.slo_aware
    (True, True)
    >>> try:
    ...     weighted_policy("x", {"speed": 1.0})
    ... except RoutingError as exc:
    ...     print(str(exc).split(" (")[0])
    scorer: unknown scorer 'speed'
    """
    vw = dict(weights if verifier_weights is None else verifier_weights)
    ew = dict(weights)
    for table in (ew, vw):
        if not table:
            raise RoutingError(f"policy {name!r}: weights must name at least one scorer")
        for key, w in table.items():
            get_scorer(key)
            if not isinstance(w, int | float) or not np.isfinite(w):
                raise RoutingError(f"policy {name!r}: weight of {key!r} must be a finite number (got {w!r})")

    def combine(table: dict[str, float]) -> CostFn:
        def cost(ctx: ScoreContext) -> NDArray[np.float64]:
            total = np.zeros(ctx.time_ms.shape[0])
            for key, w in table.items():
                total += w * np.asarray(get_scorer(key)(ctx), dtype=float)
            return _masked(ctx, total)

        return cost

    return RoutingPolicy(
        name,
        combine(ew),
        combine(vw),
        enforce_independence=enforce_independence,
        slo_aware=slo_aware,
        executor_candidates=executor_candidates,
        description=description or f"weighted: {ew}",
    )
