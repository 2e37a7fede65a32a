"""Invariants of the generic solvers on small random instances: MILP <= heuristic, both = brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.exceptions import InfeasiblePlacementError, SolverError
from nodeplan.placement import pmedian_heuristic, solve_capacitated, solve_pmedian


def _brute_pmedian(cost: np.ndarray, w: np.ndarray, p: int) -> float:
    return min(
        float(w @ cost[:, list(s)].min(axis=1)) for s in itertools.combinations(range(cost.shape[1]), p)
    )


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n = draw(st.integers(2, 9))
    m = draw(st.integers(1, 7))
    p = draw(st.integers(1, m))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 50, size=(n, m)).astype(float)
    w = rng.integers(1, 5, size=n).astype(float)
    return cost, w, p


@settings(max_examples=40)
@given(instances())
def test_milp_le_heuristic_and_both_match_brute_force(inst: tuple[np.ndarray, np.ndarray, int]) -> None:
    cost, w, p = inst
    exact = _brute_pmedian(cost, w, p)
    milp = solve_pmedian(cost, p, weights=w)
    heur = pmedian_heuristic(cost, p, weights=w, seed=0)
    assert milp.objective <= heur.objective + 1e-9
    assert milp.objective == pytest.approx(exact, abs=1e-6)
    # Tiny instances: swap interchange with restarts reaches the optimum too.
    assert heur.objective == pytest.approx(exact, abs=1e-6)
    assert len(milp.chosen) == p == len(heur.chosen)


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1))
def test_capacitated_matches_brute_force_over_open_sets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 5, 4
    demand = rng.integers(1, 10, size=n).astype(float)
    cap = rng.integers(5, 25, size=m).astype(float)
    fixed = rng.integers(0, 30, size=m).astype(float)
    cost = rng.integers(1, 40, size=(n, m)).astype(float)
    # Brute force: each open set, then the transportation LP solved by scipy's linprog.
    from scipy.optimize import linprog

    best = np.inf
    for k in range(1, m + 1):
        for s in itertools.combinations(range(m), k):
            s = list(s)
            if cap[s].sum() < demand.sum():
                continue
            a_eq = np.kron(np.eye(n), np.ones(len(s)))
            a_ub = np.zeros((len(s), n * len(s)))
            for i in range(n):
                for jj in range(len(s)):
                    a_ub[jj, i * len(s) + jj] = demand[i]
            lp = linprog(
                cost[:, s].ravel(), A_ub=a_ub, b_ub=cap[s], A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1)
            )
            if lp.status == 0:
                best = min(best, lp.fun + fixed[s].sum())
    if not np.isfinite(best):
        with pytest.raises(InfeasiblePlacementError):
            solve_capacitated(cost, demand, cap, fixed)
        return
    r = solve_capacitated(cost, demand, cap, fixed)
    assert r.objective == pytest.approx(best, rel=1e-7, abs=1e-7)


def test_pmedian_rejects_bad_p_with_a_named_field() -> None:
    with pytest.raises(SolverError, match="p: must be between 1 and the number of sites 2"):
        solve_pmedian(np.ones((3, 2)), 3)
    with pytest.raises(SolverError, match="p: must be between"):
        pmedian_heuristic(np.ones((3, 2)), 0)


def test_unreachable_client_is_infeasible() -> None:
    cost = np.array([[1.0, 2.0], [np.inf, np.inf]])
    with pytest.raises(InfeasiblePlacementError, match="client 1"):
        solve_pmedian(cost, 1)


def test_site_costs_change_the_heuristic_choice() -> None:
    # Two clients equidistant from two sites; site 0 costs 10 to open, site 1 costs 0.
    cost = np.array([[1.0, 1.0], [1.0, 1.0]])
    r = pmedian_heuristic(cost, 1, site_cost=[10.0, 0.0])
    assert r.chosen == (1,)
    assert r.objective == 2.0


def test_feasibility_rule_is_respected() -> None:
    # Sites 0 and 1 share a "provider"; the rule forbids opening both even though they are best.
    cost = np.array([[0.0, 1.0, 5.0], [1.0, 0.0, 5.0]])

    def feasible(s: np.ndarray) -> bool:
        return not {0, 1} <= set(s.tolist())

    r = pmedian_heuristic(cost, 2, feasible=feasible, can_extend=feasible)
    assert not {0, 1} <= set(r.chosen)
    assert r.objective == 1.0
