"""``route_batch``: route many requests at once, with the same answers as routing them one by one.

How it stays exact while being vectorised
-----------------------------------------
Requests are taken in chunks. For each chunk, against the state at the start of the chunk:

1. the RTT row of every distinct user position (``(lat, lon, origin)``) is computed in one numpy
   expression (element by element, so a row is bit-identical to the one :func:`~nodeplan.routing.route`
   computes);
2. requests under a policy whose executor cost is the ``nodeplan`` one are grouped by what their
   decision depends on (position, model, mode, K, SLO, policy); the ``(groups x nodes)`` matrix of
   expected time and cost is built in one expression (RTT + queue + cold start + service x factor,
   + price weight x price), and the executor is the ``argmin`` along each row, with the SLO filter,
   ties to the lower price then the lower row. With verifiers, the policy's best executors come from
   one ``argpartition`` along the rows; verifier sets for TEE/zkML are cached per executor in the state;
3. requests under other policies, and groups that tie at the candidate boundary or find no executor,
   are decided one by one at their turn (so errors are raised at the right position).

With ``commit=False`` the state does not change, so every decision of step 2 stands. With
``commit=True`` the requests are committed in order; a commit that changes a queue or cold-start time
(a cold start that warms or evicts, a slot count past capacity, re-execution) is recorded as
``(node, model, grew or shrank)``, and a later request of the chunk is decided again at its turn when
that change can alter its decision: same model, and the node was one of the executors its decision
rested on, or the time shrank (the node may now attract it), or it asks for re-execution (its verifiers
read every node's queue and cold start). A time that grew at a node the decision did not rest on cannot
change it: that node was already worse. Commits that only move a counter below capacity change nothing.

Above 5,000 nodes the ``(groups x nodes)`` matrices no longer fit in the CPU cache and the O(n) work
per request dominates, so requests are decided one by one (RTT rows still shared per position).
When commits undo more than a quarter of a chunk's planned decisions (every request changes the state,
e.g. nodes past capacity), the next chunks are routed one by one without planning (1, 2, 4, ... up to
64 chunks before planning is tried again): the answers are the same either way, only the speed differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import NoRouteError, RoutingError
from nodeplan.routing.policies import NODEPLAN_EXECUTOR_COST, RoutingPolicy, get_policy
from nodeplan.routing.router import (
    Decision,
    argmin_tiebreak,
    assemble,
    best_with_verifiers,
    commit_decision,
    decide,
    to_route,
    top,
    total,
)
from nodeplan.routing.state import RouterState
from nodeplan.routing.types import Request, Route
from nodeplan.scenario.model import VerificationMode

__all__ = ["RouteBatch", "route_batch"]

_CELLS = 1_000_000  # (requests x nodes) cells per planned chunk: (groups x nodes) matrices stay small
_PLAN_MAX_NODES = 5_000  # above this a (groups x nodes) matrix leaves the cache and planning loses
_ROW_CELLS = 4_000_000  # RTT-row cells per chunk when requests are decided one by one (32 MB)
_COMMIT_CHUNK = 256  # requests per chunk when committing (later ones may have to be decided again)
_PROOF = (VerificationMode.TEE, VerificationMode.ZKML)


def route_batch(requests: Iterable[Request], state: RouterState, *, commit: bool = True) -> RouteBatch:
    """Route many requests in order; the same answers as calling :func:`route` on each in turn.

    Each request sees the state left by the ones before it (sequential semantics); the work is
    vectorised across requests as the module docstring explains. Route objects are built on access
    (:class:`RouteBatch`).

    Policy names are all checked before routing starts. A request that cannot be routed raises
    :class:`NoRouteError` (or :class:`RoutingError` for an unsupported mode) naming its position; the
    routes before it have already changed ``state``, exactly as one-by-one routing would.

    Examples
    --------
    >>> from nodeplan.scenario.model import Scenario, Node, Model
    >>> sc = Scenario(
    ...     nodes=[Node(id="paris", lat=48.86, lon=2.35, roles={"execution"}, warm_models=["m"]),
    ...            Node(id="tokyo", lat=35.68, lon=139.69, roles={"execution"}, warm_models=["m"])],
    ...     models=[Model(id="m", size_bytes=0, service_s={"cpu": 0.05})])
    >>> batch = route_batch([Request("m", 51.5, -0.1), Request("m", 35.0, 135.0)], RouterState.from_scenario(sc))
    >>> [r.executor for r in batch]
    ['paris', 'tokyo']
    """
    reqs = list(requests)
    for pos, r in enumerate(reqs):
        if not isinstance(r, Request):
            raise RoutingError(f"requests[{pos}]: expected a Request (got {type(r).__name__})")
    policies: dict[str, RoutingPolicy] = {}
    for r in reqs:
        if r.policy not in policies:
            policies[r.policy] = get_policy(r.policy)
    decisions: list[Decision] = []
    n = max(state.n_nodes, 1)
    plan = n <= _PLAN_MAX_NODES
    block = max(1, _CELLS // n) if plan else max(1, _ROW_CELLS // n)
    if commit and plan:
        block = min(block, _COMMIT_CHUNK)
    skip, backoff = 0, 1
    try:
        for start in range(0, len(reqs), block):
            chunk = reqs[start : start + block]
            if skip or not plan:  # one by one: large networks, or commits undid most planned decisions
                skip = max(skip - 1, 0)
                _route_sequential(chunk, state, policies, commit, decisions)
                continue
            planned, undone = _route_chunk(chunk, state, policies, commit, decisions)
            if commit and undone * 4 > planned:
                skip, backoff = backoff, min(backoff * 2, 64)
            else:
                backoff = 1
    except (NoRouteError, RoutingError) as exc:
        raise type(exc)(f"requests[{len(decisions)}]: {exc}") from None
    return RouteBatch(decisions, state)


class RouteBatch(Sequence[Route]):
    """The routes of :func:`route_batch`, in request order; each :class:`Route` is built on access."""

    def __init__(self, decisions: list[Decision], state: RouterState) -> None:
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
            return [to_route(d, self._state) for d in self._decisions[index]]
        return to_route(self._decisions[index], self._state)

    @property
    def executor_rows(self) -> NDArray[np.int64]:
        """(B,) node row of each route's executor."""
        return np.array([d.executor for d in self._decisions], dtype=np.int64)

    @property
    def total_ms(self) -> NDArray[np.float64]:
        """(B,) expected completion time of each route, ms."""
        return np.array([total(d.parts) for d in self._decisions])


