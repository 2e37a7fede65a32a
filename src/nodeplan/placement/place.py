"""``place(scenario, spec)``: choose which nodes keep each model warm, and compare with today's placement.

Solver choice (``spec.solver``):

* ``milp``: the exact model of :mod:`nodeplan.placement.milp_place`, solved by HiGHS within
  ``time_limit_s`` and ``node_limit`` down to a relative gap of ``rel_gap``. The status says how it
  stopped (:class:`~nodeplan.placement.result.SolveStatus`): ``optimal`` only with a gap <= 1e-9, else
  ``gap_limit``, ``time_limit``, ``iteration_limit`` or ``interrupted`` (Ctrl-C), each with the best
  placement found, HiGHS's proven lower bound and the gap;
* ``heuristic``: greedy + swap per model (:mod:`nodeplan.placement.heur_place`) then the exact assignment
  LP; status ``heuristic``, no bound and no gap;
* ``auto``: the MILP when the instance has at most :data:`AUTO_MILP_MAX_PAIRS` (client, node) assignment
  pairs, or when it needs what only the MILP handles (a budget with free replica counts), else the
  heuristic. The built-in scenario has ~6,500 pairs (MILP in about a second).

When the MILP is infeasible, each constraint family is relaxed in turn (diversity, capacity, memory,
budget, SLO, replica count) and the first whose removal restores feasibility is named in the
:class:`~nodeplan.exceptions.InfeasiblePlacementError`, with the model when one model alone shows it.

**Before** (today's warm placement) is scored by the same assignment LP with today's replicas fixed
(capacity and SLO enforced). When today's replicas cannot carry the load, capacity is dropped for the
"before" figures; when they miss an SLO, each client goes to its fastest warm replica (no capacity
limit); a note says so. Demand no warm replica can serve today (none warm, or none with its
verification mode) is **unserved**: it counts as an SLO miss, and today's mean time is over the served
demand only (``None`` when nothing is served). **After** uses the solver's assignment.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import InfeasiblePlacementError
from nodeplan.model.rtt import RttModel
from nodeplan.placement._highs import MilpSolution, solve_milp
from nodeplan.placement.heur_place import choose_sites_heuristic, nearest_load
from nodeplan.placement.milp_place import FAMILIES, PlacementMilp, build_placement_milp
from nodeplan.placement.problem import (
    PlacementProblem,
    PlacementSpec,
    SolverChoice,
    build_problem,
    plan_time_ms,
)
from nodeplan.placement.result import PlacementResult, SolveStatus
from nodeplan.scenario.model import Scenario

__all__ = [
    "AUTO_MILP_MAX_PAIRS",
    "HEURISTIC_ROUNDS",
    "ModelPlacement",
    "ParetoPoint",
    "ScenarioPlacement",
    "Side",
    "pareto",
    "place",
]

#: ``--solver auto`` uses the MILP up to this many (client, node) pairs. HiGHS solves the built-in
#: scenario (~6,500 pairs, 6 models) in ~1 s; the p-median benchmarks with 10,000 pairs take 0.4-2.6 s.
AUTO_MILP_MAX_PAIRS = 50_000

#: Rounds of congestion pricing the heuristic runs before it gives up on capacity.
HEURISTIC_ROUNDS = 12

_HINT = {
    "diversity": "relax --max-provider-share / --min-providers or raise --replicas",
    "capacity": "the replicas cannot carry the demand; raise --replicas",
    "memory": "GPU memory cannot hold every warm model; place fewer models or raise memory",
    "budget": "raise the budget",
    "slo": "no placement with this many replicas keeps every source within its SLO; raise --replicas",
    "replicas": "the replica count conflicts with the other constraints; change --replicas",
}


@dataclass(frozen=True)
class Side:
    """One placement of one model, scored: mean time, diversity and price.

    ``mean_ms`` is the rate-weighted mean expected time of the **served** demand with the MILP's
    coefficients, ms (``None`` when none is served; ``slo_miss_share`` uses these times too),
    ``expected_ms`` the same with the router's times on the plan (queue wait at its load included); ``unserved_share`` the share of the model's requests/s no replica of this placement can
    serve (no replica, or none that supports the verification mode), counted in ``slo_miss_share`` too.
    """

    nodes: tuple[str, ...]
    mean_ms: float | None
    expected_ms: float | None
    slo_miss_share: float
    providers: int
    max_provider_share: float
    countries: int
    usd_per_hour: float
    unserved_share: float = 0.0


@dataclass(frozen=True)
class ModelPlacement:
    """Chosen replicas of one model (``after``) next to today's warm ones (``before``).

    ``demand_share``, ``contribution_ms``, ``provider``, ``country`` and ``usd_per_hour`` are per node of
    ``after.nodes``: the share of the model's requests it serves, its part of the model's mean time, ms
    (they sum to ``after.mean_ms``), and the node's provider, country and price.
    """

    model: str
    replicas: int
    after: Side
    before: Side
    demand_share: tuple[float, ...]
    contribution_ms: tuple[float, ...]
    provider: tuple[str, ...]
    country: tuple[str, ...]
    usd_per_hour: tuple[float, ...]


@dataclass(frozen=True)
class ScenarioPlacement:
    """The outcome of :func:`place`.

    ``objective`` = ``latency_ms + price_weight x usd_per_hour``; ``latency_ms`` is the demand-weighted
    mean of the MILP's expected times over all placed demand, ms (network + service + verification, the
    model warm, no queue wait: the MILP bounds the load instead); ``expected_ms`` the same mean as the
    router computes it on the plan (:func:`~nodeplan.placement.problem.plan_time_ms`), the queue wait at
    the plan's load included (``inf`` when a node is loaded to 100% of its slots: its queue never drains);
    ``usd_per_hour`` the summed price of the nodes that host a placed model. ``before_latency_ms`` is today's mean over the demand today's replicas serve
    (``None`` when they serve none) and ``before_unserved_share`` the share of placed demand they cannot
    serve.
    """

    scenario: str
    models: tuple[ModelPlacement, ...]
    result: PlacementResult
    latency_ms: float
    usd_per_hour: float
    price_weight_ms_per_usd_hour: float
    before_latency_ms: float | None
    before_usd_per_hour: float
    solver: str
    notes: tuple[str, ...] = ()
    before_unserved_share: float = 0.0
    expected_ms: float | None = None
    before_expected_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (floats as numbers, ``inf`` and ``nan`` as ``None``, the status as its value;
        ``bound`` and ``gap`` are ``None`` without a proven bound; ``expected_ms`` is ``None`` when a node
        of the plan is at 100% of its slots, its queue unbounded)."""
        r = self.result
        return _json_ready(
            {
                "scenario": self.scenario,
                "solver": self.solver,
                "status": r.status.value,
                "objective": r.objective,
                "bound": r.bound,
                "gap": r.gap,
                "solve_s": r.solve_s,
                "binding": list(r.binding),
                "latency_ms": self.latency_ms,
                "expected_ms": self.expected_ms,
                "usd_per_hour": self.usd_per_hour,
                "price_weight_ms_per_usd_hour": self.price_weight_ms_per_usd_hour,
                "before": {
                    "latency_ms": self.before_latency_ms,
                    "expected_ms": self.before_expected_ms,
                    "usd_per_hour": self.before_usd_per_hour,
                    "unserved_share": self.before_unserved_share,
                },
                "models": [dataclasses.asdict(m) for m in self.models],
                "notes": list(self.notes),
            }
        )


