"""Heuristic warm-replica placement for large instances: per model, greedy + swap that respects the rules.

Models are placed one after the other, largest first (they are the hardest to fit in GPU memory). For
model ``m`` the sites are chosen by :func:`~nodeplan.placement.heuristics.pmedian_heuristic` on the cost
``r_c x t_ci / R`` (ms of the demand-weighted mean; ``inf`` outside the SLO or where the node cannot
serve the client) with site cost ``lambda x price`` for nodes not yet used by an earlier model, among
candidates whose remaining GPU memory holds the model. Replica-share and min-distinct rules are kept by
the greedy step (a partial set must stay completable) and by every swap (only feasible swaps apply);
capacity-share rules are checked on each complete set.

Capacity enters the site choice through a congestion price (ms per slot-second of load, per node) that
:func:`~nodeplan.placement.place.place` raises on overloaded nodes between rounds; the requests are then
assigned by the exact assignment LP with the sites fixed (:func:`~nodeplan.placement.milp_place.build_placement_milp` with ``fix_open``), which
enforces capacity and SLO and reports :class:`~nodeplan.exceptions.InfeasiblePlacementError` when the
chosen sites cannot carry the load.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import InfeasiblePlacementError, SolverError
from nodeplan.placement.heuristics import SetCheck, pmedian_heuristic
from nodeplan.placement.problem import PlacementProblem, ShareOf

__all__ = ["choose_sites_heuristic", "nearest_load"]


def _rule_checks(p: PlacementProblem, mi: int, k: int) -> tuple[SetCheck, SetCheck]:
    """(can_extend, feasible) callbacks for the rules of model ``mi`` with ``k`` replicas."""
    rules = p.spec.rules

    def counts(r: int, s: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.bincount(p.group[r][s], minlength=len(p.group_names[r]))

    def can_extend(s: NDArray[np.int64]) -> bool:
        for r, rule in enumerate(rules):
            cnt = counts(r, s)
            share_cap = rule.max_share is not None and rule.share_of is ShareOf.REPLICAS
            if share_cap and cnt.max() > np.floor(float(rule.max_share or 1.0) * k + 1e-9):
                return False
            if rule.min_distinct is not None and int((cnt > 0).sum()) + (k - s.size) < rule.min_distinct:
                return False
        return True

    def feasible(s: NDArray[np.int64]) -> bool:
        if not can_extend(s):
            return False
        for r, rule in enumerate(rules):
            if rule.max_share is not None and rule.share_of is ShareOf.CAPACITY:
                q = p.model_rps[mi, s]
                by = np.bincount(p.group[r][s], weights=q, minlength=len(p.group_names[r]))
                if by.max() > rule.max_share * q.sum() + 1e-9:
                    return False
        return True

    return can_extend, feasible


def choose_sites_heuristic(
    p: PlacementProblem, congestion_ms: NDArray[np.float64] | None = None
) -> NDArray[np.bool_]:
    """(M, N) bool: the nodes that keep each placed model warm, chosen by greedy + swap per model.

    ``congestion_ms`` (N,) is a price per slot-second of load on each node, ms, added to the time of
    every client there (see :func:`place_heuristic`); default 0.
    """
    if (p.replicas < 0).any():
        raise SolverError(
            "solver: the heuristic needs a replica count (--replicas); use --solver milp with a budget"
        )
    n_models, n = p.candidate.shape
    pi = np.zeros(n) if congestion_ms is None else congestion_ms
    free = p.free_gb.copy()
    used = np.zeros(n, dtype=bool)
    chosen = np.zeros((n_models, n), dtype=bool)
    lam = p.spec.price_weight_ms_per_usd_hour
    price = p.arrays.price_usd_per_hour
    total = p.total_rps
    for mi in np.argsort(-p.size_gb, kind="stable"):
        clients = np.flatnonzero(p.client_model == mi)
        t = p.time_ms[clients] + pi[None, :] * np.where(p.allowed[clients], p.busy_s[clients], 0.0)
        cost = np.where(p.allowed[clients], p.rate_rps[clients, None] * t / total, np.inf)
        sites = p.candidate[mi] & (free + 1e-9 >= p.size_gb[mi])
        k = int(p.replicas[mi])
        if int(sites.sum()) < k:
            raise InfeasiblePlacementError(
                f"memory: only {int(sites.sum())} nodes have GPU memory left for {k} replicas of {p.models[mi]!r} "
                "after the larger models; try --solver milp"
            )
        can_extend, feasible = _rule_checks(p, int(mi), k)
        res = pmedian_heuristic(
            cost,
            k,
            site_cost=np.where(used, 0.0, lam * price),
            allowed=sites,
            can_extend=can_extend,
            feasible=feasible,
            seed=p.spec.seed,
        )
        s = np.array(res.chosen, dtype=np.int64)
        if not np.isfinite(cost[:, s].min(axis=1)).all():
            c = int(clients[np.flatnonzero(~np.isfinite(cost[:, s].min(axis=1)))[0]])
            raise InfeasiblePlacementError(
                f"slo: with {k} replicas the heuristic leaves {p.client_label(c)} outside its slo_ms={p.slo_ms[c]:g}; "
                "raise --replicas or use --solver milp"
            )
        chosen[mi, s] = True
        free[s] -= p.size_gb[mi]
        used[s] = True
    return chosen


def nearest_load(
    p: PlacementProblem, open_: NDArray[np.bool_], congestion_ms: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(N,) slot-seconds per second each node carries when every client uses its cheapest open node."""
    ok = p.allowed & open_[p.client_model]
    t = np.where(ok, p.time_ms + congestion_ms[None, :] * np.where(ok, p.busy_s, 0.0), np.inf)
    best = np.argmin(t, axis=1)
    rows = np.arange(best.size)
    served = np.isfinite(t[rows, best])
    load = np.bincount(
        best[served],
        weights=p.rate_rps[served] * p.busy_s[rows[served], best[served]],
        minlength=p.slots.size,
    )
    return np.asarray(load, dtype=np.float64)
