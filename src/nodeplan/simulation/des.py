"""Discrete-event simulation of requests: the same workload routed under several policies.

Model (one run per policy, each on its own copy of the initial :class:`~nodeplan.routing.RouterState`, so
every policy sees the same arrivals, the same outages and the same random draws):

* **Events** sit in a heap keyed ``(time s, order, seq)``: completions, then outage ends, then outage
  starts, then arrivals at equal times.
* **Arrival**: the request is routed with :func:`nodeplan.routing.route` (``commit=True``) under the
  policy; it completes ``route.time.total_ms`` later. That expected time already holds the queue wait the
  router derives from the requests in flight (``max(0, q - c + 1) · s / c``), the cold start when the model
  is not warm there (routing warms it, with LRU eviction), the network and the verification. A request no
  live node can serve (:class:`~nodeplan.exceptions.NoRouteError`) fails at once.
* **Completion**: :func:`nodeplan.routing.complete` frees its slots.
* **Outage** ``dimension=value@start+duration``: every node with that value goes down at ``start`` and up
  again at ``start + duration`` (overlapping outages nest). Requests in flight on a node that goes down
  (as executor or verifier) are lost: they count as failed and free their slots.

Measures per policy (:class:`PolicyStats`): completed, failed, latency percentiles of completed requests
(ms), SLO attainment (completed within the SLO / all arrivals), verified share (completed with an
independent verifier set, ``route.degraded`` false / arrivals that ask for verification), cold starts,
mean price per completed request (USD).
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import NoRouteError, SimulationError
from nodeplan.model.rtt import RttModel
from nodeplan.model.timing import TimingParams
from nodeplan.routing.policies import get_policy
from nodeplan.routing.router import complete, route
from nodeplan.routing.state import RouterState
from nodeplan.routing.types import Request, Route
from nodeplan.scenario.model import Node, Scenario
from nodeplan.simulation.workload import Workload

__all__ = [
    "DEFAULT_POLICIES",
    "SCHEMA_VERSION",
    "Outage",
    "PolicyRun",
    "PolicyStats",
    "RequestSimResult",
    "parse_outage",
    "run_policy",
    "simulate_requests",
]

SCHEMA_VERSION = 1
DEFAULT_POLICIES: tuple[str, ...] = (
    "nodeplan",
    "random",
    "nearest",
    "cheapest",
    "least-loaded",
    "latency-only",
)

#: Request status codes in :attr:`PolicyRun.status`.
DONE, NO_ROUTE, LOST = 0, 1, 2

_COMPLETION, _UP, _DOWN = 0, 1, 2
_SPEC = re.compile(
    r"^\s*([A-Za-z_][\w-]*)\s*=\s*([^@]+?)\s*@\s*([0-9.eE+-]+?)\s*(s|m)?\s*\+\s*([0-9.eE+-]+?)\s*(s|m)?\s*$"
)


def _node_value(node: Node, dim: str) -> str | None:
    """The node's id for ``node``/``id``, else its value of dependency dimension ``dim`` (Node.dim)."""
    return node.id if dim in ("node", "id") else node.dim(dim)