@dataclass(frozen=True)
class ParetoPoint:
    """One point of the latency/price trade-off: the weight used, what the placement achieves, and how
    the solve stopped (status, proven lower bound and relative gap of the objective; ``None`` for the
    heuristic)."""

    price_weight_ms_per_usd_hour: float
    latency_ms: float
    usd_per_hour: float
    status: SolveStatus
    bound: float | None = None
    gap: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the status as its value, non-finite floats as ``None``)."""
        return _json_ready({**dataclasses.asdict(self), "status": self.status.value})


def _json_ready(v: Any) -> Any:
    """``v`` with non-finite floats replaced by ``None``, recursively through dicts, lists and tuples."""
    if isinstance(v, float):
        return v if np.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _json_ready(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_ready(x) for x in v]
    return v


def _side(
    p: PlacementProblem,
    mi: int,
    open_: NDArray[np.bool_],
    x: NDArray[np.float64],
    plan_ms: NDArray[np.float64],
) -> Side:
    """Score model ``mi`` placed on ``open_`` (N,) with assignment ``x`` (clients of mi, N); ``plan_ms``
    (all clients, N) are the router's times on the plan (:func:`~nodeplan.placement.problem.plan_time_ms`).

    A client's unassigned share (no open node can serve it) counts as unserved and as an SLO miss; the
    mean times are over the served demand only.
    """
    clients = np.flatnonzero(p.client_model == mi)
    r = p.rate_rps[clients]
    t = np.where(x > 0, p.time_ms[clients], 0.0)
    with np.errstate(invalid="ignore"):
        q = np.where(x > 0, plan_ms[clients], 0.0)
    served = _served(x)
    served_rps = float(r @ served)
    unserved = float(r @ (1.0 - served) / r.sum())
    some = served_rps > 1e-12 * r.sum()
    mean = float((r[:, None] * x * t).sum() / served_rps) if some else None
    expected = float((r[:, None] * x * q).sum() / served_rps) if some else None
    late = float(r @ ((x * (p.time_ms[clients] > p.slo_ms[clients, None])).sum(axis=1)) / r.sum())
    idx = np.flatnonzero(open_)
    a = p.arrays
    prov = a.dim_codes[idx, a.dim_index("provider")]
    counts = np.unique(prov, return_counts=True)[1] if idx.size else np.zeros(1)
    country = a.dim_codes[idx, a.dim_index("country")]
    return Side(
        nodes=tuple(a.node_ids[i] for i in idx),
        mean_ms=mean,
        expected_ms=expected,
        slo_miss_share=min(1.0, late + unserved),
        providers=int(np.unique(prov[prov >= 0]).size + (prov < 0).any()),
        max_provider_share=float(counts.max() / max(1, idx.size)),
        countries=int(np.unique(country[country >= 0]).size),
        usd_per_hour=float(a.price_usd_per_hour[idx].sum()),
        unserved_share=unserved,
    )


def _expected(
    p: PlacementProblem, x: NDArray[np.float64], plan_ms: NDArray[np.float64], served_rps: float
) -> float:
    """Rate-weighted mean of the plan's router times over the ``served_rps`` requests/s it serves, ms."""
    with np.errstate(invalid="ignore"):
        return float((p.rate_rps[:, None] * x * np.where(x > 0, plan_ms, 0.0)).sum() / served_rps)


