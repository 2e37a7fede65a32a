"""Placement: exact MILP (HiGHS) and fast heuristics for choosing sites, and the nodeplan placement problem.

Generic solvers work on cost matrices (p-median, capacitated facility location, greedy + swap);
:mod:`nodeplan.placement.place` builds the warm-replica placement problem from a scenario.
"""

from nodeplan.placement.advise import AdviceResult, advise, load_candidates
from nodeplan.placement.facility import solve_capacitated
from nodeplan.placement.heuristics import pmedian_heuristic
from nodeplan.placement.place import ScenarioPlacement, pareto, place
from nodeplan.placement.pmedian import solve_pmedian
from nodeplan.placement.result import PlacementResult, SolveStatus

__all__ = [
    "AdviceResult",
    "PlacementResult",
    "ScenarioPlacement",
    "SolveStatus",
    "advise",
    "load_candidates",
    "pareto",
    "place",
    "pmedian_heuristic",
    "solve_capacitated",
    "solve_pmedian",
]
