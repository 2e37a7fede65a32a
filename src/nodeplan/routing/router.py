"""``route(request, state) -> Route``: choose executor, verifiers and model source for one request.

Expected time of a route (ms), the parts of :class:`~nodeplan.model.timing.TimeBreakdown`:

* **network**: RTT user -> executor (public-internet fit of :mod:`nodeplan.model.rtt`);
* **queue**: wait for a slot at the executor (see :mod:`nodeplan.routing.state`);
* **cold start**: 0 when the model is warm there, otherwise read from its disk or fetched from the
  live storage replica that delivers it soonest, plus load and init
  (:func:`~nodeplan.model.timing.cold_start_s`);
* **service**: the model's service time on the executor's hardware x the executor factor of the mode
  (TEE 2-3x, zkML 100-1000x, 1 for ``none`` and ``reexec``);
* **verification**: the verifiers work in parallel, so the slowest of them counts; for one verifier,
  RTT executor -> verifier (provider backbone when both share a provider) + its check: the TEE
  attestation or zkML proof check time (:func:`~nodeplan.model.timing.verify_check_s`), or, for
  ``reexec``, re-running the call there: its queue wait + its cold start when the model is not warm
  there + its own service time.

Price of a route (USD) = sum over the executor and the verifiers of
``price_usd_per_hour / capacity x seconds of work / 3600`` (one slot for the service time; for a TEE or
zkML verifier the check time, for a re-executing one its service time). Cold-start time is not billed.

Committing a route (the default) changes the state: the executor takes a slot and warms the model
(LRU eviction); re-executing verifiers do the same. :func:`complete` gives the slots back.

With K verifiers, the policy's ``executor_candidates`` best executors are tried and the best complete
route wins. Routes rank by (SLO missed, when the policy is SLO-aware; degraded; cost): a route within the
SLO comes first, and among those one with independent verifiers. For each executor the independent set
(:func:`~nodeplan.model.independence.select_independent`) is tried, and, when that route would miss the
SLO, also the K cheapest verifiers whatever they share (a *degraded* route, flagged with the reason). So a
request counts as served within the SLO exactly when some executor and ``K`` verifiers meet it (a route
with fewer live verifiers than asked never does), and as
independently verified within the SLO exactly when some independent set does; the audit's serving check
(:mod:`nodeplan.metrics.serving`) computes the same two facts for every source at once, and removing nodes
never raises either. While the best route so far misses the SLO or is degraded, further executors are
tried in cost order (blocks of doubling size, up to ``executor_scan_limit``).
Batches of requests: :func:`nodeplan.routing.batch.route_batch`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import NoRouteError, RoutingError
from nodeplan.model.independence import (
    IndependenceReport,
    Selection,
    SelectionStatus,
    independence_report,
    select_independent,
)
from nodeplan.model.timing import TimeBreakdown
from nodeplan.routing.policies import RoutingPolicy, get_policy
from nodeplan.routing.scorers import ScoreContext, VerifierContext
from nodeplan.routing.state import RouterState
from nodeplan.routing.types import Request, Route
from nodeplan.scenario.model import Role, VerificationMode

__all__ = ["complete", "route"]

_PRODUCES_PROOF = (VerificationMode.TEE, VerificationMode.ZKML)
Parts = tuple[float, float, float, float, float]


class Decision(NamedTuple):
    """Everything a Route holds, as indices (cheap to build in a batch).

    ``tried`` lists the executors whose cost decided the choice (the chosen one alone without
    verifiers; every executor tried with verifiers); the batch router uses it to know which state
    changes can alter this decision.
    """

    request: Request
    model: int
    executor: int
    verifiers: tuple[int, ...]
    source: int
    parts: Parts
    price_usd: float
    meets_slo: bool
    report: IndependenceReport | None
    degraded: bool
    reason: str
    evicted: tuple[tuple[int, int], ...]
    tried: tuple[int, ...]


class _VerifierChoice(NamedTuple):
    """Verifiers for one executor: rows, verification ms, their price, their largest cost, the report."""

    rows: tuple[int, ...]
    verif_ms: float
    price_usd: float
    cost: float
    report: IndependenceReport
    degraded: bool
    reason: str


def route(
    request: Request, state: RouterState, *, commit: bool = True, policy: RoutingPolicy | None = None
) -> Route:
    """Choose where ``request`` runs under its policy; by default apply the choice to ``state``.

    Parameters
    ----------
    request : the request (model, user position, verification mode and K, SLO, policy name)
    state : live state; changed in place when ``commit`` is true
    commit : False = a dry run (the state is left as it was, except the random policy's generator)
    policy : a policy object to use instead of the registered ``request.policy`` (nothing is registered)

    Raises
    ------
    NoRouteError
        No live node can execute the model (the message counts why each node is ruled out).
    RoutingError
        Unknown model or policy, or a verification mode the model does not support.

    Examples
    --------
    >>> from nodeplan.scenario.model import Scenario, Node, Model
    >>> sc = Scenario(
    ...     nodes=[Node(id="paris", lat=48.86, lon=2.35, roles={"execution"}, warm_models=["m"]),
    ...            Node(id="tokyo", lat=35.68, lon=139.69, roles={"execution"}, warm_models=["m"])],
    ...     models=[Model(id="m", size_bytes=0, service_s={"cpu": 0.05})])
    >>> r = route(Request("m", 51.51, -0.13), RouterState.from_scenario(sc))   # a user in London
    >>> r.executor, round(r.time.service_ms, 1), r.time.network_ms < 25  # London-Paris: 344 km
    ('paris', 50.0, True)
    """
    if not isinstance(request, Request):
        raise RoutingError(f"request: expected a Request (got {type(request).__name__})")
    row = state.rtt_rows_ms((request.lat,), (request.lon,), (request.origin,))[0]
    dec = decide(request, state, row, policy if policy is not None else get_policy(request.policy))
    if commit:
        dec = commit_decision(dec, state, None)
    return to_route(dec, state)


def complete(route: Route, state: RouterState) -> None:
    """The request of a committed ``route`` has finished: free the slots it took."""
    state.release(route.executor)
    if route.verification is VerificationMode.REEXEC:
        for v in route.verifiers:
            state.release(v)


# -- the decision ------------------------------------------------------------------------------------
def total(parts: Parts) -> float:
    """Same sum, same order as :attr:`TimeBreakdown.total_ms` (so both give the same float)."""
    return parts[0] + parts[1] + parts[2] + parts[3] + parts[4]


def argmin_tiebreak(cost: NDArray[np.float64], state: RouterState, j: int) -> int:
    """Row of the smallest finite cost; ties to the lower price, then the lower row; -1 if none."""
    e = int(cost.argmin())
    best = cost[e]
    if not best < math.inf:  # inf or NaN
        if np.isnan(best):
            return argmin_tiebreak(np.where(np.isnan(cost), np.inf, cost), state, j)
        return -1
    same = cost == best
    if np.count_nonzero(same) > 1:
        ties = np.flatnonzero(same)
        price = state.price_usd[j, ties]
        e = int(ties[np.argmin(price)])
    return e


def top(cost: NDArray[np.float64], k: int, state: RouterState, j: int) -> list[int]:
    """Up to ``k`` rows of finite cost, ordered by (cost, price, row)."""
    finite = np.flatnonzero(np.isfinite(cost))
    if finite.size > k:
        part = finite[np.argpartition(cost[finite], k - 1)[:k]]
        kth = cost[part].max()
        finite = finite[cost[finite] <= kth]
    price = state.price_usd[j, finite]
    order = np.lexsort((finite, price, cost[finite]))[:k]
    return [int(x) for x in finite[order]]


def check_mode(state: RouterState, j: int, mode: VerificationMode) -> float:
    """Executor factor of ``mode`` for model column ``j``; :class:`RoutingError` if unsupported."""
    factor = state.factors.get((j, mode))
    if factor is None:
        model = state.models[j]
        ok = ", ".join(m.value for m in model.verification)
        raise RoutingError(
            f"verification: model {model.id!r} does not support {mode.value!r} (supports: {ok})"
        )
    return factor


def decide(req: Request, state: RouterState, rtt_row: NDArray[np.float64], policy: RoutingPolicy) -> Decision:
    """The policy's choice for ``req`` on the current state (nothing is changed but the RNG)."""
    j = state.model_col.get(req.model, -1)
    if j < 0:
        j = state.model_index(req.model)  # raises, naming close matches
    mode = req.verification
    factor = check_mode(state, j, mode)
    proof = mode if mode in _PRODUCES_PROOF else None  # the executor itself must produce the proof
    time = state.executor_time_ms(rtt_row, j, factor, proof)
    ctx = ScoreContext(state, req, j, mode, factor, rtt_row, time)
    cost = policy.executor_cost(ctx)
    k = req.verifiers
    slo = req.slo_ms
    if k == 0 or policy.executor_candidates == 1:
        e = argmin_tiebreak(cost, state, j)
        if e >= 0 and not time[e] < math.inf:  # a custom cost that forgot to mask ineligible nodes
            cost = np.where(np.isfinite(time), cost, np.inf)
            e = argmin_tiebreak(cost, state, j)
        if e < 0:
            raise NoRouteError(why_no_route(state, j, mode))
        if policy.slo_aware and slo is not None and not time[e] <= slo:
            within = np.where(time <= slo, cost, np.inf)
            e2 = argmin_tiebreak(within, state, j)
            e = e2 if e2 >= 0 else e
        if k == 0:
            return assemble(req, state, j, factor, rtt_row, e, None)
        return best_with_verifiers(
            req, state, j, factor, rtt_row, _scan_cost(cost, time, slo, policy), [e], policy
        )
    cost = _scan_cost(cost, time, slo, policy)
    candidates = top(cost, policy.executor_candidates, state, j)
    if not candidates:
        raise NoRouteError(why_no_route(state, j, mode))
    return best_with_verifiers(req, state, j, factor, rtt_row, cost, candidates, policy)


def best_with_verifiers(
    req: Request,
    state: RouterState,
    j: int,
    factor: float,
    rtt_row: NDArray[np.float64],
    cost: NDArray[np.float64],
    candidates: list[int],
    policy: RoutingPolicy,
) -> Decision:
    """The best route through ``candidates`` (executor rows in cost order) with verifiers.

    Routes rank by (SLO missed when the policy enforces it, degraded, executor cost + largest verifier
    cost, position). While the best route misses the SLO (SLO-aware policies) or is degraded (policies
    that enforce independence), further executors are tried in cost order, in blocks of doubling size,
    up to ``executor_scan_limit``.
    """
    best_key: tuple[bool, bool, float, int] | None = None
    best: tuple[int, _VerifierChoice] | None = None
    tried = list(candidates)
    block = candidates
    offset = 0
    order: NDArray[np.int64] | None = None
    while True:
        for pos, e in enumerate(block, start=offset):
            v = verifiers_for(req, state, j, e, policy)
            parts = _parts(state, j, factor, rtt_row, e, v.verif_ms)
            missed = _missed(policy, req, total(parts)) or (policy.slo_aware and len(v.rows) < req.verifiers)
            if missed and policy.enforce_independence:
                fast = fastest_verifiers_for(req, state, j, e, policy)
                if fast is not None and fast.verif_ms < v.verif_ms:
                    fast_total = total(_parts(state, j, factor, rtt_row, e, fast.verif_ms))
                    if not _missed(policy, req, fast_total):
                        why = (
                            f"independent verifiers would miss the SLO ({total(parts):,.0f} ms > "
                            f"{req.slo_ms:,.0f} ms); {fast.reason}"
                        )
                        v, missed = fast._replace(reason=why), False
            key = (missed, v.degraded, float(cost[e]) + v.cost, pos)
            if best_key is None or key < best_key:
                best_key, best = key, (e, v)
        if best is None or best_key is None:
            break
        more = (best_key[0] and policy.slo_aware) or (best[1].degraded and policy.enforce_independence)
        if not more:
            break
        if order is None:
            seen = set(tried)
            order = np.array(
                [x for x in _cost_order(cost, state, j).tolist() if x not in seen], dtype=np.int64
            )
            order = order[: max(0, policy.executor_scan_limit - len(tried))]
            done = 0
        if done >= order.size:
            break
        offset = len(tried)
        block = [int(x) for x in order[done : done + offset]]
        done += len(block)
        tried.extend(block)
    if best is None:  # unreachable: candidates is never empty
        raise NoRouteError(why_no_route(state, j, req.verification))
    e, v = best
    reason = v.reason
    if v.degraded and policy.enforce_independence:
        reason += f" (tried {len(tried)} executor(s) in cost order)"
    return assemble(req, state, j, factor, rtt_row, e, v._replace(reason=reason), tuple(tried))


def _missed(policy: RoutingPolicy, req: Request, total_ms: float) -> bool:
    """Whether a route of ``total_ms`` misses the request's SLO (only for SLO-aware policies)."""
    return policy.slo_aware and req.slo_ms is not None and not total_ms <= req.slo_ms


def _scan_cost(
    cost: NDArray[np.float64], time: NDArray[np.float64], slo: float | None, policy: RoutingPolicy
) -> NDArray[np.float64]:
    """Executor cost for ranking candidates: ``inf`` where a node cannot execute; restricted to the
    executors that meet the SLO when the policy enforces it and at least one does."""
    cost = np.where(np.isfinite(time), cost, np.inf)
    if policy.slo_aware and slo is not None:
        within = np.where(time <= slo, cost, np.inf)
        if np.isfinite(within).any():
            return within
    return cost


def _cost_order(cost: NDArray[np.float64], state: RouterState, j: int) -> NDArray[np.int64]:
    """Every row of finite cost, ordered by (cost, price, row): :func:`top` without a limit."""
    finite = np.flatnonzero(np.isfinite(cost))
    return finite[np.lexsort((finite, state.price_usd[j, finite], cost[finite]))]


def _parts(
    state: RouterState, j: int, factor: float, rtt_row: NDArray[np.float64], e: int, verif_ms: float
) -> Parts:
    return (
        float(rtt_row[e]),
        float(state.queue_ms[j, e]),
        float(state.cold_ms[j, e]),
        float(state.svc_ms[j, e] * factor),
        verif_ms,
    )


def assemble(
    req: Request,
    state: RouterState,
    j: int,
    factor: float,
    rtt_row: NDArray[np.float64],
    e: int,
    v: _VerifierChoice | None,
    tried: tuple[int, ...] = (),
) -> Decision:
    """The decision for executor ``e`` with verifier choice ``v`` (``None``: no verifiers)."""
    parts = _parts(state, j, factor, rtt_row, e, v.verif_ms if v else 0.0)
    slo = req.slo_ms
    # within the SLO, and checked by as many verifiers as asked (fewer can never meet it: see route())
    meets = (slo is None or total(parts) <= slo) and (v is None or len(v.rows) >= req.verifiers)
    price = float(state.price_usd[j, e] * factor) + (v.price_usd if v else 0.0)
    src = int(state.cold_source[j, e]) if parts[2] > 0 else -1
    if v is None:
        return Decision(req, j, e, (), src, parts, price, meets, None, False, "", (), tried or (e,))
    return Decision(
        req, j, e, v.rows, src, parts, price, meets, v.report, v.degraded, v.reason, (), tried or (e,)
    )


def verifiers_for(req: Request, state: RouterState, j: int, e: int, policy: RoutingPolicy) -> _VerifierChoice:
    """Verifiers for executor ``e`` (cached per executor for TEE/zkML under a static verifier cost)."""
    mode = req.verification
    cacheable = policy.static_verifier_cost and mode in _PRODUCES_PROOF
    if cacheable:
        key = (e, mode, req.verifiers, policy.verifier_cost, policy.enforce_independence, policy.name)
        hit = state.verifier_cache.get(key)
        if hit is not None:
            return hit  # type: ignore[return-value]
    sel, verif_ms, v_price, v_cost = _select(req, state, j, mode, e, policy)
    report = independence_report(state.indep_codes, state.indep_dims, state.arrays.node_ids, e, sel.rows)
    degraded, reason = _degraded(sel, report, req.verifiers, mode, policy)
    out = _VerifierChoice(sel.rows, verif_ms, v_price, v_cost, report, degraded, reason)
    if cacheable:
        state.verifier_cache[key] = out
    return out


def fastest_verifiers_for(
    req: Request, state: RouterState, j: int, e: int, policy: RoutingPolicy
) -> _VerifierChoice | None:
    """The ``K`` cheapest verifiers for executor ``e`` by the policy's verifier cost, whatever they share
    (a degraded route: the router takes it only when the independent route would miss the SLO).
    ``None`` when fewer than ``K`` nodes can verify."""
    mode = req.verification
    cacheable = policy.static_verifier_cost and mode in _PRODUCES_PROOF
    key = ("fastest", e, mode, req.verifiers, policy.verifier_cost, policy.name)
    if cacheable:
        hit = state.verifier_cache.get(key)
        if hit is not None:
            return hit  # type: ignore[return-value]
    sel, verif_ms, v_price, v_cost = _select(req, state, j, mode, e, policy, enforce=False)
    out: _VerifierChoice | None = None
    if sel.status is SelectionStatus.OK:
        report = independence_report(state.indep_codes, state.indep_dims, state.arrays.node_ids, e, sel.rows)
        shares = [f"{'+'.join(p.shared)} ({p.a}~{p.b})" for p in report.pairs if p.shared]
        reason = "the fastest verifiers share " + ("; ".join(shares) if shares else "nothing")
        out = _VerifierChoice(sel.rows, verif_ms, v_price, v_cost, report, bool(shares), reason)
    if cacheable:
        state.verifier_cache[key] = out
    return out


def _select(
    req: Request,
    state: RouterState,
    j: int,
    mode: VerificationMode,
    e: int,
    policy: RoutingPolicy,
    *,
    enforce: bool | None = None,
) -> tuple[Selection, float, float, float]:
    """Select verifiers for executor ``e``: (selection, verification ms, their price USD, max cost).

    ``enforce`` overrides the policy's independence rule (``False``: the ``K`` cheapest)."""
    vtime, vprice = state.verifier_times(j, mode, e)
    hop = state.hop_rtt_ms(e)
    vctx = VerifierContext(state, req, j, mode, 1.0, hop, vtime, executor=e, verify_price_usd=vprice)
    vcost = np.asarray(policy.verifier_cost(vctx), dtype=float)
    vcost = np.where(np.isfinite(vtime) & ~np.isnan(vcost), vcost, np.inf)
    enforce = policy.enforce_independence if enforce is None else enforce
    sel = select_independent(state.indep_codes, e, vcost, req.verifiers, enforce=enforce)
    if not sel.rows:
        return sel, 0.0, 0.0, 0.0
    rows = list(sel.rows)
    return sel, float(vtime[rows].max()), float(vprice[rows].sum()), float(vcost[rows].max())


def _degraded(
    sel: Selection, report: IndependenceReport, k: int, mode: VerificationMode, policy: RoutingPolicy
) -> tuple[bool, str]:
    shares = [f"{'+'.join(p.shared)} ({p.a}~{p.b})" for p in report.pairs if p.shared]
    shared = "; ".join(shares) if shares else "nothing"
    dims = ", ".join(report.dims)
    if sel.status is SelectionStatus.TOO_FEW:
        return True, (
            f"only {sel.eligible} live node(s) can verify {mode.value!r} for this executor, {k} asked; "
            f"best available shares {shared}"
        )
    if sel.status is SelectionStatus.NO_COMPLIANT_SET:
        return True, (
            f"no {k} verifier(s) for {mode.value!r} share none of ({dims}) with the executor and each other; "
            f"best available shares {shared}"
        )
    if sel.status is SelectionStatus.BUDGET:
        return True, f"search for {k} independent verifier(s) gave up; best available shares {shared}"
    if not report.compliant:
        return True, f"policy {policy.name!r} does not check independence; its verifiers share {shared}"
    return False, ""


def commit_decision(
    dec: Decision, state: RouterState, changes: list[tuple[int, int, int]] | None
) -> Decision:
    """Apply ``dec`` to ``state``: slots, warmth, LRU eviction. Returns it with ``evicted`` filled in.

    When ``changes`` is a list, append ``(node row, model column, direction)`` for every entry whose
    queue or cold-start time changed: direction ``+1`` when it grew, ``-1`` when it shrank (or the
    parts moved with an equal sum).
    """
    j = dec.model
    rows = (
        (dec.executor, *dec.verifiers)
        if dec.request.verification is VerificationMode.REEXEC
        else (dec.executor,)
    )
    evicted: list[tuple[int, int]] = []
    for i in rows:
        watch = changes is not None and (
            not state.warm[i, j] or state.in_flight[i] + 1 >= state.capacity[i] or state.load_rps[i] > 0
        )
        if not watch:
            evicted.extend((i, c) for c in state.use(i, j))
            continue
        q0, c0 = state.queue_ms[:, i].tolist(), state.cold_ms[:, i].tolist()
        evicted.extend((i, c) for c in state.use(i, j))
        q1, c1 = state.queue_ms[:, i].tolist(), state.cold_ms[:, i].tolist()
        for col, (a0, b0, a1, b1) in enumerate(zip(q0, c0, q1, c1, strict=True)):
            if a0 != a1 or b0 != b1:
                changes.append((i, col, 1 if a1 + b1 > a0 + b0 else -1))  # type: ignore[union-attr]
    return dec._replace(evicted=tuple(evicted)) if evicted else dec


def why_no_route(state: RouterState, j: int, mode: VerificationMode) -> str:
    """Why no node can execute model column ``j`` under ``mode``: counts at each filter."""
    a = state.arrays
    model = state.models[j]
    ex = a.role(Role.EXECUTION)
    live = ex & state.up
    slots = live & (a.capacity > 0)
    runs = slots & np.isfinite(state.service_s[j])
    gets = runs & np.isfinite(state.cold_ms[j])
    text = (
        f"no live node can execute model {model.id!r}: execution nodes {int(ex.sum())}, up {int(live.sum())}, "
        f"with slots {int(slots.sum())}, with hardware/memory for it {int(runs.sum())}, "
        f"holding it or able to fetch it from a live storage replica {int(gets.sum())}"
    )
    if mode in _PRODUCES_PROOF:
        text += f", supporting {mode.value!r} {int((gets & state.mode_cols[mode]).sum())}"
    return text


def to_route(d: Decision, state: RouterState) -> Route:
    """The public :class:`Route` of decision ``d``."""
    ids = state.arrays.node_ids
    mids = state.arrays.model_ids
    report = d.report or IndependenceReport(state.indep_dims, ())
    return Route(
        model=mids[d.model],
        policy=d.request.policy,
        verification=d.request.verification,
        executor=ids[d.executor],
        verifiers=tuple(ids[v] for v in d.verifiers),
        source=ids[d.source] if d.source >= 0 else None,
        time=TimeBreakdown(*d.parts),
        price_usd=d.price_usd,
        slo_ms=d.request.slo_ms,
        meets_slo=d.meets_slo,
        independence=report,
        degraded=d.degraded,
        reason=d.reason,
        evicted=tuple(f"{ids[i]}:{mids[c]}" for i, c in d.evicted),
    )
