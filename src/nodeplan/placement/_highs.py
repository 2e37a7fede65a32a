"""A thin bulk interface to HiGHS (``highspy``): pass arrays, solve, read back, check the status.

Models are given as column arrays and a COO constraint matrix, added to HiGHS in bulk (``addCols`` /
``addRows`` with CSR arrays), never one expression at a time. The solve status is checked and turned into
:class:`~nodeplan.exceptions.SolverError` (or :class:`~nodeplan.exceptions.InfeasiblePlacementError`) with
HiGHS's readable status name.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import InfeasiblePlacementError, SolverError

if TYPE_CHECKING:
    import highspy

__all__ = ["MilpModel", "MilpSolution", "new_highs", "solve_milp"]

_BANNER_SHOWN = [False]


def new_highs() -> highspy.Highs:
    """A silent ``highspy.Highs`` instance.

    HiGHS prints a copyright banner on stdout when the first instance of a process is built, before
    ``silent()`` can act; that would corrupt ``--json`` output, so the first construction runs with the
    stdout file descriptor pointed at ``/dev/null``.
    """
    import highspy

    if _BANNER_SHOWN[0]:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN[0] = True
    h.silent()
    return h


@dataclass(frozen=True, eq=False)
class MilpModel:
    """``min c·x + offset`` s.t. ``row_lb <= A x <= row_ub``, ``lb <= x <= ub``, ``x[integer]`` integral.

    ``A`` is given as COO triplets (``rows``, ``cols``, ``vals``); duplicates are summed by HiGHS's
    CSR conversion here. ``row_names`` labels each row for the binding-constraint report; rows named
    ``""`` are never reported.
    """

    c: NDArray[np.float64]
    lb: NDArray[np.float64]
    ub: NDArray[np.float64]
    integer: NDArray[np.bool_]
    rows: NDArray[np.int64]
    cols: NDArray[np.int64]
    vals: NDArray[np.float64]
    row_lb: NDArray[np.float64]
    row_ub: NDArray[np.float64]
    row_names: tuple[str, ...] = field(default=())
    offset: float = 0.0


@dataclass(frozen=True, eq=False)
class MilpSolution:
    """Primal values, objective, bound, gap, readable status, row activities and solve seconds."""

    x: NDArray[np.float64]
    objective: float
    bound: float
    gap: float
    status: str
    row_activity: NDArray[np.float64]
    solve_s: float

    def binding(self, model: MilpModel, rtol: float = 1e-7) -> tuple[str, ...]:
        """Names of the rows whose activity sits on a finite bound (duplicates removed, order kept)."""
        if not model.row_names:
            return ()
        act = self.row_activity
        tol = rtol * np.maximum(1.0, np.abs(act))
        on_ub = np.isfinite(model.row_ub) & (model.row_ub - act <= tol)
        on_lb = np.isfinite(model.row_lb) & (act - model.row_lb <= tol)
        # Equality rows are always tight: they say nothing about what limits the solution.
        tight = (on_ub | on_lb) & ~(model.row_lb == model.row_ub)
        out: dict[str, None] = {}
        for i in np.flatnonzero(tight):
            name = model.row_names[i]
            if name:
                out[name] = None
        return tuple(out)


def solve_milp(model: MilpModel, *, time_limit_s: float = 60.0, rel_gap: float = 1e-6) -> MilpSolution:
    """Solve ``model`` with HiGHS; raise unless a feasible solution was found.

    Raises
    ------
    InfeasiblePlacementError
        HiGHS proved the model infeasible.
    SolverError
        Any other stop without a feasible solution (the message carries HiGHS's status name).
    """
    import highspy

    if not (time_limit_s > 0):
        raise SolverError(f"time_limit_s: must be > 0 (got {time_limit_s})")
    h = new_highs()
    n = int(model.c.size)
    m = int(model.row_lb.size)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    empty_i = np.zeros(0, dtype=np.int32)
    h.addCols(
        n,
        model.c.astype(np.float64),
        model.lb.astype(np.float64),
        model.ub.astype(np.float64),
        0,
        empty_i,
        empty_i,
        np.zeros(0),
    )
    if m:
        order = np.argsort(model.rows, kind="stable")
        r, cidx, v = model.rows[order], model.cols[order], model.vals[order]
        starts = np.zeros(m, dtype=np.int32)
        starts[1:] = np.cumsum(np.bincount(r, minlength=m))[:-1]
        h.addRows(
            m,
            model.row_lb.astype(np.float64),
            model.row_ub.astype(np.float64),
            int(v.size),
            starts,
            cidx.astype(np.int32),
            v.astype(np.float64),
        )
    ints = np.flatnonzero(model.integer).astype(np.int32)
    if ints.size:
        kinds = np.full(ints.size, int(highspy.HighsVarType.kInteger), dtype=np.uint8)
        h.changeColsIntegrality(int(ints.size), ints, kinds)
    t0 = time.perf_counter()
    h.run()
    solve_s = time.perf_counter() - t0
    status = h.getModelStatus()
    name = str(h.modelStatusToString(status))
    info = h.getInfo()
    ms = highspy.HighsModelStatus
    if status == ms.kInfeasible:
        raise InfeasiblePlacementError(f"solver: HiGHS proved the placement model infeasible ({name})")
    feasible = int(info.primal_solution_status) == int(highspy.SolutionStatus.kSolutionStatusFeasible)
    if status != ms.kOptimal and not (
        feasible and status in (ms.kTimeLimit, ms.kIterationLimit, ms.kSolutionLimit, ms.kInterrupt)
    ):
        raise SolverError(f"solver: HiGHS stopped with status {name!r} and no feasible placement")
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    act = np.asarray(sol.row_value, dtype=float) if m else np.zeros(0)
    obj = float(info.objective_function_value) + model.offset
    if ints.size:
        bound = float(info.mip_dual_bound) + model.offset
        gap = float(info.mip_gap) if status != ms.kOptimal else max(0.0, float(info.mip_gap))
    else:
        bound, gap = obj, 0.0
    return MilpSolution(
        x=x,
        objective=obj,
        bound=bound,
        gap=gap,
        status="optimal" if status == ms.kOptimal else "time_limit",
        row_activity=act,
        solve_s=solve_s,
    )
