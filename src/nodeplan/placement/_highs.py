"""A thin bulk interface to HiGHS (``highspy``): pass arrays, solve, read back, classify the status.

Models are given as column arrays and a COO constraint matrix, added to HiGHS in bulk (``addCols`` /
``addRows`` with CSR arrays), never one expression at a time.

The status is nodeplan's own (:class:`~nodeplan.placement.result.SolveStatus`), never HiGHS's word alone.
HiGHS answers ``kOptimal`` as soon as the gap falls below ``mip_rel_gap``; nodeplan recomputes the gap
from the objective and HiGHS's dual bound and says ``optimal`` only when it is at most
:data:`~nodeplan.placement.result.PROVEN_GAP`, ``gap_limit`` otherwise. Every HiGHS model status is
listed in :data:`HIGHS_STATUS`: a stop on a limit with a feasible solution keeps it (``time_limit``,
``iteration_limit``, ``interrupted``), anything else is a one-line
:class:`~nodeplan.exceptions.SolverError` (or :class:`~nodeplan.exceptions.InfeasiblePlacementError`)
with HiGHS's readable status name. ``mip_abs_gap`` is set to 0, so the relative gap is the only gap rule.

Ctrl-C during a solve run from the main thread cancels HiGHS, which returns its best placement with
status ``interrupted``; a second Ctrl-C aborts.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import InfeasiblePlacementError, SolverError
from nodeplan.placement.options import check_limits
from nodeplan.placement.result import PROVEN_GAP, SolveStatus, relative_gap

if TYPE_CHECKING:
    import highspy

__all__ = ["HIGHS_STATUS", "MilpModel", "MilpSolution", "classify", "new_highs", "solve_milp"]

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


@dataclass(frozen=True, eq=False)
class MilpSolution:
    """Primal values, objective, proven lower bound (``None``: none), relative gap (``None`` without a
    bound), status, row activities and solve seconds."""

    x: NDArray[np.float64]
    objective: float
    bound: float | None
    gap: float | None
    status: SolveStatus
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


#: Every ``highspy.HighsModelStatus``, by name: the status a feasible stop gets, or why there is no
#: placement. ``kOptimal`` is refined by the gap (``optimal`` or ``gap_limit``); a test checks that every
#: member of the installed highspy is listed. ``kUnboundedOrInfeasible`` is infeasible when every column
#: is bounded (always, for the placement models), else an error.
HIGHS_STATUS: dict[str, SolveStatus | str] = {
    "kOptimal": SolveStatus.GAP_LIMIT,
    "kTimeLimit": SolveStatus.TIME_LIMIT,
    "kIterationLimit": SolveStatus.ITERATION_LIMIT,
    "kSolutionLimit": SolveStatus.ITERATION_LIMIT,  # mip_max_nodes, mip_max_leaves, mip_max_improving_sols
    "kInterrupt": SolveStatus.INTERRUPTED,  # a user callback (Ctrl-C here) cancelled the solve
    "kHighsInterrupt": SolveStatus.INTERRUPTED,
    "kInfeasible": SolveStatus.INFEASIBLE,
    "kUnboundedOrInfeasible": SolveStatus.INFEASIBLE,
    "kNotset": "HiGHS did not run",
    "kLoadError": "HiGHS could not load the model",
    "kModelError": "HiGHS rejected the model",
    "kPresolveError": "HiGHS failed in presolve",
    "kSolveError": "HiGHS failed while solving",
    "kPostsolveError": "HiGHS failed in postsolve",
    "kModelEmpty": "the model is empty",
    "kUnbounded": "the model is unbounded",
    "kObjectiveBound": "HiGHS stopped on an objective bound nodeplan never sets",
    "kObjectiveTarget": "HiGHS stopped on an objective target nodeplan never sets",
    "kUnknown": "HiGHS could not tell why it stopped",
    "kMemoryLimit": "HiGHS ran out of memory",
}

_LIMIT_HINT = {
    SolveStatus.TIME_LIMIT: "raise the time limit",
    SolveStatus.ITERATION_LIMIT: "raise the node limit",
    SolveStatus.INTERRUPTED: "let the solve run longer",
}


def classify(
    name: str, readable: str, *, feasible: bool, gap: float | None, bounded: bool = True
) -> SolveStatus:
    """nodeplan's status of a HiGHS stop.

    Parameters
    ----------
    name : ``HighsModelStatus`` member name, e.g. ``"kOptimal"``
    readable : HiGHS's readable status (``modelStatusToString``), for messages
    feasible : HiGHS holds a primal feasible solution
    gap : :func:`~nodeplan.placement.result.relative_gap` of that solution and HiGHS's dual bound
    bounded : every column has finite bounds (so "unbounded or infeasible" means infeasible)

    Returns ``optimal`` whenever a feasible solution is within :data:`PROVEN_GAP` of its bound, whatever
    stopped HiGHS; otherwise the status of :data:`HIGHS_STATUS`.

    Raises
    ------
    InfeasiblePlacementError
        HiGHS proved the model infeasible.
    SolverError
        An error status, an unbounded model, a status this table does not know, or a limit reached before
        any feasible solution.

    >>> classify("kOptimal", "Optimal", feasible=True, gap=0.012)
    <SolveStatus.GAP_LIMIT: 'gap_limit'>
    >>> classify("kTimeLimit", "Time limit reached", feasible=True, gap=0.0)
    <SolveStatus.OPTIMAL: 'optimal'>
    """
    status = HIGHS_STATUS.get(name)
    if status is None:
        raise SolverError(
            f"solver: HiGHS returned status {readable!r}, unknown to nodeplan; no placement reported"
        )
    if not isinstance(status, SolveStatus):  # an explanation: no placement
        raise SolverError(f"solver: {status} (HiGHS status {readable!r}); no placement reported")
    if status is SolveStatus.INFEASIBLE:
        if not bounded:
            raise SolverError(f"solver: the model is unbounded or infeasible (HiGHS status {readable!r})")
        raise InfeasiblePlacementError(f"solver: HiGHS proved the placement model infeasible ({readable})")
    if not feasible:
        hint = _LIMIT_HINT.get(status, "see the HiGHS status")
        raise SolverError(f"solver: HiGHS stopped ({readable}) before finding a feasible placement; {hint}")
    if gap is not None and gap <= PROVEN_GAP:
        return SolveStatus.OPTIMAL
    return status


def _run(h: highspy.Highs) -> None:
    """Run the solve; from the main thread, in HiGHS's solver thread so that Ctrl-C cancels it (HiGHS
    then stops with ``kInterrupt`` and keeps its best solution). A second Ctrl-C propagates."""
    if threading.current_thread() is not threading.main_thread():
        h.run()
        return
    h.HandleUserInterrupt = True
    h.startSolve()
    cancelled = False
    while True:
        try:
            done, _ = h.wait(0.1)
        except KeyboardInterrupt:
            if cancelled:
                raise
            h.cancelSolve()
            cancelled = True
            continue
        if done:
            return


def solve_milp(
    model: MilpModel,
    *,
    time_limit_s: float = 60.0,
    rel_gap: float = 1e-6,
    node_limit: int | None = None,
) -> MilpSolution:
    """Solve ``model`` with HiGHS; raise unless a feasible solution was found.

    Parameters
    ----------
    time_limit_s : HiGHS ``time_limit``, s (> 0, finite)
    rel_gap : HiGHS ``mip_rel_gap``, in [0, 1): stop once ``(objective - bound) / |objective|`` is at most
        this (status ``gap_limit``, or ``optimal`` when the gap is at most 1e-9)
    node_limit : HiGHS ``mip_max_nodes`` (branch-and-bound nodes); ``None`` = no limit

    Raises
    ------
    InfeasiblePlacementError
        HiGHS proved the model infeasible.
    SolverError
        A bad limit, or any stop without a feasible solution (see :func:`classify`).
    """
    import highspy

    time_limit_s, rel_gap, node_limit = check_limits(time_limit_s, rel_gap, node_limit, error=SolverError)
    h = new_highs()
    n = int(model.c.size)
    m = int(model.row_lb.size)
    h.setOptionValue("time_limit", time_limit_s)
    h.setOptionValue("mip_rel_gap", rel_gap)
    h.setOptionValue("mip_abs_gap", 0.0)
    if node_limit is not None:
        h.setOptionValue("mip_max_nodes", node_limit)
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
    _run(h)
    solve_s = time.perf_counter() - t0
    ms = h.getModelStatus()
    info = h.getInfo()
    feasible = int(info.primal_solution_status) == int(highspy.SolutionStatus.kSolutionStatusFeasible)
    obj = float(info.objective_function_value)
    if not feasible:
        bound = None
    elif ints.size:
        dual = float(info.mip_dual_bound)
        bound = min(dual, obj) if math.isfinite(dual) else None
    else:
        # An LP: its optimum is proven (to HiGHS's tolerances); a stopped LP proves no bound.
        bound = obj if ms == highspy.HighsModelStatus.kOptimal else None
    gap = relative_gap(obj, bound) if feasible else None
    status = classify(
        ms.name,
        str(h.modelStatusToString(ms)),
        feasible=feasible,
        gap=gap,
        bounded=bool(np.isfinite(model.lb).all() and np.isfinite(model.ub).all()),
    )
    sol = h.getSolution()
    return MilpSolution(
        x=np.asarray(sol.col_value, dtype=float),
        objective=obj,
        bound=bound,
        gap=gap,
        status=status,
        row_activity=np.asarray(sol.row_value, dtype=float) if m else np.zeros(0),
        solve_s=solve_s,
    )
