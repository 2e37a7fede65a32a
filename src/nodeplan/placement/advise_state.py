"""The measures of one network that ``nodeplan advise`` compares, and how each candidate network is evaluated.

:class:`NetworkState` holds, for one network: effective independent failure domains and effective
providers/ASNs/operators per role, the serving outcome with no failure, the worst single-domain failure
of each measure, the row of the baseline's worst failure, the router's demand-weighted expected time and
the hourly cost. :func:`state_from_audit` reads it off a full :func:`~nodeplan.metrics.audit.audit_scenario`
(the naive reference); :class:`CandidateEvaluator` computes the same numbers incrementally from the
compiled baseline (see :mod:`nodeplan.placement.advise`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import NoRouteError, RoutingError, ScenarioError
from nodeplan.metrics.audit import ALL_ROLES, AuditResult, audit_scenario
from nodeplan.metrics.failure import failure_dimensions, unreplicated_after_loss
from nodeplan.metrics.graph import independent_domains
from nodeplan.metrics.measures import entity_weights, measure_distribution
from nodeplan.metrics.serving import Outcome, ServingModel
from nodeplan.model.codes import compile_network
from nodeplan.model.consensus import consensus_model
from nodeplan.model.rtt import RttModel
from nodeplan.routing import Request, RouterState, route, route_batch
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.io import parse_scenario
from nodeplan.scenario.model import DEPENDENCY_DIMENSIONS, Node, NodeStatus, Role, Scenario, VerificationMode

__all__ = [
    "ADVISE_ROLES",
    "CandidateEvaluator",
    "EvalMethod",
    "NetworkState",
    "TrackedFailure",
    "changed_scenario",
    "common_expected_ms",
    "compile_with_codes",
    "delta",
    "init_worker",
    "state_from_audit",
    "worker_state",
]

ADVISE_ROLES: tuple[str, ...] = (ALL_ROLES, *(r.value for r in Role))
_MIX = ("provider", "asn", "operator")


class EvalMethod(StrEnum):
    """How each candidate network is evaluated (same numbers, different work)."""

    INCREMENTAL = "incremental"
    NAIVE = "naive"


@dataclass(frozen=True)
class NetworkState:
    """The measures of one network that the score compares (shares are fractions; ``None`` = n/a).

    ``domains[role]`` is the effective number of independent failure domains, ``effective[dim][role]``
    the ``1/HHI`` effective entities. ``worst_*_at`` names the failure (``"provider aws"``) where the
    worst value occurs (first in dimension order, then value). ``tracked`` is the row of the baseline's
    worst domain in this network (:class:`TrackedFailure`).
    ``expected_ms`` is the router's demand-weighted expected time over the routable demand;
    ``unroutable`` the share of demand with no route and ``unroutable_models`` the models with some
    demand that has no route. ``request_ms`` / ``request_rps`` are the router's time (ms, ``inf`` = no
    route) and rate (req/s) of each (demand class, source) pair, so two networks can be compared over
    the demand routable in both (:func:`common_expected_ms`; not in :meth:`to_dict`).
    ``dropped_dims`` are user dimensions that no node has any more after a removal and that were dropped
    from ``failures`` / ``policy.independence`` to keep the scenario valid (:func:`changed_scenario`).
    """

    live_nodes: int
    domains: dict[str, float | None]
    effective: dict[str, dict[str, float | None]]
    served: float | None
    verified: float | None
    unreplicated: tuple[str, ...]
    worst_served: float | None
    worst_served_at: str
    worst_verified: float | None
    worst_verified_at: str
    worst_unreplicated: int
    worst_unreplicated_at: str
    halting: int
    worst_alive_stake: float | None
    worst_alive_stake_at: str
    tracked: TrackedFailure | None
    expected_ms: float | None
    unroutable: float
    cost_usd_per_hour: float
    unroutable_models: tuple[str, ...] = ()
    dropped_dims: tuple[str, ...] = ()
    request_ms: tuple[float, ...] = ()
    request_rps: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able mapping."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("request_")}
        d["unreplicated"] = list(self.unreplicated)
        d["unroutable_models"] = list(self.unroutable_models)
        d["dropped_dims"] = list(self.dropped_dims)
        d["tracked"] = None if self.tracked is None else self.tracked._asdict()
        return d


class TrackedFailure(NamedTuple):
    """One failure (the baseline's worst) looked up in a network: ``failure`` names it (``"provider aws"``);
    served/verified shares, models left without a replica, and consensus (``halted``, ``fragile``, live
    stake share of the total; ``None`` without stake) as in the audit's failure table."""

    failure: str
    served: float | None
    verified: float | None
    models_unreplicated: int
    halted: bool | None
    fragile: bool | None
    alive_stake: float | None


# -- failure rows ------------------------------------------------------------------------------------
class _Row(NamedTuple):
    dim: str
    value: str
    served: float | None
    verified: float | None
    unrep: int
    halted: bool | None
    fragile: bool | None
    alive: float | None


def _rows(
    arrays: ScenarioArrays, codes: NDArray[np.int32], dims: tuple[str, ...], outcome: Callable[..., Outcome]
) -> list[_Row]:
    """The failure table's measures per (dimension, value), as :func:`~nodeplan.metrics.failure.failure_table`
    defines them, with ``outcome(down)`` supplying the serving check."""
    a = arrays
    replicas = a.stored & (a.role(Role.STORAGE) & a.up)[:, None]
    cm = consensus_model(a, codes, dims)
    rows: list[_Row] = []
    for dim in dims:
        k = a.dim_index(dim)
        nv = len(a.dim_values[k])
        if nv == 0:
            continue
        c = codes[:, k]
        halted: list[bool | None] = [None] * nv
        fragile: list[bool | None] = [None] * nv
        alive: list[float | None] = [None] * nv
        if cm is not None:
            after = cm.after_each_value(dim)
            halted, fragile = after.halted.tolist(), after.fragile.tolist()
            alive = after.alive_share.tolist()
        unrep = unreplicated_after_loss(c, replicas, nv).sum(axis=1)
        for v in range(nv):
            out = outcome(c == v)
            rows.append(
                _Row(
                    dim,
                    a.dim_values[k][v],
                    out.demand_served,
                    out.verified,
                    int(unrep[v]),
                    halted[v],
                    fragile[v],
                    alive[v],
                )
            )
    return rows


def _worst(rows: list[_Row], attr: str, high: bool = False) -> tuple[Any, str]:
    vals = [(getattr(r, attr), f"{r.dim} {r.value}") for r in rows if getattr(r, attr) is not None]
    if not vals:
        return None, ""
    best = vals[0]
    for v in vals[1:]:
        if (v[0] > best[0]) if high else (v[0] < best[0]):
            best = v
    return best


# -- one network -------------------------------------------------------------------------------------
class _Routed(NamedTuple):
    mean_ms: float | None
    lost: float
    ms: tuple[float, ...]
    rps: tuple[float, ...]
    lost_models: tuple[str, ...]


def _expected_ms(scenario: Scenario, rtt: RttModel) -> _Routed:
    """Demand-weighted mean of the router's expected time (ms) over the routable demand, the share of
    demand with no route, the time (ms, ``inf`` = no route) and rate (req/s) of each (class, source)
    pair, and the models with some demand that has no route."""
    if not scenario.demand or not scenario.sources:
        return _Routed(None, 0.0, (), (), ())
    state = RouterState.from_scenario(scenario, rtt=rtt, seed=0)
    w = np.array([s.weight for s in scenario.sources], dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(w.size, 1.0 / w.size)
    reqs = [
        Request(d.model, s.lat, s.lon, d.verification, d.verifiers, origin=s.name)
        for d in scenario.demand
        for s in scenario.sources
    ]
    try:
        ms = route_batch(reqs, state, commit=False).total_ms
    except (NoRouteError, RoutingError):  # some request has no route: route each, count the lost demand
        ms = np.full(len(reqs), np.inf)
        for i, r in enumerate(reqs):
            with contextlib.suppress(NoRouteError, RoutingError):
                ms[i] = route(r, state, commit=False).total_ms
    cw = np.concatenate([d.rate_rps * w for d in scenario.demand])
    ok = np.isfinite(ms)
    tot_ms, tot_w, lost_w = float((cw[ok] * ms[ok]).sum()), float(cw[ok].sum()), float(cw[~ok].sum())
    total = tot_w + lost_w
    lost_models = tuple(
        dict.fromkeys(r.model for r, good, x in zip(reqs, ok, cw, strict=True) if not good and x > 0)
    )
    return _Routed(
        tot_ms / tot_w if tot_w > 0 else None,
        lost_w / total if total > 0 else 0.0,
        tuple(float(x) for x in ms),
        tuple(float(x) for x in cw),
        lost_models,
    )


def common_expected_ms(before: NetworkState, after: NetworkState) -> tuple[float | None, float | None]:
    """Demand-weighted expected time (ms) of both networks over the demand routable in **both**.

    Pairs are matched by position ((class, source) order is the scenario's, the same in both networks);
    ``(None, None)`` when no demand with a positive rate is routable in both.

    >>> def st(ms, rps):
    ...     return NetworkState(0, {}, {}, None, None, (), None, "", None, "", 0, "", 0, None, "", None,
    ...                         None, 0.0, 0.0, request_ms=ms, request_rps=rps)
    >>> common_expected_ms(st((100.0, 5000.0), (1.0, 1.0)), st((110.0, float("inf")), (1.0, 1.0)))
    (100.0, 110.0)
    """
    if not before.request_ms or len(before.request_ms) != len(after.request_ms):
        return before.expected_ms, after.expected_ms
    m0, m1 = np.array(before.request_ms), np.array(after.request_ms)
    w = np.array(before.request_rps)
    ok = np.isfinite(m0) & np.isfinite(m1) & (w > 0)
    tw = float(w[ok].sum())
    if tw <= 0:
        return None, None
    return float((w[ok] * m0[ok]).sum()) / tw, float((w[ok] * m1[ok]).sum()) / tw


def _state(
    scenario: Scenario,
    arrays: ScenarioArrays,
    codes: NDArray[np.int32],
    rows: list[_Row],
    served: Outcome,
    tracked: tuple[str, str] | None,
    rtt: RttModel,
    mix: tuple[dict[str, float | None], dict[str, dict[str, float | None]]] | None = None,
) -> NetworkState:
    domains, eff = mix if mix is not None else _mix(scenario, arrays, codes)
    replicas = (arrays.stored & (arrays.role(Role.STORAGE) & arrays.up)[:, None]).sum(axis=0)
    ws, ws_at = _worst(rows, "served")
    wv, wv_at = _worst(rows, "verified")
    wu, wu_at = _worst(rows, "unrep", high=True)
    wa, wa_at = _worst(rows, "alive")
    track = None
    if tracked is not None:
        r = next((x for x in rows if (x.dim, x.value) == tracked), None)
        if r is not None:
            track = TrackedFailure(
                f"{r.dim} {r.value}", r.served, r.verified, r.unrep, r.halted, r.fragile, r.alive
            )
    routed = _expected_ms(scenario, rtt)
    return NetworkState(
        live_nodes=int(arrays.up.sum()),
        domains=domains,
        effective=eff,
        served=served.demand_served,
        verified=served.verified,
        unreplicated=tuple(m for m, x in zip(arrays.model_ids, replicas, strict=True) if x == 0),
        worst_served=ws,
        worst_served_at=ws_at,
        worst_verified=wv,
        worst_verified_at=wv_at,
        worst_unreplicated=0 if wu is None else int(wu),
        worst_unreplicated_at=wu_at,
        halting=sum(1 for r in rows if r.halted),
        worst_alive_stake=wa,
        worst_alive_stake_at=wa_at,
        tracked=track,
        expected_ms=routed.mean_ms,
        unroutable=routed.lost,
        cost_usd_per_hour=float(arrays.price_usd_per_hour[arrays.up].sum()),
        unroutable_models=routed.lost_models,
        request_ms=routed.ms,
        request_rps=routed.rps,
    )


def _mix(
    scenario: Scenario, arrays: ScenarioArrays, codes: NDArray[np.int32]
) -> tuple[dict[str, float | None], dict[str, dict[str, float | None]]]:
    """Effective domains per role and effective providers/ASNs/operators (1/HHI of node counts) per role."""
    weights = np.ones(arrays.n_nodes)
    ind = tuple(d for d in scenario.policy.independence if d in arrays.dims)
    domains: dict[str, float | None] = {}
    eff: dict[str, dict[str, float | None]] = {d: {} for d in _MIX}
    for role in ADVISE_ROLES:
        mask = arrays.up if role == ALL_ROLES else arrays.up & arrays.role(Role(role))
        domains[role] = independent_domains(arrays, codes, mask, weights, ind, role).effective_domains
        for dim in _MIX:
            k = arrays.dim_index(dim)
            if not np.any(codes[:, k] >= 0):  # the audit does not measure a dimension nobody has
                eff[dim][role] = None
                continue
            w_slot, n_slot = entity_weights(codes[mask, k], weights[mask], len(arrays.dim_values[k]))
            eff[dim][role] = measure_distribution(arrays.dim_values[k], w_slot, n_slot).effective_hhi
    return domains, eff


def compile_with_codes(scenario: Scenario) -> tuple[ScenarioArrays, NDArray[np.int32]]:
    arrays = compile_network(scenario)
    codes = arrays.dim_codes
    return arrays, codes


def state_from_audit(
    scenario: Scenario, tracked: tuple[str, str] | None, rtt: RttModel, audit: AuditResult | None = None
) -> NetworkState:
    """The state read off a full :func:`audit_scenario` (the reference the incremental path must match)."""
    audit = audit_scenario(scenario, roles=ADVISE_ROLES, rtt=rtt) if audit is None else audit
    arrays, codes = compile_with_codes(scenario)
    k = {d: i for i, d in enumerate(arrays.dims)}
    rows = [
        _Row(
            r.dimension,
            r.value,
            r.demand_served,
            r.verified,
            len(r.models_unreplicated),
            r.halted,
            r.fragile,
            r.alive_stake_share,
        )
        for r in sorted(
            audit.failure_rows,
            key=lambda r: (k[r.dimension], arrays.dim_values[k[r.dimension]].index(r.value)),
        )
    ]
    doms = {s.role: s.effective_domains for s in audit.summary}
    eff = {
        d: {r: audit.measure(d, r).effective_hhi if _has(audit, d, r) else None for r in ADVISE_ROLES}
        for d in _MIX
    }
    mix = ({r: doms.get(r) for r in ADVISE_ROLES}, eff)
    return _state(scenario, arrays, codes, rows, audit.baseline, tracked, rtt, mix)


def _has(audit: AuditResult, dim: str, role: str) -> bool:
    try:
        audit.measure(dim, role)
    except KeyError:
        return False
    return True


# -- incremental evaluation --------------------------------------------------------------------------
def _same_partition(old: NDArray[np.int32], new: NDArray[np.int32]) -> bool:
    """Whether two (n, d) code arrays group the n nodes the same way in every column (labels aside).

    >>> _same_partition(np.array([[0], [0], [1], [-1]]), np.array([[2], [2], [0], [-1]]))
    True
    >>> _same_partition(np.array([[0], [1]]), np.array([[0], [0]]))
    False
    """
    if old.shape != new.shape or not np.array_equal(old < 0, new < 0):
        return False
    for k in range(old.shape[1]):
        pairs = np.unique(np.stack([old[:, k], new[:, k]], axis=1), axis=0)
        if len(pairs) != len(np.unique(old[:, k])) or len(pairs) != len(np.unique(new[:, k])):
            return False
    return True


def _invisible(node: Node, scenario: Scenario) -> bool:
    """True when the serving check cannot see ``node``: no slots to execute, no verification mode the demand
    uses, no stored model, or down (conservative: a False only costs a recomputation)."""
    if node.status is NodeStatus.DOWN:
        return True
    if Role.EXECUTION in node.roles and node.capacity > 0:
        return False
    modes = {d.verification for d in scenario.demand} - {VerificationMode.NONE}
    if Role.VERIFICATION in node.roles and modes & node.verification_modes:
        return False
    return not (Role.STORAGE in node.roles and node.stored_models)


class CandidateEvaluator:
    """Per-candidate network states, reusing the compiled baseline (one instance per process)."""

    def __init__(
        self, scenario: Scenario, rtt: RttModel, tracked: tuple[str, str] | None, method: EvalMethod
    ):
        self.scenario, self.rtt, self.tracked, self.method = scenario, rtt, tracked, method
        self.arrays, self.codes = compile_with_codes(scenario)
        self.serving = ServingModel(scenario, self.arrays, self.codes, rtt) if scenario.demand else None
        self.memo: dict[bytes, Outcome] = {}
        ind = [d for d in scenario.policy.independence if d in self.arrays.dims]
        self.part_cols = np.array([self.arrays.dim_index(d) for d in (*ind, "provider")], dtype=np.intp)

    def base_outcome(self, down: NDArray[np.bool_]) -> Outcome:
        """The baseline serving outcome with ``down`` failed, once per distinct set of failed live nodes."""
        key = (down & self.arrays.up).tobytes()
        out = self.memo.get(key)
        if out is None:
            out = self.serving.outcome(down) if self.serving else Outcome(None, None)
            self.memo[key] = out
        return out

    def state(self, job: tuple[str, Node]) -> NetworkState:
        """The network with ``job = ("add", node)`` or ``("remove", node)`` applied."""
        action, node = job
        new, dropped = changed_scenario(self.scenario, action, node)
        if self.method is EvalMethod.NAIVE:
            return replace(state_from_audit(new, self.tracked, self.rtt), dropped_dims=dropped)
        return replace(self._incremental(new, action, node), dropped_dims=dropped)

    def _incremental(self, new: Scenario, action: str, node: Node) -> NetworkState:
        arrays, codes = compile_with_codes(new)
        n = self.arrays.n_nodes
        if action == "add":
            old_rows: NDArray[np.intp] = np.arange(n)
        else:
            pos = self.arrays.node_ids.index(node.id)
            old_rows = np.delete(np.arange(n), pos)
        names = [self.arrays.dims[k] for k in self.part_cols]
        same = all(d in arrays.dims for d in names) and _same_partition(
            self.codes[np.ix_(old_rows, self.part_cols)],
            codes[
                np.ix_(
                    np.arange(len(old_rows)), np.array([arrays.dim_index(d) for d in names], dtype=np.intp)
                )
            ],
        )
        outcome: Callable[[NDArray[np.bool_]], Outcome]
        if same and arrays.dims == self.arrays.dims and _invisible(node, self.scenario):

            def outcome(down: NDArray[np.bool_]) -> Outcome:
                old = np.zeros(n, dtype=bool)
                old[old_rows] = down[: len(old_rows)]
                return self.base_outcome(old)

        else:
            serving = ServingModel(new, arrays, codes, self.rtt) if new.demand else None
            memo: dict[bytes, Outcome] = {}

            def outcome(down: NDArray[np.bool_]) -> Outcome:
                key = (down & arrays.up).tobytes()
                if key not in memo:
                    memo[key] = serving.outcome(down) if serving else Outcome(None, None)
                return memo[key]

        rows = _rows(arrays, codes, failure_dimensions(new, arrays), outcome)
        served = outcome(np.zeros(arrays.n_nodes, dtype=bool))
        return _state(new, arrays, codes, rows, served, self.tracked, self.rtt)


def changed_scenario(scenario: Scenario, action: str, node: Node) -> tuple[Scenario, tuple[str, ...]]:
    """``scenario`` with ``node`` added (``action="add"``) or removed, validated like a loaded file.

    A removal can leave a user dimension (``dims``) that ``failures`` or ``policy.independence`` names
    held by no node, which the scenario rules reject; such dimensions are dropped from ``failures`` and
    ``policy.independence`` of the copy and returned (nothing can fail or be shared on a dimension no node
    has, so nothing else changes).

    Raises
    ------
    ScenarioError
        ``removing <id>: ...`` / ``adding <id>: ...`` when the changed scenario does not validate.

    Examples
    --------
    >>> from nodeplan.scenario.model import Policy
    >>> def node(i, **kw):
    ...     return Node(id=i, lat=0, lon=0, roles={"execution"}, **kw)
    >>> sc = Scenario(nodes=[node("a"), node("z", dims={"zone": "z1"})],
    ...               policy=Policy(independence=("provider", "zone")))
    >>> new, dropped = changed_scenario(sc, "remove", sc.nodes[1])
    >>> new.policy.independence, dropped
    (('provider',), ('zone',))
    """
    data = {name: getattr(scenario, name) for name in Scenario.model_fields}
    dropped: tuple[str, ...] = ()
    if action == "add":
        data["nodes"] = (*scenario.nodes, node)
    else:
        data["nodes"] = tuple(n for n in scenario.nodes if n.id != node.id)
        left = {k for n in data["nodes"] for k in n.dims}
        named = (*scenario.failures, *scenario.policy.independence)
        dropped = tuple(dict.fromkeys(d for d in named if d not in DEPENDENCY_DIMENSIONS and d not in left))
        if dropped:
            data["failures"] = {k: v for k, v in scenario.failures.items() if k not in dropped}
            data["policy"] = scenario.policy.model_copy(
                update={"independence": tuple(d for d in scenario.policy.independence if d not in dropped)}
            )
    try:
        return parse_scenario(data), dropped
    except ScenarioError as exc:
        verb = "adding" if action == "add" else "removing"
        raise ScenarioError(f"{verb} {node.id}: {exc}") from None


_WORKER: list[CandidateEvaluator] = []  # the evaluator of a pool worker process (set by init_worker)


def init_worker(
    scenario: Scenario, rtt: RttModel, tracked: tuple[str, str] | None, method: EvalMethod
) -> None:
    _WORKER[:] = [CandidateEvaluator(scenario, rtt, tracked, method)]


def worker_state(job: tuple[str, Node]) -> NetworkState:
    return _WORKER[0].state(job)


def delta(after: float | None, before: float | None) -> float:
    """``after - before`` with ``None`` read as 0.

    >>> delta(0.5, None), delta(None, 0.25)
    (0.5, -0.25)
    """
    return (after or 0.0) - (before or 0.0)
