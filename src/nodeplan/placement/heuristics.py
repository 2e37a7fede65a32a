r"""Fast p-median heuristic: greedy construction + best-improvement swap interchange, numpy-vectorised.

Objective (the p-median of :mod:`nodeplan.placement.pmedian` plus optional site costs :math:`f_j`):
:math:`\sum_i w_i \min_{j \in S} c_{ij} + \sum_{j \in S} f_j` over sets :math:`S` of :math:`p` sites.

* **Greedy** (Kuehn and Hamburger 1963): add, one at a time, the site that lowers the objective most.
* **Swap interchange** (Teitz and Bart 1968, evaluated all at once as in Whitaker's fast interchange):
  keep each client's nearest (``d1``) and second nearest (``d2``) open site; the change from opening
  :math:`j` and closing :math:`r` is

  .. math::

      \Delta(j, r) = f_j - f_r + \sum_i w_i \min(c_{ij} - d1_i, 0)
        + \sum_{i:\, \phi(i) = r} w_i \left[\min(c_{ij}, d2_i) - d1_i - \min(c_{ij} - d1_i, 0)\right]

  where :math:`\phi(i)` is the site nearest to :math:`i`. The first sum is a vector over :math:`j`;
  the second is one (open sites x clients) @ (clients x sites) product. The best improving swap is
  applied until none improves.
* **Restarts** (seeded): perturb the best set by a few random swaps and search again; keep the best.

A ``feasible(open_sites) -> bool`` callback restricts the sets considered (used for dependency-diversity
rules); with it, greedy takes the best addition that keeps ``can_extend(partial_set)`` true and a swap is
applied only when the resulting set is feasible.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.exceptions import InfeasiblePlacementError, SolverError
from nodeplan.placement.result import PlacementResult, SolveStatus

__all__ = ["SetCheck", "pmedian_heuristic", "seed_rng"]

#: A rule on a set of open sites (indices): True when the set is allowed.
SetCheck = Callable[[NDArray[np.int64]], bool]


def seed_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Normalise a seed: an int or ``None`` builds a fresh ``Generator``; a ``Generator`` passes through."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _nearest_two(cost: NDArray[np.float64], open_: NDArray[np.int64]) -> tuple[NDArray, NDArray, NDArray]:
    """Per client: nearest open site (index into ``open_``), its cost ``d1`` and the second cost ``d2``."""
    sub = cost[:, open_]
    if open_.size == 1:
        return np.zeros(cost.shape[0], dtype=np.int64), sub[:, 0], np.full(cost.shape[0], np.inf)
    part = np.argpartition(sub, 1, axis=1)[:, :2]
    rows = np.arange(cost.shape[0])
    a, b = sub[rows, part[:, 0]], sub[rows, part[:, 1]]
    first = np.where(a <= b, part[:, 0], part[:, 1])
    return first, np.minimum(a, b), np.maximum(a, b)


def _objective(cost: NDArray, w: NDArray, f: NDArray, open_: NDArray[np.int64]) -> float:
    d1 = cost[:, open_].min(axis=1)
    return float(np.sum(w * d1) + f[open_].sum())


def _greedy(
    cost: NDArray, w: NDArray, f: NDArray, p: int, allowed: NDArray[np.bool_], can_extend: SetCheck | None
) -> NDArray[np.int64]:
    n = cost.shape[0]
    chosen: list[int] = []
    d1 = np.full(n, np.inf)
    finite = cost[np.isfinite(cost)]
    big = 1e6 * (1.0 + (float(finite.max()) if finite.size else 1.0))
    for _ in range(p):
        # Cost of adding j: sum_i w_i min(d1_i, c_ij) + f_j (inf distances capped so sums stay finite).
        gain = (w[:, None] * np.minimum(np.minimum(d1[:, None], cost), big)).sum(axis=0) + f
        gain[~allowed] = np.inf
        gain[chosen] = np.inf
        for j in np.argsort(gain, kind="stable"):
            if not np.isfinite(gain[j]):
                raise InfeasiblePlacementError(
                    f"replicas: no feasible way to open {p} sites (stuck after {len(chosen)})"
                )
            trial = np.array([*chosen, int(j)], dtype=np.int64)
            if can_extend is None or can_extend(trial):
                chosen.append(int(j))
                d1 = np.minimum(d1, cost[:, j])
                break
    return np.array(sorted(chosen), dtype=np.int64)


def _swap_search(
    cost: NDArray,
    w: NDArray,
    f: NDArray,
    open_: NDArray[np.int64],
    allowed: NDArray[np.bool_],
    feasible: SetCheck | None,
    max_iter: int,
) -> NDArray[np.int64]:
    m = cost.shape[1]
    finite = cost[np.isfinite(cost)]
    big = 1e6 * (1.0 + (float(finite.max()) if finite.size else 1.0))  # "inf" that sums without overflow
    c = np.minimum(cost, big)
    for _ in range(max_iter):
        near, d1, d2 = _nearest_two(c, open_)
        d2 = np.minimum(d2, big)
        gain = w[:, None] * np.minimum(c - d1[:, None], 0.0)  # (n, m) <= 0
        extra = w[:, None] * (np.minimum(c, d2[:, None]) - d1[:, None]) - gain
        # loss[r, j] = sum of extra over the clients whose nearest open site is open_[r] (grouped sums).
        order = np.argsort(near, kind="stable")
        counts = np.bincount(near, minlength=open_.size)
        loss = np.zeros((open_.size, m))
        used = counts > 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[used]
        loss[used] = np.add.reduceat(extra[order], starts, axis=0)
        delta = gain.sum(axis=0)[None, :] + loss + f[None, :] - f[open_][:, None]
        delta[:, ~allowed] = np.inf
        delta[:, open_] = np.inf
        if feasible is None:
            flat = np.array([np.argmin(delta)])
        else:
            kk = min(64, delta.size)
            cand = np.argpartition(delta, kk - 1, axis=None)[:kk]
            flat = cand[np.argsort(delta.ravel()[cand], kind="stable")]
        tol = 1e-9 * max(1.0, abs(float(np.sum(w * d1))))
        moved = False
        for idx in flat:
            r, j = divmod(int(idx), m)
            if not (delta[r, j] < -tol):
                break
            trial = open_.copy()
            trial[r] = j
            if feasible is None or feasible(trial):
                open_ = np.sort(trial)
                moved = True
                break
        if not moved:
            break
    return open_


def pmedian_heuristic(
    cost: ArrayLike,
    p: int,
    *,
    weights: ArrayLike | None = None,
    site_cost: ArrayLike | None = None,
    allowed: ArrayLike | None = None,
    can_extend: SetCheck | None = None,
    feasible: SetCheck | None = None,
    restarts: int = 8,
    seed: int | np.random.Generator | None = 0,
    max_iter: int = 10_000,
) -> PlacementResult:
    """Greedy + swap interchange for the p-median (optionally with site costs and a feasibility rule).

    Parameters
    ----------
    cost : (clients, sites) cost, ``inf`` = site cannot serve the client
    p : number of sites to open
    weights : (clients,) demand weights (default 1)
    site_cost : (sites,) cost of opening each site, same unit as ``weights * cost`` (default 0)
    allowed : (sites,) bool, sites that may be opened (default all)
    can_extend : rule a partial set must keep during greedy (default: none)
    feasible : rule a complete set must meet (default: none)
    restarts : perturbation restarts after the first local optimum
    seed : seed of the restart perturbations (same seed, same answer)
    max_iter : cap on swaps per local search

    Examples
    --------
    >>> c = np.array([[0, 5, 9], [5, 0, 4], [9, 4, 0]], dtype=float)
    >>> r = pmedian_heuristic(c, 1)
    >>> r.chosen, r.objective, r.status.value, r.bound
    ((1,), 9.0, 'heuristic', None)
    """
    t0 = time.perf_counter()
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2 or c.size == 0 or np.isnan(c).any() or (c < 0).any():
        raise SolverError("cost: must be a non-empty 2-D matrix of values >= 0 (inf allowed)")
    n, m = c.shape
    if not (1 <= p <= m):
        raise SolverError(f"p: must be between 1 and the number of sites {m} (got {p})")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    f = np.zeros(m) if site_cost is None else np.asarray(site_cost, dtype=float)
    ok = np.ones(m, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    if w.shape != (n,) or f.shape != (m,) or ok.shape != (m,):
        raise SolverError(f"weights/site_cost/allowed: need shapes ({n},), ({m},), ({m},)")
    if int(ok.sum()) < p:
        raise InfeasiblePlacementError(f"replicas: {p} sites requested but only {int(ok.sum())} allowed")
    if restarts < 0:
        raise SolverError(f"restarts: must be >= 0 (got {restarts})")
    rng = seed_rng(seed)
    best = _swap_search(c, w, f, _greedy(c, w, f, p, ok, can_extend), ok, feasible, max_iter)
    if feasible is not None and not feasible(best):
        raise InfeasiblePlacementError("diversity: the heuristic found no set of sites meeting every rule")
    best_obj = _objective(c, w, f, best)
    pool = np.flatnonzero(ok)
    for _ in range(restarts):
        closed = np.setdiff1d(pool, best)
        if closed.size == 0:
            break
        k = int(rng.integers(1, max(2, min(p, closed.size) // 2 + 1) + 1))
        k = min(k, p, closed.size)
        trial = best.copy()
        trial[rng.choice(p, size=k, replace=False)] = rng.choice(closed, size=k, replace=False)
        if feasible is not None and not feasible(trial):
            continue
        trial = _swap_search(c, w, f, np.sort(trial), ok, feasible, max_iter)
        obj = _objective(c, w, f, trial)
        if obj < best_obj - 1e-9 * max(1.0, abs(best_obj)):
            best, best_obj = trial, obj
    near = np.argmin(c[:, best], axis=1)
    assign = np.zeros((n, m))
    assign[np.arange(n), best[near]] = 1.0
    return PlacementResult(
        objective=best_obj,
        bound=None,
        gap=None,
        status=SolveStatus.HEURISTIC,
        chosen=tuple(int(j) for j in best),
        assignment=assign,
        binding=("p",),
        solve_s=time.perf_counter() - t0,
        solver="greedy+swap",
    )