def _rtt_rows(chunk: list[Request], state: RouterState) -> tuple[list[int], NDArray[np.float64]]:
    """Row of each request into the RTT matrix of the chunk's distinct user positions."""
    where: dict[tuple[float, float, str | None], int] = {}
    slots = [where.setdefault((r.lat, r.lon, r.origin), len(where)) for r in chunk]
    pts = list(where)
    return slots, state.rtt_rows_ms([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts])


def _route_sequential(
    chunk: list[Request],
    state: RouterState,
    policies: dict[str, RoutingPolicy],
    commit: bool,
    out: list[Decision],
) -> None:
    """One by one on the live state (RTT rows still shared by requests from the same position)."""
    slots, rows = _rtt_rows(chunk, state)
    for r, slot in zip(chunk, slots, strict=True):
        d = decide(r, state, rows[slot], policies[r.policy])
        out.append(commit_decision(d, state, None) if commit else d)


def _route_chunk(
    chunk: list[Request],
    state: RouterState,
    policies: dict[str, RoutingPolicy],
    commit: bool,
    out: list[Decision],
) -> tuple[int, int]:
    """Route ``chunk`` into ``out``; returns (decisions planned, planned decisions undone by commits)."""
    slots, rows = _rtt_rows(chunk, state)
    planned = _plan(chunk, slots, rows, state, policies)
    n_planned = sum(d is not None for d in planned)
    if not commit:
        for r, slot, d in zip(chunk, slots, planned, strict=True):
            out.append(d if d is not None else decide(r, state, rows[slot], policies[r.policy]))
        return n_planned, 0
    seen = _Changes(len(state.models))
    changes: list[tuple[int, int, int]] = []
    undone = 0
    for r, slot, d in zip(chunk, slots, planned, strict=True):
        if d is None or seen.invalidates(d):
            undone += d is not None
            d = decide(r, state, rows[slot], policies[r.policy])
        d = commit_decision(d, state, changes)
        if changes:
            seen.add(changes)
            changes.clear()
        out.append(d)
    return n_planned, undone


