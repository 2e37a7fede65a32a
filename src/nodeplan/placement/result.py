"""The record every placement solver returns: :class:`PlacementResult`.

Solvers build a model, solve it and return this frozen record; they never mutate their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["PlacementResult"]


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """Outcome of one placement solve.

    Attributes
    ----------
    objective : value of the objective at the returned solution (units of the cost matrix)
    bound : proven lower bound on the optimum (MILP dual bound); ``nan`` for a heuristic
    gap : relative gap ``(objective - bound) / |objective|``; 0 when proven optimal, ``nan`` for a heuristic
    status : ``"optimal"``, ``"time_limit"`` (feasible, not proven optimal) or ``"heuristic"``
    chosen : indices of the open sites, ascending
    assignment : (clients, sites) fraction of each client's demand served by each site (rows sum to 1)
    binding : names of the constraints tight at the returned solution
    solve_s : wall-clock seconds of the solve (model build excluded), s
    solver : ``"highs-milp"`` or the heuristic's name
    """

    objective: float
    bound: float
    gap: float
    status: str
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
        """True when the solver proved optimality."""
        return self.status == "optimal"
