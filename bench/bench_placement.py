"""Placement solvers vs scipy.optimize.milp on OR-Library instances with published optima.

Run: ``python bench/bench_placement.py`` (about a minute on 2 cores).

Same HiGHS underneath; the baseline is the plain textbook model built with scipy sparse matrices and
solved by ``scipy.optimize.milp``:

* p-median (pmed1-5): ReVelle-Swain with binary x_ij, x_ij <= y_j, sum_j x_ij = 1, sum_j y_j = p;
  ours: the same rows with continuous x (integral at the optimum), arrays passed to highspy in bulk;
  our heuristic: greedy + fast swap interchange (seed 0).
* capacitated location (cap41-44): textbook split-demand model (sum_i d_i x_ij <= s_j y_j, x in [0, 1]);
  ours adds the strong links x_ij <= y_j and the aggregate capacity cut.

Both MILPs stop at a relative gap of 1e-9 (``mip_rel_gap``). Each row prints seconds, objective, gap to
the published optimum, the status by nodeplan's rule (``optimal`` only when the solver's own bound is
within 1e-9 of its objective; scipy's status 0 only says "gap <= mip_rel_gap") and our/baseline time ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from benchdata import data_path
from nodeplan.placement import pmedian_heuristic, solve_capacitated, solve_pmedian
from nodeplan.placement.orlib import read_cap, read_optima, read_pmed
from nodeplan.placement.result import PROVEN_GAP, relative_gap

T = TypeVar("T")

DATA = data_path("placement")


#: The stopping gap of both MILPs.
REL_GAP = 1e-9


def _scipy_status(res: Any) -> str:
    """nodeplan's status rule applied to a scipy.optimize.milp result (its dual bound and objective)."""
    gap = relative_gap(float(res.fun), getattr(res, "mip_dual_bound", None))
    return "optimal" if gap is not None and gap <= PROVEN_GAP else "gap_limit"


def scipy_pmedian(cost: np.ndarray, p: int) -> tuple[float, float, str]:
    """Textbook p-median with scipy.optimize.milp; returns (objective, seconds, status)."""
    n, m = cost.shape
    k = n * m
    i, j = np.divmod(np.arange(k), m)
    assign = coo_matrix((np.ones(k), (i, np.arange(k))), shape=(n, k + m))
    link = coo_matrix(
        (
            np.concatenate([np.ones(k), -np.ones(k)]),
            (np.tile(np.arange(k), 2), np.concatenate([np.arange(k), k + j])),
        ),
        shape=(k, k + m),
    )
    card = coo_matrix((np.ones(m), (np.zeros(m, dtype=int), k + np.arange(m))), shape=(1, k + m))
    cons = [
        LinearConstraint(assign.tocsr(), 1, 1),
        LinearConstraint(link.tocsr(), -np.inf, 0),
        LinearConstraint(card.tocsr(), p, p),
    ]
    c = np.concatenate([cost.ravel(), np.zeros(m)])
    t0 = time.perf_counter()
    res = milp(
        c, constraints=cons, integrality=np.ones(k + m), bounds=Bounds(0, 1), options={"mip_rel_gap": REL_GAP}
    )
    dt = time.perf_counter() - t0
    if res.status != 0:
        raise RuntimeError(f"scipy milp: {res.message}")
    return float(res.fun), dt, _scipy_status(res)


def scipy_cfl(cost: np.ndarray, d: np.ndarray, s: np.ndarray, f: np.ndarray) -> tuple[float, float, str]:
    """Textbook split-demand capacitated location with scipy.optimize.milp; returns (objective, seconds,
    status)."""
    n, m = cost.shape
    k = n * m
    i, j = np.divmod(np.arange(k), m)
    assign = coo_matrix((np.ones(k), (i, np.arange(k))), shape=(n, k + m))
    cap = coo_matrix(
        (
            np.concatenate([d[i], -s]),
            (np.concatenate([j, np.arange(m)]), np.concatenate([np.arange(k), k + np.arange(m)])),
        ),
        shape=(m, k + m),
    )
    cons = [LinearConstraint(assign.tocsr(), 1, 1), LinearConstraint(cap.tocsr(), -np.inf, 0)]
    c = np.concatenate([cost.ravel(), f])
    integ = np.concatenate([np.zeros(k), np.ones(m)])
    t0 = time.perf_counter()
    res = milp(c, constraints=cons, integrality=integ, bounds=Bounds(0, 1), options={"mip_rel_gap": REL_GAP})
    dt = time.perf_counter() - t0
    if res.status != 0:
        raise RuntimeError(f"scipy milp: {res.message}")
    return float(res.fun), dt, _scipy_status(res)