class _Changes:
    """Queue and cold-start changes committed since the start of a chunk, by model column."""

    def __init__(self, n_models: int) -> None:
        self.any = [False] * n_models
        self.shrank = [False] * n_models
        self.grew: list[set[int]] = [set() for _ in range(n_models)]

    def add(self, changes: list[tuple[int, int, int]]) -> None:
        """Record ``(node, model column, +1 grew / -1 shrank)`` changes."""
        for i, col, direction in changes:
            self.any[col] = True
            if direction < 0:
                self.shrank[col] = True
            else:
                self.grew[col].add(i)

    def invalidates(self, d: Decision) -> bool:
        """Whether the recorded changes may alter decision ``d`` (taken at the start of the chunk).

        Only changes for ``d``'s model matter. A time that shrank anywhere may attract the request; a
        time that grew matters at the executors ``d`` rested on, or anywhere for re-execution (its
        verifiers read every node's queue and cold start).
        """
        col = d.model
        if not self.any[col]:
            return False
        if self.shrank[col]:
            return True
        req = d.request
        if req.verification is VerificationMode.REEXEC and req.verifiers > 0:
            return True
        grew = self.grew[col]
        return any(e in grew for e in d.tried)


def _plan(
    chunk: list[Request],
    slots: list[int],
    rows: NDArray[np.float64],
    state: RouterState,
    policies: dict[str, RoutingPolicy],
) -> list[Decision | None]:
    """Vectorised decisions on the current state for the requests it can take; ``None`` elsewhere."""
    groups: dict[tuple[object, ...], int] = {}
    first: list[int] = []
    gidx: list[int] = []
    for t, r in enumerate(chunk):
        pol = policies[r.policy]
        j = state.model_col.get(r.model, -1)
        if (
            pol.executor_cost is not NODEPLAN_EXECUTOR_COST
            or j < 0
            or (j, r.verification) not in state.factors
            or (r.verifiers > 0 and pol.executor_candidates == 1)
        ):
            gidx.append(-1)
            continue
        key = (slots[t], j, r.verification, r.verifiers, r.slo_ms, r.policy)
        g = groups.setdefault(key, len(groups))
        if g == len(first):
            first.append(t)
        gidx.append(g)
    if not groups:
        return [None] * len(chunk)
    reps = [chunk[t] for t in first]
    slot_g = np.array([slots[t] for t in first], dtype=np.int64)
    j_g = np.array([state.model_col[r.model] for r in reps], dtype=np.int64)
    fac_g = np.array([state.factors[(state.model_col[r.model], r.verification)] for r in reps])
    # expected time and cost, (groups x nodes), each element as route() computes it
    time = np.empty((len(reps), state.n_nodes))
    for g, r in enumerate(reps):
        proof = r.verification if r.verification in _PROOF else None
        time[g] = state.executor_time_ms(rows[slot_g[g]], int(j_g[g]), float(fac_g[g]), proof)
    other = np.flatnonzero(fac_g != 1.0)
    w = state.scenario.policy.price_weight_ms_per_usd
    if w == 0:
        cost = time
    else:
        price = np.take(state.price_usd, j_g, axis=0)
        if other.size:
            price[other] = price[other] * fac_g[other, None]
        cost = time + w * price
    slo = np.array(
        [r.slo_ms if r.slo_ms is not None and policies[r.policy].slo_aware else np.inf for r in reps]
    )
    decided: list[Decision | None] = [None] * len(reps)
    k_g = np.array([r.verifiers for r in reps])
    grp = _Groups(reps, j_g, fac_g, slot_g, rows)
    _plan_executor_only(np.flatnonzero(k_g == 0), grp, time, cost, slo, state, decided)
    g_ver = np.flatnonzero(k_g > 0)
    if g_ver.size:
        # candidates are ranked among the executors that meet the SLO when at least one does
        c_ver = cost[g_ver]
        g_slo = np.flatnonzero(np.isfinite(slo[g_ver]))
        if g_slo.size:
            within = np.where(time[g_ver[g_slo]] <= slo[g_ver[g_slo], None], c_ver[g_slo], np.inf)
            keep = np.isfinite(within).any(axis=1)
            c_ver[g_slo[keep]] = within[keep]
        _plan_with_verifiers(g_ver, grp, c_ver, state, policies, decided)
    out: list[Decision | None] = []
    for t, g in enumerate(gidx):
        d = decided[g] if g >= 0 else None
        if d is not None and t != first[g]:
            d = d._replace(request=chunk[t])
        out.append(d)
    return out


