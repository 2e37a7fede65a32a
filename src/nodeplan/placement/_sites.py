"""Shared model and read-back for the client-site MILPs (:mod:`.pmedian`, :mod:`.facility`).

Both put the finite (client, site) pairs first as continuous shares in ``[0, 1]`` and then one binary
"site open" column per site; only their rows differ.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from nodeplan.placement._highs import MilpModel, solve_milp
from nodeplan.placement.result import PlacementResult

__all__ = ["solve_site_milp"]


def solve_site_milp(
    pair_cost: NDArray[np.float64],
    site_cost: NDArray[np.float64],
    pairs: tuple[NDArray[np.intp], NDArray[np.intp]],
    n_clients: int,
    coo: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]],
    row_lb: NDArray[np.float64],
    row_ub: NDArray[np.float64],
    *,
    row_names: tuple[str, ...] = (),
    binding: tuple[str, ...] | None = None,
    time_limit_s: float,
    rel_gap: float,
    node_limit: int | None = None,
) -> PlacementResult:
    """Solve a pairs-then-sites MILP with HiGHS and return the placement.

    Parameters
    ----------
    pair_cost : (k,) objective coefficient of each share column (units of the cost matrix)
    site_cost : (sites,) objective coefficient of each binary open-site column
    pairs : (client, site) index arrays of the k share columns, in column order
    n_clients : number of clients (rows of the returned assignment)
    coo : (rows, cols, vals) triplets of the constraint matrix
    row_lb, row_ub : bounds of each constraint row
    row_names : label of each row for the binding report (``""`` = never reported)
    binding : reported binding constraints; ``None`` = the named rows tight at the solution
    time_limit_s : HiGHS time limit, s
    rel_gap : relative MIP gap at which HiGHS stops
    node_limit : branch-and-bound node limit (``None`` = none)
    """
    ci, cj = pairs
    k, m = ci.size, site_cost.size
    rows, cols, vals = coo
    model = MilpModel(
        c=np.concatenate([pair_cost, site_cost]),
        lb=np.zeros(k + m),
        ub=np.ones(k + m),
        integer=np.concatenate([np.zeros(k, dtype=bool), np.ones(m, dtype=bool)]),
        rows=rows.astype(np.int64),
        cols=cols.astype(np.int64),
        vals=vals,
        row_lb=row_lb,
        row_ub=row_ub,
        row_names=row_names,
    )
    sol = solve_milp(model, time_limit_s=time_limit_s, rel_gap=rel_gap, node_limit=node_limit)
    assign = np.zeros((n_clients, m))
    assign[ci, cj] = np.clip(sol.x[:k], 0.0, 1.0)
    return PlacementResult(
        objective=sol.objective,
        bound=sol.bound,
        gap=sol.gap,
        status=sol.status,
        chosen=tuple(int(j) for j in np.flatnonzero(sol.x[k:] > 0.5)),
        assignment=assign,
        binding=sol.binding(model) if binding is None else binding,
        solve_s=sol.solve_s,
    )