def _timed(fn: Callable[..., T], *args: Any, **kw: Any) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> int:
    popt = read_optima(DATA / "orlib_pmed" / "pmedopt.txt")
    copt = read_optima(DATA / "orlib_cap" / "capopt.txt")
    head = (
        f"{'instance':9} {'solver':14} {'seconds':>8} {'objective':>14} {'gap to opt':>11} {'status':>10} "
        f"{'time ratio':>11}"
    )
    print("p-median (OR-Library pmed, last-occurrence edges, all-pairs shortest paths)")
    print(head)
    totals = {"ours": 0.0, "heur": 0.0, "scipy": 0.0}
    for k in range(1, 6):
        name = f"pmed{k}"
        inst = read_pmed(DATA / "orlib_pmed" / f"{name}.txt")
        opt = popt[name]
        ours, t_ours = _timed(solve_pmedian, inst.cost, inst.p, rel_gap=REL_GAP)
        heur, t_heur = _timed(pmedian_heuristic, inst.cost, inst.p, seed=0)
        sp_obj, t_sp, sp_status = scipy_pmedian(inst.cost, inst.p)
        totals["ours"] += t_ours
        totals["heur"] += t_heur
        totals["scipy"] += t_sp
        for label, obj, t, status in (
            ("nodeplan milp", ours.objective, t_ours, ours.status.value),
            ("nodeplan heur", heur.objective, t_heur, heur.status.value),
            ("scipy milp", sp_obj, t_sp, sp_status),
        ):
            ratio = f"{t / t_sp:10.2f}x" if label != "scipy milp" else f"{'1.00x':>11}"
            print(
                f"{name:9} {label:14} {t:8.3f} {obj:14.1f} {100 * (obj / opt - 1):10.3f}% {status:>10} {ratio}"
            )
    print(
        f"pmed1-5 total: nodeplan milp {totals['ours']:.2f} s, heuristic {totals['heur']:.2f} s, scipy milp "
        f"{totals['scipy']:.2f} s; milp/scipy {totals['ours'] / totals['scipy']:.2f}x, heuristic/scipy "
        f"{totals['heur'] / totals['scipy']:.3f}x"
    )
    print()
    print("capacitated location, split demand (OR-Library cap41-44)")
    print(head)
    t_o = t_s = 0.0
    for name in ("cap41", "cap42", "cap43", "cap44"):
        inst = read_cap(DATA / "orlib_cap" / f"{name}.txt")
        opt = copt[name]
        ours, t_ours = _timed(
            solve_capacitated, inst.cost, inst.demand, inst.capacity, inst.fixed_cost, rel_gap=REL_GAP
        )
        sp_obj, t_sp, sp_status = scipy_cfl(inst.cost, inst.demand, inst.capacity, inst.fixed_cost)
        t_o += t_ours
        t_s += t_sp
        print(
            f"{name:9} {'nodeplan milp':14} {t_ours:8.3f} {ours.objective:14.3f} {100 * (ours.objective / opt - 1):10.5f}% "
            f"{ours.status.value:>10} {t_ours / t_sp:10.2f}x"
        )
        print(
            f"{name:9} {'scipy milp':14} {t_sp:8.3f} {sp_obj:14.3f} {100 * (sp_obj / opt - 1):10.5f}% "
            f"{sp_status:>10} {'1.00x':>11}"
        )
    print(f"cap41-44 total: nodeplan milp {t_o:.3f} s, scipy milp {t_s:.3f} s; ratio {t_o / t_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