@dataclass(frozen=True, eq=False)
class _Groups:
    """The request groups of one planned chunk: representative, model column, factor, RTT row."""

    reps: list[Request]
    j: NDArray[np.int64]
    fac: NDArray[np.float64]
    slot: NDArray[np.int64]
    rows: NDArray[np.float64]

    def assemble(self, g: int, state: RouterState, ex: int) -> Decision:
        """The executor-only decision of group ``g`` on executor row ``ex``."""
        return assemble(
            self.reps[g], state, int(self.j[g]), float(self.fac[g]), self.rows[self.slot[g]], ex, None
        )


def _plan_executor_only(
    gs: NDArray[np.int64],
    grp: _Groups,
    time: NDArray[np.float64],
    cost: NDArray[np.float64],
    slo: NDArray[np.float64],
    state: RouterState,
    decided: list[Decision | None],
) -> None:
    """Groups without verifiers: the steps of route(), on every group's row at once."""
    if not gs.size:
        return
    c = cost[gs] if gs.size < cost.shape[0] else cost
    e = c.argmin(axis=1)
    at = np.arange(gs.size)
    best = c[at, e]
    ties = np.count_nonzero(c == best[:, None], axis=1) > 1
    for pos, g in enumerate(gs.tolist()):
        if not best[pos] < np.inf:  # no executor (or NaN): route() raises at this request's turn
            continue
        j = int(grp.j[g])
        ex = int(e[pos])
        if ties[pos]:  # lower price, then lower row
            ex = argmin_tiebreak(c[pos], state, j)
        if not time[g, ex] <= slo[g]:  # the best misses the SLO: the best among those that meet it
            ex2 = argmin_tiebreak(np.where(time[g] <= slo[g], c[pos], np.inf), state, j)
            ex = ex2 if ex2 >= 0 else ex
        decided[g] = grp.assemble(g, state, ex)


def _plan_with_verifiers(
    gs: NDArray[np.int64],
    grp: _Groups,
    cost: NDArray[np.float64],
    state: RouterState,
    policies: dict[str, RoutingPolicy],
    decided: list[Decision | None],
) -> None:
    c = cost
    n = c.shape[1]
    reps = grp.reps
    for want in sorted({policies[reps[g].policy].executor_candidates for g in gs.tolist()}):
        sel = np.array(
            [p for p, g in enumerate(gs.tolist()) if policies[reps[g].policy].executor_candidates == want]
        )
        cs = c[sel]
        if want < n:
            part = np.argpartition(cs, want - 1, axis=1)[:, :want]
        else:
            part = np.broadcast_to(np.arange(n), (sel.size, n))
        vals = np.take_along_axis(cs, part, axis=1)
        kth = vals.max(axis=1)
        clean = np.isfinite(kth) & ((cs <= kth[:, None]).sum(axis=1) == part.shape[1])
        for q, p in enumerate(sel.tolist()):
            g = int(gs[p])
            req, j = reps[g], int(grp.j[g])
            if clean[q]:
                idx = part[q]
                order = np.lexsort((idx, state.price_usd[j, idx], vals[q]))
                cands = [int(x) for x in idx[order]]
            else:  # ties at the boundary, or fewer finite executors than wanted
                cands = top(c[p], want, state, j)
                if not cands:
                    continue  # no executor: route() raises at this request's turn
            decided[g] = best_with_verifiers(
                req, state, j, float(grp.fac[g]), grp.rows[grp.slot[g]], c[p], cands, policies[req.policy]
            )
