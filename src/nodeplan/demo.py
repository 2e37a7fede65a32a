"""The four claims of the mission, computed on a scenario (what ``nodeplan demo`` shows).

1. **Warm beats near**: for the largest model, a request whose nearest capable node is cold and a
   distant warm node is faster; for the smallest model, the reverse (a near cold node beats the best
   warm node a cache-penalty router such as Petals' would pick).
2. **Apparent vs effective** decentralization per role (countries vs effective providers, ASNs,
   operators, TEE vendors).
3. **What the dominant provider's failure does** to served demand, verification and consensus (halted, or
   running but fragile).
4. **Objectives pull apart**: the fastest, the independent-and-fast (nodeplan), the most independent and
   the cheapest choice for one verified request.

Each finding is searched for, not assumed: when a scenario does not exhibit a claim, the finding is
``None`` and the demo says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from nodeplan.exceptions import NoRouteError, ScenarioError
from nodeplan.metrics.audit import ALL_ROLES, AuditResult, audit_scenario
from nodeplan.metrics.failure import FailureRow
from nodeplan.routing import Request, Route, RouterState, RoutingPolicy, get_policy, route, weighted_policy
from nodeplan.scenario.model import DemandSource, Model, Role, Scenario, VerificationMode

__all__ = [
    "CHOICE_POLICIES",
    "Choice",
    "DemoFindings",
    "WarmVersusNear",
    "demo_findings",
]

#: Dimensions whose effective number the demo contrasts with the count of countries.
EFFECTIVE_DIMS: tuple[str, ...] = ("provider", "asn", "operator", "tee_vendor")

#: (label, policy) of claim 4, in display order. ``demo-fastest`` and ``demo-most-independent`` are
#: weighted policies the demo holds and passes to the router itself; they are never registered, so the
#: global policy registry is the same before, during and after a demo.
CHOICE_POLICIES: tuple[tuple[str, RoutingPolicy], ...] = (
    (
        "fastest",
        weighted_policy(
            "demo-fastest",
            {"time": 1.0},
            enforce_independence=False,
            description="least expected time, independence ignored",
        ),
    ),
    ("nodeplan", get_policy("nodeplan")),
    (
        "most independent",
        weighted_policy(
            "demo-most-independent",
            {"independence": 1e6, "time": 1.0},
            description="least shared domains first, then time",
        ),
    ),
    ("cheapest", get_policy("cheapest")),
)


@dataclass(frozen=True)
class WarmVersusNear:
    """Two routes of one request: the winner and the alternative it beats.

    ``winner`` is nodeplan's choice; ``other`` is the nearest capable node (large model) or the warm
    node a fixed-cold-penalty router picks (small model). ``*_km`` are user-to-executor distances.
    """

    model: Model
    source: DemandSource
    winner: Route
    other: Route
    other_policy: str
    winner_km: float
    other_km: float


@dataclass(frozen=True)
class Choice:
    """One of the four contrasting choices of claim 4."""

    label: str
    route: Route
    shared_dims: tuple[str, ...]


@dataclass(frozen=True)
class DemoFindings:
    """Everything ``nodeplan demo`` prints; ``None`` where the scenario does not show the claim."""

    scenario: str
    warm_far: WarmVersusNear | None
    cold_near: WarmVersusNear | None
    audit: AuditResult
    dominant: FailureRow | None
    choices: tuple[Choice, ...]
    choice_request: Request | None
    choice_source: DemandSource | None


def _km(r: Route, state: RouterState, src: DemandSource) -> float:
    from nodeplan.model.geo import great_circle_km

    node = state.scenario.node(r.executor)
    return float(great_circle_km(src.lat, src.lon, node.lat, node.lon))


def _request(model: str, src: DemandSource, policy: str) -> Request:
    return Request(model, src.lat, src.lon, policy=policy)


def _try(req: Request, state: RouterState, policy: RoutingPolicy | None = None) -> Route | None:
    """Dry run of ``req``; under ``policy`` (an object the demo holds) instead of the registered
    ``req.policy`` when given. ``None`` when no node can execute it."""
    try:
        return route(req, state, commit=False, policy=policy)
    except NoRouteError:
        return None


def _contrast(
    scenario: Scenario, state: RouterState, model: Model, other_policy: str, best_warm: bool
) -> WarmVersusNear | None:
    """First source (by weight) where nodeplan's choice beats ``other_policy``'s on time.

    ``best_warm=True`` (warm beats near): nodeplan's executor is warm and farther, the other is cold.
    ``best_warm=False`` (the reverse): nodeplan's executor is cold and nearer, the other is warm.
    """
    for src in sorted(scenario.sources, key=lambda s: -s.weight):
        best = _try(_request(model.id, src, "nodeplan"), state)
        other = _try(_request(model.id, src, other_policy), state)
        if best is None or other is None or best.executor == other.executor:
            continue
        warm, cold = (best, other) if best_warm else (other, best)
        if warm.time.cold_start_ms > 0 or cold.time.cold_start_ms <= 0:
            continue
        bk, ok = _km(best, state, src), _km(other, state, src)
        if best.time.total_ms < other.time.total_ms and (bk > ok) == best_warm:
            return WarmVersusNear(model, src, best, other, other_policy, bk, ok)
    return None


def _choices(
    scenario: Scenario, state: RouterState
) -> tuple[tuple[Choice, ...], Request | None, DemandSource | None]:
    verified = [d for d in scenario.demand if d.verification is not VerificationMode.NONE]
    if not verified or not scenario.sources:
        return (), None, None
    d = max(verified, key=lambda x: x.rate_rps)
    src = max(scenario.sources, key=lambda s: s.weight)
    out: list[Choice] = []
    base = Request(d.model, src.lat, src.lon, d.verification, d.verifiers, slo_ms=d.slo_ms)
    for label, policy in CHOICE_POLICIES:
        req = Request(
            base.model, base.lat, base.lon, base.verification, base.verifiers, base.slo_ms, policy.name
        )
        r = _try(req, state, policy)
        if r is None:
            continue
        shared = tuple(sorted({dim for p in r.independence.pairs for dim in p.shared}))
        out.append(Choice(label, r, shared))
    return tuple(out), base, src


def demo_findings(scenario: Scenario, *, seed: int = 0) -> DemoFindings:
    """Compute the four claims on ``scenario`` (no state is changed; ``seed`` feeds the router's RNG)."""
    if not scenario.models:
        raise ScenarioError("models: the demo needs at least one model")
    state = RouterState.from_scenario(scenario, seed=seed)
    by_size = sorted(scenario.models, key=lambda m: m.size_bytes)
    warm_far = None
    for m in reversed(by_size):  # largest model that shows the effect
        warm_far = _contrast(scenario, state, m, "nearest", best_warm=True)
        if warm_far is not None:
            break
    cold_near = None
    for m in by_size:  # smallest model that shows the reverse
        cold_near = _contrast(scenario, state, m, "latency-only", best_warm=False)
        if cold_near is not None:
            break
    audit = audit_scenario(scenario, "count", roles=(ALL_ROLES, *[r.value for r in Role]))
    dominant = _dominant_failure(audit)
    choices, req, src = _choices(scenario, state)
    return DemoFindings(scenario.name, warm_far, cold_near, audit, dominant, choices, req, src)


def _dominant_failure(audit: AuditResult) -> FailureRow | None:
    """The failure row of the provider holding the largest share of nodes (all roles)."""
    try:
        top = audit.measure("provider", ALL_ROLES).top
    except KeyError:
        return None
    known = [name for name, _ in top if name != "unknown"]
    if not known:
        return None
    for row in audit.failure_rows:
        if row.dimension == "provider" and row.value == known[0]:
            return row
    return None