@dataclass(frozen=True)
class Outage:
    """Nodes whose ``dimension`` equals ``value`` are down from ``start_s`` for ``duration_s`` seconds.

    ``dimension`` is a node attribute (``provider``, ``provider_region``, ``data_center``, ``asn``,
    ``country``, ``jurisdiction``, ``operator``, ``tee_vendor``, ``software_client``), ``node`` (a node
    id) or a user-defined dimension of the nodes' ``dims``.
    """

    dimension: str
    value: str
    start_s: float
    duration_s: float

    def __post_init__(self) -> None:
        for name in ("start_s", "duration_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise SimulationError(f"outage {name}: must be a finite number of seconds >= 0 (got {v!r})")

    @property
    def label(self) -> str:
        """``dimension=value@start s+duration s``."""
        return f"{self.dimension}={self.value}@{self.start_s:g}s+{self.duration_s:g}s"

    def nodes(self, scenario: Scenario) -> tuple[str, ...]:
        """Ids of the nodes it takes down; :class:`SimulationError` when none matches."""
        hit = tuple(n.id for n in scenario.nodes if _node_value(n, self.dimension) == self.value)
        if not hit:
            known = sorted({v for n in scenario.nodes if (v := _node_value(n, self.dimension)) is not None})
            shown = ", ".join(known[:10]) + (", …" if len(known) > 10 else "")
            raise SimulationError(
                f"outage: no node has {self.dimension}={self.value!r} (known values: {shown or 'none'})"
            )
        return hit


def parse_outage(spec: str) -> Outage:
    """``DIM=VALUE@START+DURATION`` (seconds; suffix ``s`` or ``m`` for minutes) -> :class:`Outage`.

    >>> parse_outage("provider=aws@60s+120s")
    Outage(dimension='provider', value='aws', start_s=60.0, duration_s=120.0)
    >>> parse_outage("country=DE@1m+30").duration_s
    30.0
    >>> parse_outage("aws@60")
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.SimulationError: outage: expected DIM=VALUE@START+DURATION such as provider=aws@60s+120s (got 'aws@60')
    """
    m = _SPEC.match(spec) if isinstance(spec, str) else None
    if m is None:
        raise SimulationError(
            f"outage: expected DIM=VALUE@START+DURATION such as provider=aws@60s+120s (got {spec!r})"
        )
    dim, value, start, su, dur, du = m.groups()
    try:
        s = float(start) * (60.0 if su == "m" else 1.0)
        d = float(dur) * (60.0 if du == "m" else 1.0)
    except ValueError:
        raise SimulationError(
            f"outage: start and duration must be numbers of seconds (got {spec!r})"
        ) from None
    return Outage(dim, value, s, d)


@dataclass(frozen=True)
class PolicyRun:
    """Per-request outcome of one policy's run (arrays in arrival order).

    ``status``: 0 completed, 1 no route, 2 lost in flight to an outage. ``latency_ms`` and
    ``completion_s`` are NaN unless completed (``completion_s`` is the scheduled time for lost ones).
    """

    policy: str
    status: NDArray[np.int8]
    latency_ms: NDArray[np.float64]
    completion_s: NDArray[np.float64]
    meets_slo: NDArray[np.bool_]
    asked_verification: NDArray[np.bool_]
    verified: NDArray[np.bool_]
    cold_start: NDArray[np.bool_]
    price_usd: NDArray[np.float64]


@dataclass(frozen=True)
class PolicyStats:
    """Summary of one policy's run (times in ms, price in USD, shares in [0, 1])."""

    policy: str
    arrivals: int
    completed: int
    failed: int
    no_route: int
    lost: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    slo_share: float | None
    verify_asked: int
    verified_share: float | None
    cold_starts: int
    mean_price_usd: float | None

    @classmethod
    def of(cls, run: PolicyRun) -> PolicyStats:
        """Summarise ``run``."""
        n = int(run.status.size)
        done = run.status == DONE
        lat = run.latency_ms[done]
        pct = np.percentile(lat, [50, 95, 99]) if lat.size else None
        asked = int(run.asked_verification.sum())
        return cls(
            policy=run.policy,
            arrivals=n,
            completed=int(done.sum()),
            failed=int((~done).sum()),
            no_route=int((run.status == NO_ROUTE).sum()),
            lost=int((run.status == LOST).sum()),
            p50_ms=None if pct is None else float(pct[0]),
            p95_ms=None if pct is None else float(pct[1]),
            p99_ms=None if pct is None else float(pct[2]),
            mean_ms=float(lat.mean()) if lat.size else None,
            slo_share=float((done & run.meets_slo).sum() / n) if n else None,
            verify_asked=asked,
            verified_share=float((done & run.verified).sum() / asked) if asked else None,
            cold_starts=int(run.cold_start.sum()),
            mean_price_usd=float(run.price_usd[done].mean()) if lat.size else None,
        )


@dataclass(frozen=True)
class RequestSimResult:
    """Result of :func:`simulate_requests`: one :class:`PolicyStats` per policy, same workload."""

    scenario: str
    seed: int | None
    workload: str
    arrivals: int
    duration_s: float
    outages: tuple[Outage, ...]
    stats: tuple[PolicyStats, ...]
    runs: tuple[PolicyRun, ...]

    def by_policy(self, name: str) -> PolicyStats:
        """Stats of policy ``name``."""
        for s in self.stats:
            if s.policy == name:
                return s
        raise SimulationError(
            f"policy: {name!r} was not simulated (ran: {', '.join(s.policy for s in self.stats)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able mapping (schema ``version`` 1; per-request arrays are not included)."""
        return {
            "version": SCHEMA_VERSION,
            "kind": "simulate-requests",
            "scenario": self.scenario,
            "seed": self.seed,
            "workload": self.workload,
            "arrivals": self.arrivals,
            "duration_s": self.duration_s,
            "outages": [
                {"dimension": o.dimension, "value": o.value, "start_s": o.start_s, "duration_s": o.duration_s}
                for o in self.outages
            ],
            "policies": [s.__dict__.copy() for s in self.stats],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)


def _templates_for(workload: Workload, policy: str) -> list[Request]:
    return [
        Request(r.model, r.lat, r.lon, r.verification, r.verifiers, r.slo_ms, policy, r.origin)
        for r in workload.templates
    ]


def run_policy(
    state: RouterState,
    workload: Workload,
    policy: str,
    outages: Sequence[tuple[Outage, tuple[str, ...]]] = (),
) -> PolicyRun:
    """Simulate ``workload`` under ``policy`` on ``state`` (changed in place; pass a copy).

    ``outages`` pairs each :class:`Outage` with the node ids it takes down (:meth:`Outage.nodes`).
    """
    get_policy(policy)  # unknown name: RoutingError naming the known ones
    reqs = _templates_for(workload, policy)
    n = workload.n
    status = np.full(n, DONE, dtype=np.int8)
    latency = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    meets = np.zeros(n, dtype=bool)
    asked = np.array([reqs[k].verifiers > 0 for k in workload.kind.tolist()], dtype=bool)
    verified = np.zeros(n, dtype=bool)
    cold = np.zeros(n, dtype=bool)
    price = np.full(n, np.nan)

    heap: list[tuple[float, int, int, Any]] = []
    seq = 0
    for o, ids in outages:
        heapq.heappush(heap, (o.start_s, _DOWN, seq, ids))
        heapq.heappush(heap, (o.start_s + o.duration_s, _UP, seq + 1, ids))
        seq += 2
    initially_down = {nid for nid in state.arrays.node_ids if not state.is_up(nid)}
    down_count: dict[str, int] = {}
    in_flight: dict[int, Route] = {}

    def handle(kind: int, payload: Any) -> None:
        if kind == _COMPLETION:
            r = in_flight.pop(payload, None)
            if r is not None:
                complete(r, state)
            return
        ids: tuple[str, ...] = payload
        if kind == _DOWN:
            newly = set()
            for nid in ids:
                down_count[nid] = down_count.get(nid, 0) + 1
                if down_count[nid] == 1 and nid not in initially_down:
                    state.set_down(nid)
                    newly.add(nid)
            for idx in [
                i for i, r in in_flight.items() if r.executor in newly or newly.intersection(r.verifiers)
            ]:
                r = in_flight.pop(idx)
                complete(r, state)
                status[idx] = LOST
                latency[idx] = np.nan
            return
        for nid in ids:  # _UP
            down_count[nid] -= 1
            if down_count[nid] == 0 and nid not in initially_down:
                state.set_up(nid)

    times = workload.times_s.tolist()
    for idx, (t, k) in enumerate(zip(times, workload.kind.tolist(), strict=True)):
        while heap and heap[0][0] <= t:
            _, kind, _, payload = heapq.heappop(heap)
            handle(kind, payload)
        try:
            r = route(reqs[k], state, commit=True)
        except NoRouteError:
            status[idx] = NO_ROUTE
            continue
        total_ms = r.time.total_ms
        latency[idx] = total_ms
        finish[idx] = t + total_ms / 1000.0
        meets[idx] = r.meets_slo
        verified[idx] = asked[idx] and not r.degraded and len(r.verifiers) > 0
        cold[idx] = r.time.cold_start_ms > 0
        price[idx] = r.price_usd
        in_flight[idx] = r
        heapq.heappush(heap, (finish[idx], _COMPLETION, seq, idx))
        seq += 1
    while heap:
        _, kind, _, payload = heapq.heappop(heap)
        handle(kind, payload)
    return PolicyRun(policy, status, latency, finish, meets, asked, verified, cold, price)


def simulate_requests(
    scenario: Scenario,
    workload: Workload,
    policies: Sequence[str] = DEFAULT_POLICIES,
    outages: Sequence[Outage] = (),
    *,
    seed: int | None = 0,
    rtt: RttModel | None = None,
    params: TimingParams | None = None,
) -> RequestSimResult:
    """Route the same ``workload`` under each of ``policies`` with the same ``outages``; compare.

    ``seed`` drives the ``random`` policy's choices (each policy starts from a copy of one state, so the
    draws are the same); the workload has its own seed. Same seeds, same numbers.

    Examples
    --------
    >>> from nodeplan.scenario import load_builtin
    >>> from nodeplan.simulation.workload import poisson_workload
    >>> sc = load_builtin("opengradient")
    >>> r = simulate_requests(sc, poisson_workload(sc, 2.0, seed=3), ["nodeplan", "random"], seed=3)
    >>> [s.policy for s in r.stats], r.stats[0].arrivals == r.stats[1].arrivals == r.arrivals
    (['nodeplan', 'random'], True)
    """
    if isinstance(policies, str) or not policies:
        raise SimulationError(f"policies: give at least one policy name (got {policies!r})")
    if len(set(policies)) != len(policies):
        raise SimulationError(
            f"policies: listed twice: {sorted({p for p in policies if list(policies).count(p) > 1})}"
        )
    for p in policies:
        get_policy(p)
    resolved = [(o, o.nodes(scenario)) for o in outages]
    base = RouterState.from_scenario(scenario, rtt=rtt, params=params, seed=seed)
    runs = tuple(run_policy(base.copy(), workload, p, resolved) for p in policies)
    return RequestSimResult(
        scenario=scenario.name,
        seed=seed,
        workload=workload.origin,
        arrivals=workload.n,
        duration_s=workload.duration_s,
        outages=tuple(outages),
        stats=tuple(PolicyStats.of(r) for r in runs),
        runs=runs,
    )
