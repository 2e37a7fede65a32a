r"""Exact p-median by MILP (HiGHS), classical (strong) formulation.

Given clients :math:`i \in I` with weights :math:`w_i`, candidate sites :math:`j \in J`, costs
:math:`c_{ij}` and a number of sites :math:`p`:

.. math::

    \min \sum_{i \in I} \sum_{j \in J} w_i c_{ij} x_{ij}
    \quad \text{s.t.} \quad
    \sum_{j} x_{ij} = 1 \;\; \forall i, \qquad
    x_{ij} \le y_j \;\; \forall i, j, \qquad
    \sum_j y_j = p, \qquad
    y_j \in \{0, 1\}, \; 0 \le x_{ij} \le 1.

Plain text: open exactly p sites; every client is served by open sites; minimise the weighted cost.
The assignment :math:`x` may be continuous: for fixed binary :math:`y` each client's best choice is a
single nearest open site, so an optimal vertex has integral :math:`x` (ReVelle and Swain 1970). Pairs
with an infinite cost get no variable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.exceptions import InfeasiblePlacementError, SolverError
from nodeplan.placement._sites import solve_site_milp
from nodeplan.placement.result import PlacementResult

__all__ = ["solve_pmedian"]


def _check_cost(cost: ArrayLike) -> NDArray[np.float64]:
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2 or c.size == 0:
        raise SolverError(f"cost: must be a non-empty 2-D (clients, sites) matrix (got shape {c.shape})")
    if np.isnan(c).any() or (c < 0).any():
        raise SolverError("cost: entries must be >= 0 and not NaN (inf = site cannot serve client)")
    return c


def solve_pmedian(
    cost: ArrayLike,
    p: int,
    *,
    weights: ArrayLike | None = None,
    time_limit_s: float = 60.0,
    rel_gap: float = 1e-9,
    node_limit: int | None = None,
) -> PlacementResult:
    """Open ``p`` of the sites to minimise the weighted client-to-nearest-open-site cost (exact MILP).

    Parameters
    ----------
    cost : (clients, sites) cost of serving client i from site j (any unit; ``inf`` = not allowed)
    p : number of sites to open, 1 <= p <= sites
    weights : (clients,) demand weight of each client (default 1)
    time_limit_s : HiGHS time limit, s; past it the best solution found is returned with its bound and
        gap (status ``time_limit``)
    rel_gap : relative MIP gap at which HiGHS stops, in [0, 1); above 1e-9 a stop on the gap reads
        ``gap_limit``, not ``optimal``
    node_limit : branch-and-bound node limit (status ``iteration_limit`` when it stops the solve)

    Examples
    --------
    >>> c = np.array([[0, 5, 9], [5, 0, 4], [9, 4, 0]], dtype=float)
    >>> r = solve_pmedian(c, 1)
    >>> r.chosen, r.objective, r.status.value, r.gap
    ((1,), 9.0, 'optimal', 0.0)
    """
    c = _check_cost(cost)
    n, m = c.shape
    if not (1 <= p <= m):
        raise SolverError(f"p: must be between 1 and the number of sites {m} (got {p})")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or (w < 0).any() or not np.isfinite(w).all():
        raise SolverError(f"weights: need {n} finite values >= 0")
    ok = np.isfinite(c)
    if not ok.any(axis=1).all():
        i = int(np.flatnonzero(~ok.any(axis=1))[0])
        raise InfeasiblePlacementError(f"assignment: client {i} has no site with a finite cost")
    ci, cj = np.nonzero(ok)
    k = ci.size
    # Columns: x pairs 0..k-1, then y 0..m-1.
    ycol = k + np.arange(m)
    # Rows: n assignment rows, k linking rows, 1 cardinality row.
    link = n + np.arange(k)
    rows = np.concatenate([ci, link, link, np.full(m, n + k)])
    cols = np.concatenate([np.arange(k), np.arange(k), ycol[cj], ycol])
    vals = np.concatenate([np.ones(k), np.ones(k), -np.ones(k), np.ones(m)])
    row_lb = np.concatenate([np.ones(n), np.full(k, -np.inf), [p]])
    row_ub = np.concatenate([np.ones(n), np.zeros(k), [p]])
    return solve_site_milp(
        w[ci] * c[ci, cj],
        np.zeros(m),
        (ci, cj),
        n,
        (rows, cols, vals),
        row_lb,
        row_ub,
        binding=("p",),
        time_limit_s=time_limit_s,
        rel_gap=rel_gap,
        node_limit=node_limit,
    )