def _served(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Share of each client's requests an assignment ``x`` (clients, N) serves, with LP round-off
    (within 1e-9 of 0 or 1) snapped."""
    s = np.clip(x.sum(axis=1), 0.0, 1.0)
    return np.where(s > 1.0 - 1e-9, 1.0, np.where(s < 1e-9, 0.0, s))


def _fastest(p: PlacementProblem, mi: int, open_: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Assignment of each client of ``mi`` to its fastest open node that can serve it (no capacity)."""
    clients = np.flatnonzero(p.client_model == mi)
    t = np.where(open_[None, :], p.time_ms[clients], np.inf)
    x = np.zeros_like(t)
    ok = np.isfinite(t).any(axis=1)
    x[np.flatnonzero(ok), np.argmin(t[ok], axis=1)] = 1.0
    return x


def _heuristic(p: PlacementProblem) -> tuple[NDArray[np.bool_], MilpSolution, PlacementMilp]:
    """Greedy + swap sites, then the assignment LP; overloaded nodes get a congestion price and the sites
    are chosen again (up to :data:`HEURISTIC_ROUNDS` rounds)."""
    pi = np.zeros(p.slots.size)
    finite = p.time_ms[p.allowed]
    step = float(np.median(finite)) if finite.size else 1.0  # ms per slot-second: the typical client time
    for _ in range(HEURISTIC_ROUNDS):
        open_ = choose_sites_heuristic(p, pi)
        milp = build_placement_milp(p, fix_open=open_)
        try:
            return open_, solve_milp(milp.model, time_limit_s=p.spec.time_limit_s), milp
        except InfeasiblePlacementError:
            util = nearest_load(p, open_, pi) / np.maximum(p.slots, 1e-12)
            pi = pi + step * np.maximum(util - 1.0, 0.0) + step * 0.1 * (util > 0.9)
    raise InfeasiblePlacementError(
        "capacity: the heuristic's replicas cannot carry the demand within capacity and SLO; "
        "raise --replicas or use --solver milp"
    )


def _before(p: PlacementProblem) -> tuple[NDArray[np.float64], str]:
    """Assignment of today's placement: the assignment LP (capacity and SLO) when today's replicas allow it,
    else the same LP without capacity, else each client to its fastest warm replica; plus a note."""
    x = np.zeros(p.time_ms.shape)
    missing = [
        mid
        for mi, mid in enumerate(p.models)
        if not (p.current[mi][None, :] & p.allowed[p.client_model == mi]).any(axis=1).all()
    ]
    if not missing:
        for drop, note in (
            (frozenset(), ""),
            (frozenset({"capacity"}), "today's warm replicas overload capacity (before: capacity ignored)"),
        ):
            milp = build_placement_milp(p, fix_open=p.current, drop=drop)
            try:
                sol = solve_milp(milp.model, time_limit_s=p.spec.time_limit_s)
            except InfeasiblePlacementError:
                continue
            x[milp.pair_client, milp.pair_node] = np.clip(sol.x[: milp.pair_client.size], 0.0, 1.0)
            return x, note
    for mi in range(len(p.models)):
        x[p.client_model == mi] = _fastest(p, mi, p.current[mi])
    what = ", ".join(missing) if missing else "some models"
    return (
        x,
        f"today's warm replicas miss an SLO or a verification mode for {what} (before: fastest warm replica, no capacity limit)",
    )


def _diagnose(
    p: PlacementProblem, rtt: RttModel | None, exc: InfeasiblePlacementError
) -> InfeasiblePlacementError:
    tl = min(10.0, p.spec.time_limit_s)
    for fam in FAMILIES:
        try:
            solve_milp(build_placement_milp(p, drop=frozenset({fam})).model, time_limit_s=tl)
        except InfeasiblePlacementError:
            continue
        who = f" (model {p.models[0]!r})" if len(p.models) == 1 else ""
        if len(p.models) > 1:
            for mid in p.models:
                one = dataclasses.replace(p.spec, models=(mid,), replicas=p.spec.replicas)
                try:
                    q = build_problem(p.scenario, one, rtt)
                    solve_milp(build_placement_milp(q).model, time_limit_s=tl)
                except InfeasiblePlacementError:
                    who = f" (model {mid!r})"
                    break
        return InfeasiblePlacementError(f"{fam}: constraints cannot all hold{who}; {_HINT[fam]}")
    return exc


def place(
    scenario: Scenario, spec: PlacementSpec | None = None, rtt: RttModel | None = None
) -> ScenarioPlacement:
    """Choose the warm replicas of the scenario's models and compare with the current placement.

    Parameters
    ----------
    scenario : the network (nodes, models, demand)
    spec : what to place and under which rules (default: every demanded model, today's replica counts,
        latency only, ``--solver auto``)
    rtt : RTT model (default: the shipped fit)

    Examples
    --------
    >>> from nodeplan.scenario.io import load_builtin
    >>> from nodeplan.placement.problem import DiversityRule
    >>> sp = place(load_builtin(), PlacementSpec(models=("llama-3-70b-fp16",), replicas=2,
    ...            rules=(DiversityRule("provider", min_distinct=2),)))
    >>> len(sp.models[0].after.nodes), sp.models[0].after.providers >= 2, sp.result.status.value
    (2, True, 'optimal')
    """
    spec = spec or PlacementSpec()
    p = build_problem(scenario, spec, rtt)
    solver = spec.solver
    if solver is SolverChoice.AUTO:
        needs_milp = bool((p.replicas < 0).any())
        solver = (
            SolverChoice.MILP if p.n_pairs <= AUTO_MILP_MAX_PAIRS or needs_milp else SolverChoice.HEURISTIC
        )
    notes: list[str] = []
    t0 = time.perf_counter()
    if solver is SolverChoice.MILP:
        milp = build_placement_milp(p)
        try:
            sol = solve_milp(
                milp.model, time_limit_s=spec.time_limit_s, rel_gap=spec.rel_gap, node_limit=spec.node_limit
            )
        except InfeasiblePlacementError as exc:
            raise _diagnose(p, rtt, exc) from None
        open_ = np.zeros(p.candidate.shape, dtype=bool)
        open_[milp.y_model, milp.y_node] = sol.x[milp.y_col] > 0.5
        status, bound, gap = sol.status, sol.bound, sol.gap
        binding = list(sol.binding(milp.model))
    else:
        open_, sol, milp = _heuristic(p)
        status, bound, gap = SolveStatus.HEURISTIC, None, None
        binding = list(sol.binding(milp.model))
    solve_s = time.perf_counter() - t0
    x = np.zeros(p.time_ms.shape)
    x[milp.pair_client, milp.pair_node] = np.clip(sol.x[: milp.pair_client.size], 0.0, 1.0)
    # min-distinct rows are reported when the count of distinct values used equals the minimum
    binding = [b for b in binding if not b.startswith("min_distinct")]
    for r, rule in enumerate(spec.rules):
        if rule.min_distinct is None:
            continue
        for mi, mid in enumerate(p.models):
            if np.unique(p.group[r][open_[mi]]).size == rule.min_distinct:
                binding.append(f"min_distinct[{mid}: {rule.dim}]")
    x_before, before_note = _before(p)
    t_after = plan_time_ms(p, open_, x)  # the router's times on each plan: queue at its load included
    t_before = plan_time_ms(p, p.current, x_before)
    if before_note:
        notes.append(before_note)
    unserved_before = float(p.rate_rps @ (1.0 - _served(x_before))) / p.total_rps
    if unserved_before > 1e-9:
        notes.append(
            f"today's warm replicas cannot serve {100 * unserved_before:.3g}% of the placed demand "
            "(counted as SLO miss; today's mean time is over the served demand)"
        )
    models = []
    for mi, mid in enumerate(p.models):
        clients = np.flatnonzero(p.client_model == mi)
        xm = x[clients]
        rm = p.rate_rps[clients]
        idx = np.flatnonzero(open_[mi])
        served = rm @ xm[:, idx]
        tm = np.where(xm[:, idx] > 0, p.time_ms[np.ix_(clients, idx)], 0.0)
        contrib = (rm[:, None] * xm[:, idx] * tm).sum(axis=0) / rm.sum()
        models.append(
            ModelPlacement(
                model=mid,
                replicas=int(idx.size),
                after=_side(p, mi, open_[mi], xm, t_after),
                before=_side(p, mi, p.current[mi], x_before[clients], t_before),
                demand_share=tuple(float(v) for v in served / rm.sum()),
                contribution_ms=tuple(float(v) for v in contrib),
                provider=tuple(scenario.nodes[i].provider or "?" for i in idx),
                country=tuple(scenario.nodes[i].country or "?" for i in idx),
                usd_per_hour=tuple(float(scenario.nodes[i].price_usd_per_hour) for i in idx),
            )
        )
    total = p.total_rps
    lat = float((p.rate_rps[:, None] * x * np.where(x > 0, p.time_ms, 0.0)).sum() / total)
    expected = _expected(p, x, t_after, total)
    hosts = open_.any(axis=0)
    usd = float(p.arrays.price_usd_per_hour[hosts].sum())
    lam = spec.price_weight_ms_per_usd_hour
    served_before = (1.0 - unserved_before) * total  # req/s today's replicas serve
    before_lat = (
        float((p.rate_rps[:, None] * x_before * np.where(x_before > 0, p.time_ms, 0.0)).sum() / served_before)
        if served_before > 1e-12 * total
        else None
    )
    result = PlacementResult(
        # the solver's objective: the MILP's coefficients (no queue), the heuristic's on the same scale
        objective=lat + lam * usd if status is SolveStatus.HEURISTIC else sol.objective,
        bound=bound,
        gap=gap,
        status=status,
        chosen=tuple(int(v) for v in np.flatnonzero(open_.ravel())),
        assignment=x,
        binding=tuple(dict.fromkeys(binding)),
        solve_s=solve_s,
        solver="highs-milp" if solver is SolverChoice.MILP else "greedy+swap",
    )
    return ScenarioPlacement(
        scenario=scenario.name,
        models=tuple(models),
        result=result,
        latency_ms=lat,
        usd_per_hour=usd,
        price_weight_ms_per_usd_hour=lam,
        before_latency_ms=before_lat,
        before_usd_per_hour=float(p.arrays.price_usd_per_hour[p.current.any(axis=0)].sum()),
        solver=result.solver,
        notes=tuple(notes),
        before_unserved_share=unserved_before,
        expected_ms=expected,
        before_expected_ms=_expected(p, x_before, t_before, served_before)
        if before_lat is not None
        else None,
    )


def pareto(
    scenario: Scenario,
    spec: PlacementSpec | None = None,
    weights: tuple[float, ...] = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0),
    rtt: RttModel | None = None,
) -> tuple[ParetoPoint, ...]:
    """Latency/price trade-off: solve once per price weight (ms per USD/hour) and report both figures."""
    spec = spec or PlacementSpec()
    out = []
    for w in weights:
        sp = place(scenario, dataclasses.replace(spec, price_weight_ms_per_usd_hour=float(w)), rtt)
        r = sp.result
        out.append(ParetoPoint(float(w), sp.latency_ms, sp.usd_per_hour, r.status, r.bound, r.gap))
    return tuple(out)
