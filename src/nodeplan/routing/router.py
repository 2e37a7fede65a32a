"""``route(request, state) -> Route``: choose executor, verifiers and model source for one request.

Expected time of a route (ms), the parts of :class:`~nodeplan.latency.timing.TimeBreakdown`:

* **network**: RTT user -> executor (public-internet fit of :mod:`nodeplan.latency.rtt`);
* **queue**: wait for a slot at the executor (see :mod:`nodeplan.routing.state`);
* **cold start**: 0 when the model is warm there, otherwise read from its disk or fetched from the
  live storage replica that delivers it soonest, plus load and init
  (:func:`~nodeplan.latency.timing.cold_start_s`);
* **service**: the model's service time on the executor's hardware x the executor factor of the mode
  (TEE 2-3x, zkML 100-1000x, 1 for ``none`` and ``reexec``);
* **verification**: the verifiers work in parallel, so the slowest of them counts; for one verifier,
  RTT executor -> verifier (provider backbone when both share a provider) + its check: the TEE
  attestation or zkML proof check time (:func:`~nodeplan.latency.timing.verify_check_s`), or, for
  ``reexec``, re-running the call there: its queue wait + its cold start when the model is not warm
  there + its own service time.

Price of a route (USD) = sum over the executor and the verifiers of
``price_usd_per_hour / capacity x seconds of work / 3600`` (one slot for the service time; for a TEE or
zkML verifier the check time, for a re-executing one its service time). Cold-start time is not billed.

Committing a route (the default) changes the state: the executor takes a slot and warms the model
(LRU eviction); re-executing verifiers do the same. :func:`complete` gives the slots back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple, overload

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import NoRouteError, RoutingError
from nodeplan.latency.timing import TimeBreakdown, verify_check_s
from nodeplan.routing.independence import Selection, SelectionStatus, independence_report, select_independent
from nodeplan.routing.policies import RoutingPolicy, get_policy
from nodeplan.routing.scorers import ScoreContext, VerifierContext
from nodeplan.routing.state import RouterState
from nodeplan.routing.types import IndependenceReport, Request, Route
from nodeplan.scenario.model import Role, VerificationMode

__all__ = ["RouteBatch", "complete", "route", "route_batch"]

_PRODUCES_PROOF = (VerificationMode.TEE, VerificationMode.ZKML)
_BATCH_CELLS = 4_000_000  # RTT matrix cells computed at once by route_batch (32 MB)


class _Decision(NamedTuple):
    """Everything a Route holds, as indices (cheap to build in the batch loop)."""

    request: Request
    model: int
    executor: int
    verifiers: tuple[int, ...]
    source: int
    parts: tuple[float, float, float, float, float]
    price_usd: float
    meets_slo: bool
    report: IndependenceReport | None
    degraded: bool
    reason: str
    evicted: tuple[tuple[int, int], ...]


def route(request: Request, state: RouterState, *, commit: bool = True) -> Route:
    """Choose where ``request`` runs under its policy; by default apply the choice to ``state``.

    Parameters
    ----------
    request : the request (model, user position, verification mode and K, SLO, policy name)
    state : live state; changed in place when ``commit`` is true
    commit : False = a dry run (the state is left as it was, except the random policy's generator)

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
    row = state.rtt_rows_ms((request.lat,), (request.lon,))[0]
    return _to_route(_decide(request, state, row, get_policy(request.policy), commit), state)


def route_batch(requests: Iterable[Request], state: RouterState, *, commit: bool = True) -> RouteBatch:
    """Route many requests in order; the same answers as calling :func:`route` on each in turn.

    Each request sees the state left by the ones before it (sequential semantics). What does not
    depend on the state is computed for many requests at once: the RTT matrix from every distinct
    user position to every node (in blocks of about 4 M cells); per-model cold-start, queue and
    service vectors live in ``state`` and are updated entry by entry as routes are committed.
    Route objects are built on access (:class:`RouteBatch`).

    Policy names are all checked before routing starts. A request that cannot be routed raises
    :class:`NoRouteError` (or :class:`RoutingError` for an unsupported mode) naming its position; the
    routes before it have already changed ``state``, exactly as one-by-one routing would.
    """
    reqs = list(requests)
    for pos, r in enumerate(reqs):
        if not isinstance(r, Request):
            raise RoutingError(f"requests[{pos}]: expected a Request (got {type(r).__name__})")
    policies: dict[str, RoutingPolicy] = {}
    for r in reqs:
        if r.policy not in policies:
            policies[r.policy] = get_policy(r.policy)
    decisions: list[_Decision] = []
    append = decisions.append
    block = max(1, _BATCH_CELLS // max(state.n_nodes, 1))
    for start in range(0, len(reqs), block):
        chunk = reqs[start : start + block]
        where: dict[tuple[float, float], int] = {}
        slots = [where.setdefault((r.lat, r.lon), len(where)) for r in chunk]
        rows = state.rtt_rows_ms([p[0] for p in where], [p[1] for p in where])
        row_views = list(rows)  # one view per distinct position, reused by every request from there
        try:
            for r, slot in zip(chunk, slots, strict=True):
                append(_decide(r, state, row_views[slot], policies[r.policy], commit))
        except (NoRouteError, RoutingError) as exc:
            raise type(exc)(f"requests[{len(decisions)}]: {exc}") from None
    return RouteBatch(decisions, state)


def complete(route: Route, state: RouterState) -> None:
    """The request of a committed ``route`` has finished: free the slots it took."""
    state.release(route.executor)
    if route.verification is VerificationMode.REEXEC:
        for v in route.verifiers:
            state.release(v)


class RouteBatch(Sequence[Route]):
    """The routes of :func:`route_batch`, in request order; each :class:`Route` is built on access."""

    def __init__(self, decisions: list[_Decision], state: RouterState) -> None:
        self._decisions = decisions
        self._state = state

    def __len__(self) -> int:
        return len(self._decisions)

    @overload
    def __getitem__(self, index: int) -> Route: ...
    @overload
    def __getitem__(self, index: slice) -> list[Route]: ...
    def __getitem__(self, index: int | slice) -> Route | list[Route]:
        if isinstance(index, slice):
            return [_to_route(d, self._state) for d in self._decisions[index]]
        return _to_route(self._decisions[index], self._state)

    @property
    def executor_rows(self) -> NDArray[np.int64]:
        """(B,) node row of each route's executor."""
        return np.array([d.executor for d in self._decisions], dtype=np.int64)

    @property
    def total_ms(self) -> NDArray[np.float64]:
        """(B,) expected completion time of each route, ms."""
        return np.array([_total(d.parts) for d in self._decisions])


# -- the decision ------------------------------------------------------------------------------------
def _total(parts: tuple[float, float, float, float, float]) -> float:
    """Same sum, same order as :attr:`TimeBreakdown.total_ms` (so both give the same float)."""
    return parts[0] + parts[1] + parts[2] + parts[3] + parts[4]


def _argmin_tiebreak(cost: NDArray[np.float64], state: RouterState, j: int, factor: float) -> int:
    """Row of the smallest finite cost; ties to the lower price, then the lower row; -1 if none."""
    e = int(cost.argmin())
    best = cost[e]
    if not best < math.inf:  # inf or NaN
        if np.isnan(best):
            return _argmin_tiebreak(np.where(np.isnan(cost), np.inf, cost), state, j, factor)
        return -1
    same = cost == best
    if np.count_nonzero(same) > 1:
        ties = np.flatnonzero(same)
        price = state.price_usd[j, ties]
        e = int(ties[np.argmin(price)])
    return e


def _top(cost: NDArray[np.float64], k: int, state: RouterState, j: int) -> list[int]:
    """Up to ``k`` rows of finite cost, ordered by (cost, price, row)."""
    finite = np.flatnonzero(np.isfinite(cost))
    if finite.size > k:
        part = finite[np.argpartition(cost[finite], k - 1)[:k]]
        kth = cost[part].max()
        finite = finite[cost[finite] <= kth]
    price = state.price_usd[j, finite]
    order = np.lexsort((finite, price, cost[finite]))[:k]
    return [int(x) for x in finite[order]]


def _decide(
    req: Request, state: RouterState, rtt_row: NDArray[np.float64], policy: RoutingPolicy, commit: bool
) -> _Decision:
    j = state.model_col.get(req.model, -1)
    if j < 0:
        j = state.model_index(req.model)  # raises, naming close matches
    mode = req.verification
    factor = state.factors.get((j, mode))
    if factor is None:
        model = state.models[j]
        ok = ", ".join(m.value for m in model.verification)
        raise RoutingError(
            f"verification: model {model.id!r} does not support {mode.value!r} (supports: {ok})"
        )
    if factor == 1.0:
        time = rtt_row + state.base_ms[j]
    else:
        time = rtt_row + state.qc_ms[j]
        time += state.svc_ms[j] * factor
    if mode in _PRODUCES_PROOF:  # the executor itself must produce the attestation / proof
        time = np.where(state.mode_cols[mode], time, np.inf)
    ctx = ScoreContext(state, req, j, mode, factor, rtt_row, time)
    cost = policy.executor_cost(ctx)
    k = req.verifiers
    slo = req.slo_ms
    if k == 0 or policy.executor_candidates == 1:
        e = _argmin_tiebreak(cost, state, j, factor)
        if e >= 0 and not time[e] < math.inf:  # a custom cost that forgot to mask ineligible nodes
            cost = np.where(np.isfinite(time), cost, np.inf)
            e = _argmin_tiebreak(cost, state, j, factor)
        if e < 0:
            raise NoRouteError(_why_no_route(state, j, mode))
        if policy.slo_aware and slo is not None and not time[e] <= slo:
            within = np.where(time <= slo, cost, np.inf)
            e2 = _argmin_tiebreak(within, state, j, factor)
            e = e2 if e2 >= 0 else e
        candidates = [e]
    else:
        cost = np.where(np.isfinite(time), cost, np.inf)
        if policy.slo_aware and slo is not None:
            within = np.where(time <= slo, cost, np.inf)
            if np.isfinite(within).any():
                cost = within
        candidates = _top(cost, policy.executor_candidates, state, j)
        if not candidates:
            raise NoRouteError(_why_no_route(state, j, mode))

    if k == 0:
        dec = _assemble(req, state, j, factor, rtt_row, candidates[0], _NO_VERIFIERS, None, False, "")
    else:
        best: tuple[tuple[bool, bool, float, int], _Decision] | None = None
        for order, e in enumerate(candidates):
            sel, verif_ms, v_price, v_cost = _verifiers(req, state, j, mode, e, policy)
            ids = state.arrays.node_ids
            report = independence_report(state.indep_codes, state.indep_dims, ids, e, sel.rows)
            degraded, reason = _degraded(sel, report, k, mode, policy)
            dec = _assemble(
                req, state, j, factor, rtt_row, e, (sel.rows, verif_ms, v_price), report, degraded, reason
            )
            key = (degraded, policy.slo_aware and not dec.meets_slo, float(cost[e]) + v_cost, order)
            if best is None or key < best[0]:
                best = (key, dec)
        if best is None:  # unreachable: candidates is never empty here
            raise NoRouteError(_why_no_route(state, j, mode))
        dec = best[1]
    if commit:
        evicted = [(dec.executor, c) for c in state.use(dec.executor, j)]
        if mode is VerificationMode.REEXEC:
            for v in dec.verifiers:
                evicted.extend((v, c) for c in state.use(v, j))
        if evicted:
            dec = dec._replace(evicted=tuple(evicted))
    return dec


_NO_VERIFIERS: tuple[tuple[int, ...], float, float] = ((), 0.0, 0.0)


def _assemble(
    req: Request,
    state: RouterState,
    j: int,
    factor: float,
    rtt_row: NDArray[np.float64],
    e: int,
    verif: tuple[tuple[int, ...], float, float],
    report: IndependenceReport | None,
    degraded: bool,
    reason: str,
) -> _Decision:
    """The decision for executor ``e`` with verifiers ``(rows, verification ms, their price)``."""
    rows, verif_ms, v_price = verif
    cold = float(state.cold_ms[j, e])
    parts = (
        float(rtt_row[e]),
        float(state.queue_ms[j, e]),
        cold,
        float(state.svc_ms[j, e] * factor),
        verif_ms,
    )
    slo = req.slo_ms
    meets = slo is None or parts[0] + parts[1] + parts[2] + parts[3] + parts[4] <= slo
    price = float(state.price_usd[j, e] * factor) + v_price
    src = int(state.cold_source[j, e]) if cold > 0 else -1
    return _Decision(req, j, e, rows, src, parts, price, meets, report, degraded, reason, ())


def _verifiers(
    req: Request, state: RouterState, j: int, mode: VerificationMode, e: int, policy: RoutingPolicy
) -> tuple[Selection, float, float, float]:
    """Select verifiers for executor ``e``: (selection, verification ms, their price USD, max cost)."""
    hop = state.hop_rtt_ms(e)
    ok = state.ver_ok[mode]
    if mode is VerificationMode.REEXEC:
        ok = ok & (state.capacity > 0)
        work = state.queue_ms[j] + state.cold_ms[j] + state.svc_ms[j]
        vtime = np.where(ok, hop + work, np.inf)
        vprice = state.price_usd[j]
    else:
        check_s = verify_check_s(mode, state.params)
        vtime = np.where(ok, hop + check_s * 1000.0, np.inf)
        vprice = state.price_rate * check_s
    vtime[e] = np.inf
    vctx = VerifierContext(state, req, j, mode, 1.0, hop, vtime, executor=e, verify_price_usd=vprice)
    vcost = np.asarray(policy.verifier_cost(vctx), dtype=float)
    vcost = np.where(np.isfinite(vtime) & ~np.isnan(vcost), vcost, np.inf)
    sel = select_independent(state.indep_codes, e, vcost, req.verifiers, enforce=policy.enforce_independence)
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


def _why_no_route(state: RouterState, j: int, mode: VerificationMode) -> str:
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


def _to_route(d: _Decision, state: RouterState) -> Route:
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
