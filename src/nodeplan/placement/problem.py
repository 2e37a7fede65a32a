"""The nodeplan warm-replica placement problem, built from a :class:`~nodeplan.scenario.model.Scenario`.

A **client** is one (demand class, demand source) pair: requests for one model, with one verification
mode, from one city, at ``rate_rps x source weight / total weight`` requests/s. A **candidate** for a
model is a node that is up, has the execution role, whose hardware runs the model (finite service time,
enough GPU memory, see :func:`~nodeplan.model.timing.service_s_by_node`) and whose GPU memory still
holds it once the warm models *not* being placed are counted. A client may use a candidate when the node
supports the client's verification mode (TEE and zkML need it on the executor) and the expected time
is within the client's SLO.

Expected time of a client on node ``i``, ms, from the one time model (:mod:`nodeplan.model.network`):
RTT(source, node) + service time x the executor factor of the mode (TEE 2-3x, zkML 100-1000x) +
verification (the router's verifier set for that executor: hop + check, or re-execution; ``inf`` with
fewer live verifiers than asked). The model is warm on every chosen replica, so no cold start. These are
the MILP's coefficients (``time_ms``); the queue wait depends on the plan's load, so the MILP bounds the
load (``max_utilisation`` x slots) and :func:`plan_time_ms` then evaluates a plan with the queue wait at
its load and the verifiers of its state, exactly as the router would answer on that plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import InfeasiblePlacementError, ScenarioError
from nodeplan.metrics.serving import verifier_picks
from nodeplan.model.codes import compile_network
from nodeplan.model.network import NetworkState
from nodeplan.model.queueing import mixed_load
from nodeplan.model.rtt import RttModel, default_rtt_model
from nodeplan.model.timing import TimingParams, executor_factor, service_s_by_node
from nodeplan.placement.options import as_enum, check_int, check_limits, check_real
from nodeplan.placement.result import PROVEN_GAP
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Role, Scenario, VerificationMode

__all__ = [
    "MAX_OBJECTIVE_COEF_MS",
    "DiversityRule",
    "PlacementProblem",
    "PlacementSpec",
    "ShareOf",
    "SolverChoice",
    "build_problem",
    "plan_time_ms",
]

#: Label of the group that collects nodes whose value of a dimension is unknown.
UNKNOWN = "(unknown)"

#: Largest objective coefficient (ms) a placement accepts: the price weight x a node's price, and a
#: client's expected time. HiGHS treats coefficients of 1e20 and more as infinite, and long before that
#: the latency term vanishes in round-off; 1e12 ms is 31 years.
MAX_OBJECTIVE_COEF_MS = 1e12


class ShareOf(StrEnum):
    """What a max-share rule measures: the count of replicas, or their capacity (requests/s)."""

    REPLICAS = "replicas"
    CAPACITY = "capacity"


class SolverChoice(StrEnum):
    """``milp`` (exact, HiGHS), ``heuristic`` (greedy + swap) or ``auto`` (MILP up to a size threshold)."""

    MILP = "milp"
    HEURISTIC = "heuristic"
    AUTO = "auto"


@dataclass(frozen=True)
class DiversityRule:
    """A dependency-diversity rule on the replicas of each placed model, for one dimension.

    ``max_share`` in (0, 1]: no value of ``dim`` (one provider, ASN, country ...) holds more than this
    share of the replicas (or of their capacity, ``share_of="capacity"``). ``min_distinct``: replicas
    sit in at least this many distinct values. Nodes whose value is unknown form one group,
    ``"(unknown)"``, so an unknown value never dodges a share cap. A rule needs at least one of the two.
    ``share_of`` may be given as a string (``"replicas"``, ``"capacity"``); any other value is rejected.
    """

    dim: str
    max_share: float | None = None
    min_distinct: int | None = None
    share_of: ShareOf = ShareOf.REPLICAS

    def __post_init__(self) -> None:
        if not isinstance(self.dim, str) or not self.dim:
            raise ScenarioError(f"dim: must be a dimension name (got {self.dim!r})")
        where = f"rules[{self.dim}].{{}}"
        if self.max_share is not None:
            v = check_real(self.max_share, where.format("max_share"), low=0.0, high=1.0, low_open=True)
            object.__setattr__(self, "max_share", v)
        if self.min_distinct is not None:
            object.__setattr__(
                self, "min_distinct", check_int(self.min_distinct, where.format("min_distinct"), low=1)
            )
        if self.max_share is None and self.min_distinct is None:
            raise ScenarioError(f"rules[{self.dim}]: give max_share or min_distinct (the rule is empty)")
        object.__setattr__(self, "share_of", as_enum(ShareOf, self.share_of, where.format("share_of")))


@dataclass(frozen=True)
class PlacementSpec:
    """What to place and under which rules.

    Attributes
    ----------
    models : model ids to place; ``None`` = every model with demand
    replicas : replicas per model (exactly K); ``None`` = the current number of warm replicas (at least
        1), unless ``budget_usd_per_hour`` is set, which frees the count
    budget_usd_per_hour : cap on the summed price of the nodes that host a placed model, USD/hour
    rules : dependency-diversity rules
    price_weight_ms_per_usd_hour : ms of demand-weighted mean time that 1 USD/hour of node price is worth
        in the objective (0 = latency only)
    max_utilisation : load a node may carry, as a share of its slots (1.0 = the brief's ``slots /
        service time`` bound, where the node's queue never drains; default 0.8)
    time_limit_s : MILP time limit, s (> 0, finite); past it the best placement, status ``time_limit``
    rel_gap : relative MIP gap at which HiGHS stops, in [0, 1). The default, 1e-9, asks for a proof of
        optimality (status ``optimal``); a larger gap may stop sooner, with status ``gap_limit`` (HiGHS's
        own default of 1e-4 stopped 0.0015 ms above the optimum on the built-in scenario with
        ``--min-providers 2 --max-provider-share 0.6``).
    node_limit : branch-and-bound node limit (``None`` = none); status ``iteration_limit`` when it stops
        the solve
    solver : which solver to use (a :class:`SolverChoice` or its value as a string)
    seed : seed of the heuristic's restarts (integer >= 0)

    Every field is checked on construction: strings become their enums, lists become tuples, and a bad
    value raises :class:`~nodeplan.exceptions.ScenarioError` naming the field and the value.
    """

    models: tuple[str, ...] | None = None
    replicas: int | None = None
    budget_usd_per_hour: float | None = None
    rules: tuple[DiversityRule, ...] = ()
    price_weight_ms_per_usd_hour: float = 0.0
    max_utilisation: float = 0.8
    time_limit_s: float = 60.0
    rel_gap: float = PROVEN_GAP
    solver: SolverChoice = SolverChoice.AUTO
    seed: int = 0
    node_limit: int | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if isinstance(self.models, str):
            put("models", (self.models,))
        elif self.models is not None:
            if not all(isinstance(m, str) for m in self.models):
                raise ScenarioError(f"models: must be model ids (got {self.models!r})")
            put("models", tuple(self.models))
        if self.replicas is not None:
            put("replicas", check_int(self.replicas, "replicas", low=1))
        if self.budget_usd_per_hour is not None:
            put("budget_usd_per_hour", check_real(self.budget_usd_per_hour, "budget_usd_per_hour", low=0.0))
        rules = tuple(self.rules or ())
        for r in rules:
            if not isinstance(r, DiversityRule):
                raise ScenarioError(f"rules: each rule must be a DiversityRule (got {r!r})")
        put("rules", rules)
        put(
            "price_weight_ms_per_usd_hour",
            check_real(
                self.price_weight_ms_per_usd_hour,
                "price_weight_ms_per_usd_hour",
                low=0.0,
                high=MAX_OBJECTIVE_COEF_MS,
            ),
        )
        put(
            "max_utilisation",
            check_real(self.max_utilisation, "max_utilisation", low=0.0, high=1.0, low_open=True),
        )
        time_limit_s, rel_gap, node_limit = check_limits(self.time_limit_s, self.rel_gap, self.node_limit)
        put("time_limit_s", time_limit_s)
        put("rel_gap", rel_gap)
        put("node_limit", node_limit)
        put("solver", as_enum(SolverChoice, self.solver, "solver"))
        put("seed", check_int(self.seed, "seed", low=0))


@dataclass(frozen=True, eq=False)
class PlacementProblem:
    """Arrays of one placement problem (``M`` placed models, ``C`` clients, ``N`` scenario nodes).

    Attributes
    ----------
    arrays : numpy view of the scenario
    models : placed model ids; ``model_rows`` their columns in ``arrays``
    size_gb : (M,) weight size, GB (1e9 bytes)
    candidate : (M, N) bool, node may hold the model warm
    current : (M, N) bool, model is warm there now (execution nodes)
    replicas : (M,) replicas required per model, or -1 when the budget frees the count
    free_gb : (N,) GPU memory left after the warm models that are not placed, GB
    client_model : (C,) index into ``models``; ``client_source``, ``client_demand`` index the scenario's
        sources and demand classes
    rate_rps : (C,) requests/s; ``slo_ms`` (C,)
    time_ms : (C, N) expected time, ms (``inf`` where the node cannot serve the client): ``net_ms +
        svc_ms + verify_ms`` with the model warm and no queue (the MILP's coefficients)
    net_ms, svc_ms, verify_ms : (C, N) its parts: RTT source -> node, service x executor factor,
        verification (0 for ``none``; ``inf`` with fewer live verifiers than asked), ms
    state : the network model the times come from (healthy, no load), for :func:`plan_time_ms`
    allowed : (C, N) bool, candidate, mode supported and ``time_ms <= slo_ms``
    busy_s : (C, N) slot-seconds one request takes on the node (service x executor factor), s
    slots : (N,) ``max_utilisation x capacity`` slot-seconds per second
    group : per rule, (N,) int group of each node in the rule's dimension (unknown = its own last group)
    group_names : per rule, the group labels
    model_rps : (M, N) requests/s the node serves of the model at full slots (capacity share rules)
    """

    scenario: Scenario
    spec: PlacementSpec
    arrays: ScenarioArrays
    models: tuple[str, ...]
    model_rows: tuple[int, ...]
    size_gb: NDArray[np.float64]
    candidate: NDArray[np.bool_]
    current: NDArray[np.bool_]
    replicas: NDArray[np.int64]
    free_gb: NDArray[np.float64]
    client_model: NDArray[np.int64]
    client_source: NDArray[np.int64]
    client_demand: NDArray[np.int64]
    rate_rps: NDArray[np.float64]
    slo_ms: NDArray[np.float64]
    time_ms: NDArray[np.float64]
    net_ms: NDArray[np.float64]
    svc_ms: NDArray[np.float64]
    verify_ms: NDArray[np.float64]
    state: NetworkState
    allowed: NDArray[np.bool_]
    busy_s: NDArray[np.float64]
    slots: NDArray[np.float64]
    group: tuple[NDArray[np.int64], ...]
    group_names: tuple[tuple[str, ...], ...]
    model_rps: NDArray[np.float64]

    @property
    def total_rps(self) -> float:
        """Requests/s of all placed demand."""
        return float(self.rate_rps.sum())

    @property
    def n_pairs(self) -> int:
        """Number of (client, node) assignment variables: the size measure of ``--solver auto``."""
        return int(self.allowed.sum())

    def client_label(self, c: int) -> str:
        """``model (mode) from source`` for messages."""
        d = self.scenario.demand[int(self.client_demand[c])]
        return f"model {d.model!r} ({d.verification.value}) from {self.scenario.sources[int(self.client_source[c])].name!r}"


def _groups(arrays: ScenarioArrays, dim: str) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    if dim not in arrays.dims:
        raise ScenarioError(f"rules: unknown dimension {dim!r} (known: {', '.join(arrays.dims)})")
    k = arrays.dim_index(dim)
    codes = arrays.dim_codes[:, k].astype(np.int64)
    names = arrays.dim_values[k]
    return np.where(codes < 0, len(names), codes), (*names, UNKNOWN)


def build_problem(scenario: Scenario, spec: PlacementSpec, rtt: RttModel | None = None) -> PlacementProblem:
    """Build the placement arrays and run the checks that name an impossible request before any solve.

    Raises
    ------
    ScenarioError
        unknown model, model without demand (or whose demand all has ``rate_rps`` 0; with ``models=None``
        such models are skipped), unknown rule dimension
    InfeasiblePlacementError
        a client no candidate can serve within its SLO, more replicas than candidates, a diversity rule
        the candidates cannot meet
    """
    rtt = rtt or default_rtt_model()
    arrays = compile_network(scenario)
    demanded = [d.model for d in scenario.demand]
    busy_models = {d.model for d in scenario.demand if d.rate_rps > 0}
    if spec.models is None:
        models = tuple(dict.fromkeys(m for m in demanded if m in busy_models))
        if not demanded:
            raise ScenarioError(f"demand: scenario {scenario.name!r} has no demand; nothing to place")
        if not models:
            idle = ", ".join(repr(m) for m in dict.fromkeys(demanded))
            raise ScenarioError(
                f"demand: no demand with rate_rps > 0 for model{'s' if ',' in idle else ''} {idle}; nothing to place"
            )
    else:
        models = tuple(dict.fromkeys(spec.models))
        for mid in models:
            scenario.model(mid)  # raises ScenarioError naming an unknown model
            if mid not in demanded:
                raise ScenarioError(
                    f"model: {mid!r} has no demand class in scenario {scenario.name!r}; nothing to place"
                )
            if mid not in busy_models:
                raise ScenarioError(
                    f"demand: no demand with rate_rps > 0 for model {mid!r}; nothing to place"
                )
    rows = tuple(arrays.model_index(mid) for mid in models)
    n = arrays.n_nodes
    size_gb = arrays.model_size_bytes[list(rows)] / 1e9
    placed = np.zeros(arrays.warm.shape[1], dtype=bool)
    placed[list(rows)] = True
    pinned_gb = (arrays.warm[:, ~placed] * arrays.model_size_bytes[~placed][None, :]).sum(axis=1) / 1e9
    free_gb = arrays.gpu_memory_gb - pinned_gb
    execu = arrays.role(Role.EXECUTION) & arrays.up
    svc = np.stack([service_s_by_node(arrays, scenario.model(mid)) for mid in models])  # (M, N) s
    candidate = execu[None, :] & np.isfinite(svc) & (free_gb[None, :] + 1e-9 >= size_gb[:, None])
    current = arrays.warm[:, list(rows)].T & execu[None, :]
    if spec.replicas is not None:
        replicas = np.full(len(models), spec.replicas, dtype=np.int64)
    elif spec.budget_usd_per_hour is not None:
        replicas = np.full(len(models), -1, dtype=np.int64)
    else:
        replicas = np.maximum(1, (current & candidate).sum(axis=1)).astype(np.int64)
    for mi, mid in enumerate(models):
        nc = int(candidate[mi].sum())
        if nc == 0:
            raise InfeasiblePlacementError(f"candidates: no up execution node can hold model {mid!r} warm")
        if replicas[mi] > nc:
            raise InfeasiblePlacementError(
                f"replicas: {int(replicas[mi])} replicas of {mid!r} requested but only {nc} candidate nodes can hold it"
            )
    # Clients: (demand class, source) pairs with traffic.
    w = np.array([s.weight for s in scenario.sources], dtype=float)
    if w.sum() <= 0:
        raise ScenarioError("sources: every source weight is 0; no demand to place")
    share = w / w.sum()
    m_of = {mid: i for i, mid in enumerate(models)}
    cm, cs, cd, rate, slo, fac, mode_ok = [], [], [], [], [], [], []
    for di, d in enumerate(scenario.demand):
        if d.model not in m_of or d.rate_rps <= 0:
            continue
        f = executor_factor(scenario.model(d.model), d.verification)
        ok = (
            arrays.mode(d.verification)
            if d.verification in (VerificationMode.TEE, VerificationMode.ZKML)
            else np.ones(n, dtype=bool)
        )
        for si in np.flatnonzero(share > 0):
            cm.append(m_of[d.model])
            cs.append(int(si))
            cd.append(di)
            rate.append(d.rate_rps * share[si])
            slo.append(d.slo_ms)
            fac.append(f)
            mode_ok.append(ok)
    client_model = np.array(cm, dtype=np.int64)
    client_source = np.array(cs, dtype=np.int64)
    client_demand = np.array(cd, dtype=np.int64)
    state = NetworkState(scenario, arrays, rtt, TimingParams())
    src = scenario.sources
    rows_ms = state.rtt_rows_ms([x.lat for x in src], [x.lon for x in src], [x.name for x in src])
    busy = svc[client_model] * np.array(fac)[:, None]
    serve = candidate[client_model] & np.array(mode_ok)
    net_ms = rows_ms[client_source]
    cols = np.array([rows[mi] for mi in client_model.tolist()], dtype=np.int64)
    svc_ms = state.svc_ms[cols] * np.array(fac)[:, None]  # as the router: (service ms) x factor
    verify_ms = _verification_ms(scenario, state, client_demand, cols, serve)
    time_ms = np.where(serve, net_ms + svc_ms + verify_ms, np.inf)
    slo_ms = np.array(slo, dtype=float)
    allowed = serve & (time_ms <= slo_ms[:, None])
    problem = PlacementProblem(
        scenario=scenario,
        spec=spec,
        arrays=arrays,
        models=models,
        model_rows=rows,
        size_gb=size_gb,
        candidate=candidate,
        current=current,
        replicas=replicas,
        free_gb=free_gb,
        client_model=client_model,
        client_source=client_source,
        client_demand=client_demand,
        rate_rps=np.array(rate, dtype=float),
        slo_ms=slo_ms,
        time_ms=time_ms,
        net_ms=net_ms,
        svc_ms=svc_ms,
        verify_ms=verify_ms,
        state=state,
        allowed=allowed,
        busy_s=np.where(serve, busy, np.inf),
        slots=spec.max_utilisation * arrays.capacity.astype(float),
        group=tuple(_groups(arrays, r.dim)[0] for r in spec.rules),
        group_names=tuple(_groups(arrays, r.dim)[1] for r in spec.rules),
        model_rps=np.where(candidate, arrays.capacity[None, :] / np.where(np.isfinite(svc), svc, 1.0), 0.0),
    )
    _check_coefficients(problem)
    _precheck(problem)
    return problem


def _verification_ms(
    scenario: Scenario,
    state: NetworkState,
    client_demand: NDArray[np.int64],
    cols: NDArray[np.int64],
    serve: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """(C, N) verification ms of each client on each node it may use, with the router's verifier rule
    on ``state``: the independent set (or, without one, the best available), ``inf`` with fewer live
    verifiers than asked; 0 for demand without verification."""
    out = np.zeros(serve.shape)
    w = scenario.policy.price_weight_ms_per_usd
    for di in np.unique(client_demand).tolist():
        d = scenario.demand[di]
        if d.verification is VerificationMode.NONE:
            continue
        mine = np.flatnonzero(client_demand == di)
        ex = np.flatnonzero(serve[mine].any(axis=0))
        vc, _, _, _ = verifier_picks(state, int(cols[mine[0]]), d, ex, w)
        out[np.ix_(mine, ex)] = vc[None, :]
    return out


def plan_time_ms(
    p: PlacementProblem, open_: NDArray[np.bool_], x: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(C, N) expected time, ms, of each client on each node under a plan, as the router computes it.

    ``open_`` (M, N): where each placed model is warm; ``x`` (C, N): the share of each client's requests
    sent to each node. The network model is set to the plan (placed models warm exactly on ``open_``,
    each node loaded with its assigned requests as an M/M/c mix, :func:`~nodeplan.model.queueing.mixed_load`)
    and each time is ``RTT + queue + cold start + service x factor + verification`` in the router's order,
    with the verifiers the router would pick on that state. ``inf`` where the node cannot serve the client.
    """
    net = p.state.copy()
    for mi, j in enumerate(p.model_rows):
        net.warm[:, j] = open_[mi]
    with np.errstate(invalid="ignore"):  # 0 x inf: no request where a node cannot serve
        rate = np.where(x > 0, p.rate_rps[:, None] * x, 0.0)
    lam, s_eff = mixed_load(rate, np.where(x > 0, p.busy_s, 0.0), axis=0)
    net.set_conditions(net.up, lam, np.where(lam > 0, s_eff, np.nan))
    cols = np.array([p.model_rows[mi] for mi in p.client_model.tolist()], dtype=np.int64)
    verify = _verification_ms(p.scenario, net, p.client_demand, cols, np.isfinite(p.time_ms))
    t = p.net_ms + net.queue_ms[cols]
    t += net.cold_ms[cols]
    t += p.svc_ms
    t += verify
    return np.where(np.isfinite(p.time_ms), t, np.inf)


def _check_coefficients(p: PlacementProblem) -> None:
    """Objective coefficients must stay below :data:`MAX_OBJECTIVE_COEF_MS` (finite, and far from the
    1e20 HiGHS reads as infinite)."""
    lam = p.spec.price_weight_ms_per_usd_hour
    hosts = p.candidate.any(axis=0)
    if lam > 0 and hosts.any():
        i = int(np.flatnonzero(hosts)[np.argmax(p.arrays.price_usd_per_hour[hosts])])
        top = float(p.arrays.price_usd_per_hour[i])
        if lam * top > MAX_OBJECTIVE_COEF_MS:
            raise ScenarioError(
                f"--price-weight (price_weight_ms_per_usd_hour): {lam:g} ms per USD/hour x the price of node "
                f"{p.arrays.node_ids[i]!r} ({top:g} USD/hour) = {lam * top:.3g} ms exceeds "
                f"{MAX_OBJECTIVE_COEF_MS:g} ms; use at most {MAX_OBJECTIVE_COEF_MS / top:.3g}"
            )
    t = np.where(p.allowed, p.time_ms, 0.0)
    if t.size and float(t.max()) > MAX_OBJECTIVE_COEF_MS:
        c, j = (int(v) for v in np.unravel_index(int(np.argmax(t)), t.shape))
        raise ScenarioError(
            f"slo_ms: {p.client_label(c)} on node {p.arrays.node_ids[j]!r} takes {t[c, j]:.3g} ms, "
            f"more than {MAX_OBJECTIVE_COEF_MS:g} ms; lower slo_ms={p.slo_ms[c]:g} so such nodes are not allowed"
        )


def _precheck(p: PlacementProblem) -> None:
    """Name the first constraint that no placement can meet (SLO per client, then diversity rules)."""
    for c in np.flatnonzero(~p.allowed.any(axis=1)):
        t = p.time_ms[c]
        if not np.isfinite(t).any():
            serve = np.isfinite(p.busy_s[c])
            if serve.any() and not np.isfinite(p.verify_ms[c][serve]).any():
                d = p.scenario.demand[int(p.client_demand[c])]
                raise InfeasiblePlacementError(
                    f"verification: fewer than {d.verifiers} live node(s) can verify "
                    f"{d.verification.value!r} for {p.client_label(int(c))}; add verification nodes"
                )
            raise InfeasiblePlacementError(f"candidates: no candidate node supports {p.client_label(int(c))}")
        best = int(np.argmin(t))
        raise InfeasiblePlacementError(
            f"slo: no candidate node serves {p.client_label(int(c))} within slo_ms={p.slo_ms[c]:g} "
            f"(fastest: {p.arrays.node_ids[best]} at {t[best]:.0f} ms); raise the SLO or add a node nearer"
        )
    for r, rule in enumerate(p.spec.rules):
        g = p.group[r]
        for mi, mid in enumerate(p.models):
            vals = np.unique(g[p.candidate[mi]])
            k = int(p.replicas[mi])
            if rule.min_distinct is not None and vals.size < rule.min_distinct:
                raise InfeasiblePlacementError(
                    f"min_distinct: replicas of {mid!r} must span {rule.min_distinct} distinct {rule.dim} values "
                    f"but its candidates span only {vals.size}"
                )
            if rule.min_distinct is not None and k > 0 and k < rule.min_distinct:
                raise InfeasiblePlacementError(
                    f"min_distinct: {k} replicas of {mid!r} cannot span {rule.min_distinct} distinct {rule.dim} values; "
                    f"raise --replicas to at least {rule.min_distinct}"
                )
            if rule.max_share is not None and rule.share_of is ShareOf.REPLICAS and k > 0:
                per = int(np.floor(rule.max_share * k + 1e-9))
                counts = np.bincount(g[p.candidate[mi]])
                if np.minimum(counts, per).sum() < k:
                    raise InfeasiblePlacementError(
                        f"max_share: a {rule.dim} share of {rule.max_share:g} allows {per} of {k} replicas of {mid!r} "
                        f"per {rule.dim}, and its candidates cannot fill {k} that way"
                    )
