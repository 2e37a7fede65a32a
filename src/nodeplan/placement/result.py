"""The record every placement solver returns (:class:`PlacementResult`) and what its status means
(:class:`SolveStatus`, :func:`relative_gap`).

Solvers build a model, solve it and return this frozen record; they never mutate their inputs. A status
is never taken from the solver's word alone: ``optimal`` means the returned objective is within
:data:`PROVEN_GAP` of a proven lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

__all__ = ["PROVEN_GAP", "PlacementResult", "SolveStatus", "relative_gap"]

#: Largest relative gap ``(objective - bound) / |objective|`` at which a solution counts as proven optimal.
#: HiGHS's default ``mip_rel_gap`` (1e-4) is far above it; 1e-9 is round-off on objectives of any size
#: nodeplan builds (latencies in ms, OR-Library costs).
PROVEN_GAP = 1e-9


class SolveStatus(StrEnum):
    """Why a solve stopped, and so what its objective means.

    * ``optimal``: proven; ``gap`` <= :data:`PROVEN_GAP` (computed from the objective and the solver's
      lower bound, not taken from the solver's own status).
    * ``gap_limit``: the solver stopped because the gap fell below the requested ``rel_gap`` (> 1e-9);
      the optimum lies in ``[bound, objective]``.
    * ``time_limit``: the time limit stopped the solve; the placement is feasible, ``gap`` says how far
      from proven it is.
    * ``iteration_limit``: a node, iteration or solution-count limit stopped the solve (feasible, with
      its gap).
    * ``interrupted``: the solve was cancelled (Ctrl-C or a callback); best feasible placement found.
    * ``infeasible``: the solver proved that no placement meets the constraints (the solvers raise
      :class:`~nodeplan.exceptions.InfeasiblePlacementError` rather than return it).
    * ``heuristic``: greedy + swap; feasible, no bound, never a claim of optimality.
    """

    OPTIMAL = "optimal"
    GAP_LIMIT = "gap_limit"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INTERRUPTED = "interrupted"
    INFEASIBLE = "infeasible"
    HEURISTIC = "heuristic"


def relative_gap(objective: float, bound: float | None) -> float | None:
    """``(objective - bound) / |objective|`` for a minimisation, the definition HiGHS uses; ``None`` without
    a finite bound.

    A bound above the objective (round-off) gives 0. With ``objective == 0`` the gap is 0 when the bound
    is 0 too and ``inf`` otherwise.

    >>> relative_gap(777.74, 768.38)  # doctest: +ELLIPSIS
    0.01203...
    >>> relative_gap(5.0, None) is None
    True
    """
    if bound is None or not math.isfinite(bound):
        return None
    diff = max(0.0, objective - bound)
    if objective == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / abs(objective)


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """Outcome of one placement solve.

    Attributes
    ----------
    objective : value of the objective at the returned solution (units of the cost matrix)
    bound : best proven lower bound on the optimum (MILP dual bound, same units); ``None`` when the solver
        proved none (the heuristic, or a MILP stopped before its root relaxation)
    gap : :func:`relative_gap` of ``objective`` and ``bound``; ``None`` when ``bound`` is ``None``
    status : why the solve stopped (:class:`SolveStatus`); ``optimal`` only when ``gap`` <= 1e-9
    chosen : indices of the open sites, ascending
    assignment : (clients, sites) fraction of each client's demand served by each site (rows sum to 1)
    binding : names of the constraints tight at the returned solution
    solve_s : wall-clock seconds of the solve (model build excluded), s
    solver : ``"highs-milp"`` or the heuristic's name
    """

    objective: float
    bound: float | None
    gap: float | None
    status: SolveStatus
    chosen: tuple[int, ...]
    assignment: NDArray[np.float64] = field(repr=False)
    binding: tuple[str, ...] = ()
    solve_s: float = 0.0
    solver: str = "highs-milp"

    @property
    def primary_site(self) -> NDArray[np.int64]:
        """(clients,) site serving the largest share of each client's demand."""
        return np.asarray(np.argmax(self.assignment, axis=1), dtype=np.int64)

    @property
    def optimal(self) -> bool:
        """True when optimality is proven (``gap`` <= :data:`PROVEN_GAP`)."""
        return self.status is SolveStatus.OPTIMAL
