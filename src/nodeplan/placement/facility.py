r"""Exact capacitated facility location with split demand (MILP, HiGHS).

Sites :math:`j` have a capacity :math:`s_j` and a fixed opening cost :math:`f_j`; customer :math:`i`
has demand :math:`d_i` and :math:`c_{ij}` is the cost of serving **all** of it from :math:`j`
(OR-Library convention). With :math:`x_{ij} \in [0, 1]` the share of :math:`i`'s demand served by
:math:`j` and :math:`y_j \in \{0,1\}` "site open":

.. math::

    \min \sum_j f_j y_j + \sum_{i,j} c_{ij} x_{ij}
    \quad \text{s.t.} \quad
    \sum_j x_{ij} = 1 \;\forall i, \qquad
    \sum_i d_i x_{ij} \le s_j y_j \;\forall j, \qquad
    x_{ij} \le y_j \;\forall i, j, \qquad
    \sum_j s_j y_j \ge \sum_i d_i .

Plain text: serve every customer's whole demand, possibly split over several open sites, never beyond a
site's capacity; pay the fixed cost of each open site. The last two families are valid inequalities
(the strong linking and the aggregate capacity cut): they do not change the optimum, only tighten the
LP relaxation.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from nodeplan.exceptions import InfeasiblePlacementError, SolverError
from nodeplan.placement._sites import solve_site_milp
from nodeplan.placement.result import PlacementResult

__all__ = ["solve_capacitated"]


def solve_capacitated(
    cost: ArrayLike,
    demand: ArrayLike,
    capacity: ArrayLike,
    fixed_cost: ArrayLike,
    *,
    time_limit_s: float = 60.0,
    rel_gap: float = 1e-9,
    node_limit: int | None = None,
) -> PlacementResult:
    """Capacitated facility location with split demand, solved exactly by HiGHS.

    Parameters
    ----------
    cost : (customers, sites) cost of serving all of customer i's demand from site j (``inf`` = not allowed)
    demand : (customers,) demand (any unit, the same as ``capacity``)
    capacity : (sites,) capacity of each site
    fixed_cost : (sites,) cost of opening each site (same unit as ``cost``)
    time_limit_s : HiGHS time limit, s (past it: best solution, status ``time_limit``)
    rel_gap : relative MIP gap at which HiGHS stops, in [0, 1) (above 1e-9: ``gap_limit`` when it stops)
    node_limit : branch-and-bound node limit (status ``iteration_limit`` when it stops the solve)

    Binding constraints are reported as ``capacity[j]`` for open sites used to the full.

    Examples
    --------
    >>> r = solve_capacitated([[1.0, 4.0], [1.0, 4.0]], [1, 1], [1, 2], [0, 0])
    >>> r.chosen, r.objective, r.binding
    ((0, 1), 5.0, ('capacity[0]',))
    """
    c = np.asarray(cost, dtype=float)
    d = np.asarray(demand, dtype=float)
    s = np.asarray(capacity, dtype=float)
    f = np.asarray(fixed_cost, dtype=float)
    if c.ndim != 2:
        raise SolverError(f"cost: must be a 2-D (customers, sites) matrix (got shape {c.shape})")
    n, m = c.shape
    for name, arr, size in (("demand", d, n), ("capacity", s, m), ("fixed_cost", f, m)):
        if arr.shape != (size,) or not np.isfinite(arr).all() or (arr < 0).any():
            raise SolverError(f"{name}: need {size} finite values >= 0 (got shape {arr.shape})")
    if np.isnan(c).any() or (c < 0).any():
        raise SolverError("cost: entries must be >= 0 and not NaN")
    if d.sum() > s.sum() * (1 + 1e-12):
        raise InfeasiblePlacementError(
            f"capacity: total demand {d.sum():g} exceeds the capacity of all sites {s.sum():g}"
        )
    ok = np.isfinite(c)
    ci, cj = np.nonzero(ok)
    k = ci.size
    ycol = k + np.arange(m)
    r_cap = n + np.arange(m)
    r_link = n + m + np.arange(k)
    r_agg = n + m + k
    rows = np.concatenate([ci, r_cap[cj], r_cap, r_link, r_link, np.full(m, r_agg)])
    cols = np.concatenate([np.arange(k), np.arange(k), ycol, np.arange(k), ycol[cj], ycol])
    vals = np.concatenate([np.ones(k), d[ci], -s, np.ones(k), -np.ones(k), s])
    row_lb = np.concatenate([np.ones(n), np.full(m + k, -np.inf), [d.sum()]])
    row_ub = np.concatenate([np.ones(n), np.zeros(m + k), [np.inf]])
    names = ("",) * n + tuple(f"capacity[{j}]" for j in range(m)) + ("",) * (k + 1)
    res = solve_site_milp(
        c[ci, cj],
        f,
        (ci, cj),
        n,
        (rows, cols, vals),
        row_lb,
        row_ub,
        row_names=names,
        time_limit_s=time_limit_s,
        rel_gap=rel_gap,
        node_limit=node_limit,
    )
    # A closed site's capacity row reads 0 <= 0: tight but not limiting, so only open sites are reported.
    binding = tuple(b for b in res.binding if int(b[len("capacity[") : -1]) in res.chosen)
    return replace(res, binding=binding)
