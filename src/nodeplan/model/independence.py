"""Choosing K verifiers independent of the executor and of each other, and reporting what they share.

Two nodes *share* dimension ``d`` when both have a known value there and the values are equal; an
unknown value (code ``-1``) never counts as shared but is reported as unknown. The codes are the
completed ones of :func:`nodeplan.model.codes.compile_network`, so the router, the audit and the planner
agree on which pairs share a dependency.

Selection (:func:`select_independent`), candidates ranked by a cost vector (lower is better). The verifiers
work in parallel, so a set is as slow as its costliest member: the rule is the compliant set with the
**smallest largest cost** (the bottleneck), ties to the cheaper positions in (cost, row) order:

1. **Greedy**: take the cheapest candidate that shares nothing with the executor and with the
   verifiers already taken; repeat K times. O(K · n · d) numpy, no sort. For K = 1 this is the answer.
2. For K >= 2, an **exact search** then checks whether a set with a smaller bottleneck exists: for each
   candidate in cost order, below the greedy set's bottleneck, a depth-first search for K - 1 partners
   among the cheaper candidates compatible with it (pruned by counting distinct values per dimension).
   When greedy gets stuck, the same search runs over every candidate. It finds the min-bottleneck
   compliant set whenever one exists, unless it exceeds ``max_expansions`` search nodes (then: the
   greedy set if it had one, otherwise the route is reported degraded with that reason).
3. If no compliant set exists: the **best available** set, built greedily to minimise the number of
   shared (pair, dimension) links, then cost; the caller marks the route degraded.

Removing candidates never lowers the bottleneck of the chosen compliant set (it is a minimum over fewer
sets), which keeps "served" and "verified" monotone under failures (the audit's property tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "IndependenceReport",
    "PairShare",
    "Selection",
    "SelectionStatus",
    "conflicts",
    "independence_report",
    "select_independent",
]


@dataclass(frozen=True)
class PairShare:
    """The dependency dimensions two nodes of a route share (``shared``) or cannot be compared on
    because one of them has no value (``unknown``; an unknown value never counts as shared)."""

    a: str
    b: str
    shared: tuple[str, ...]
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class IndependenceReport:
    """Which dimensions the executor and each verifier share, pair by pair.

    ``pairs`` lists executor-verifier pairs first (in verifier order), then verifier-verifier pairs.
    """

    dims: tuple[str, ...]
    pairs: tuple[PairShare, ...]

    @property
    def compliant(self) -> bool:
        """True when no pair shares any of ``dims``."""
        return not any(p.shared for p in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping."""
        return {
            "dims": list(self.dims),
            "compliant": self.compliant,
            "pairs": [
                {"a": p.a, "b": p.b, "shared": list(p.shared), "unknown": list(p.unknown)} for p in self.pairs
            ],
        }


class SelectionStatus(StrEnum):
    """Outcome of a verifier selection."""

    OK = "ok"  # K verifiers, pairwise independent and independent of the executor
    TOO_FEW = "too_few"  # fewer than K eligible candidates at all
    NO_COMPLIANT_SET = "no_compliant_set"  # proven: no K candidates are pairwise independent
    BUDGET = "budget"  # the exact search gave up before deciding


@dataclass(frozen=True)
class Selection:
    """Chosen verifier rows (in choice order), the outcome, and how many candidates were eligible."""

    rows: tuple[int, ...]
    status: SelectionStatus
    eligible: int


def conflicts(codes: NDArray[np.int32], i: int) -> NDArray[np.bool_]:
    """(n,) True where a node shares at least one known dimension value with node ``i``.

    ``codes`` is (d, n), one row per dimension, ``-1`` = unknown.

    >>> c = np.array([[0, 0, 1, -1], [5, 6, 5, 5]])
    >>> conflicts(c, 0).tolist()   # node 1 shares dim 0, node 2 shares dim 1, node 3 dim 1
    [True, True, True, True]
    >>> conflicts(np.array([[0, 0, -1]]), 2).tolist()  # unknown never shares
    [False, False, False]
    """
    out = np.zeros(codes.shape[1], dtype=bool)
    for row in codes:
        v = row[i]
        if v >= 0:
            out |= row == v
    return out


def _compatible(codes: NDArray[np.int32], c: int, rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """The entries of ``rows`` (columns of ``codes``) that share no known value with column ``c``."""
    keep = np.ones(rows.size, dtype=bool)
    for row in codes:
        v = row[c]
        if v >= 0:
            keep &= row[rows] != v
    return rows[keep]


def _count_conflicts(codes: NDArray[np.int32], i: int) -> NDArray[np.int64]:
    out = np.zeros(codes.shape[1], dtype=np.int64)
    for row in codes:
        v = row[i]
        if v >= 0:
            out += row == v
    return out


def select_independent(
    codes: NDArray[np.int32],
    executor: int,
    cost: NDArray[np.float64],
    k: int,
    *,
    enforce: bool = True,
    max_expansions: int = 4000,
) -> Selection:
    """Choose ``k`` verifier rows for ``executor``.

    Parameters
    ----------
    codes : (d, n) dimension codes of the independence dimensions, ``-1`` = unknown
    executor : row of the executor (never chosen as its own verifier)
    cost : (n,) ranking cost, lower is better; ``inf`` (or NaN) = not eligible
    k : number of verifiers wanted
    enforce : False = just the ``k`` cheapest (baselines that ignore independence)
    max_expansions : budget of the exact search, in search nodes

    Examples
    --------
    Executor 0 on provider 0; node 1 is the fastest but shares its provider:

    >>> codes = np.array([[0, 0, 1, 2]])
    >>> select_independent(codes, 0, np.array([np.inf, 1.0, 2.0, 3.0]), 1).rows
    (2,)
    """
    eligible = np.isfinite(cost)
    eligible[executor] = False
    n_eligible = int(eligible.sum())
    if k <= 0:
        return Selection((), SelectionStatus.OK, n_eligible)
    if not enforce:
        rows = _cheapest(cost, eligible, k)
        status = SelectionStatus.OK if len(rows) == k else SelectionStatus.TOO_FEW
        return Selection(rows, status, n_eligible)
    if n_eligible < k:
        return Selection(
            _best_available(codes, executor, cost, eligible, k), SelectionStatus.TOO_FEW, n_eligible
        )
    ok = eligible & ~conflicts(codes, executor)
    # 1. greedy
    chosen: list[int] = []
    masked = np.where(ok, cost, np.inf)
    for _ in range(k):
        i = int(np.argmin(masked))
        if not np.isfinite(masked[i]):
            break
        chosen.append(i)
        drop = conflicts(codes, i)
        drop[i] = True
        masked[drop] = np.inf
    if k == 1 and chosen:
        return Selection(tuple(chosen), SelectionStatus.OK, n_eligible)
    # 2. exact min-bottleneck search over the executor-compatible pool, in (cost, row) order
    pool = np.flatnonzero(ok)
    pool = pool[np.lexsort((pool, cost[pool]))]
    greedy = tuple(chosen) if len(chosen) == k else None
    upto = pool.size if greedy is None else int(np.flatnonzero(pool == greedy[-1])[0])
    found, exhausted = _min_bottleneck(codes, pool, k, upto, max_expansions)
    if found is not None:
        return Selection(found, SelectionStatus.OK, n_eligible)
    if greedy is not None:  # nothing cheaper (or the search gave up): greedy's set stands
        return Selection(greedy, SelectionStatus.OK, n_eligible)
    status = SelectionStatus.BUDGET if exhausted else SelectionStatus.NO_COMPLIANT_SET
    return Selection(_best_available(codes, executor, cost, eligible, k), status, n_eligible)


def _min_bottleneck(
    codes: NDArray[np.int32], pool: NDArray[np.int64], k: int, upto: int, budget: int
) -> tuple[tuple[int, ...] | None, bool]:
    """The pairwise-independent ``k``-set of ``pool`` (in cost order) whose last member comes first,
    looking at last members ``pool[k-1 : upto]`` only. Returns (rows in cost order or None, gave up)."""
    spent = 0
    for last in range(k - 1, upto):
        c = int(pool[last])
        partners = _compatible(codes, c, pool[:last])
        if partners.size < k - 1:
            continue
        found, used, exhausted = _search(codes, partners, k - 1, budget - spent)
        spent += used
        if found is not None:
            return (*found, c), False
        if exhausted:
            return None, True
    return None, False


def _cheapest(cost: NDArray[np.float64], eligible: NDArray[np.bool_], k: int) -> tuple[int, ...]:
    """Up to ``k`` eligible rows by (cost, row)."""
    rows = np.flatnonzero(eligible)
    if rows.size > k:
        part = np.argpartition(cost[rows], k - 1)[:k]
        kth = cost[rows[part]].max()
        rows = rows[cost[rows] <= kth]  # keep every row tied with the k-th so ties resolve by row
    rows = rows[np.argsort(cost[rows], kind="stable")][:k]
    return tuple(int(r) for r in rows)


def _upper_bound(codes: NDArray[np.int32], pool: NDArray[np.int64]) -> int:
    """Largest pairwise-independent subset of ``pool`` can hold at most this many nodes."""
    best = pool.size
    for row in codes:
        vals = row[pool]
        known = vals[vals >= 0]
        best = min(best, int(np.unique(known).size) + int(vals.size - known.size))
    return best


def _search(
    codes: NDArray[np.int32], pool: NDArray[np.int64], k: int, budget: int
) -> tuple[tuple[int, ...] | None, int, bool]:
    """Depth-first search for ``k`` pairwise-independent rows of ``pool`` (kept in order).

    Returns (rows or None, search nodes expanded, budget exhausted).
    """
    if k == 0:
        return (), 0, False
    sub = codes[:, pool]
    expansions = 0

    def dfs(cands: NDArray[np.int64], chosen: list[int]) -> tuple[int, ...] | None:
        nonlocal expansions
        need = k - len(chosen)
        if need == 0:
            return tuple(chosen)
        if cands.size < need or _upper_bound(sub, cands) < need:
            return None
        for pos in range(cands.size - need + 1):
            expansions += 1
            if expansions > budget:
                return None
            c = int(cands[pos])
            rest = _compatible(sub, c, cands[pos + 1 :])
            got = dfs(rest, [*chosen, c])
            if got is not None:
                return got
            if expansions > budget:
                return None
        return None

    got = dfs(np.arange(pool.size), [])
    if got is None:
        return None, expansions, expansions > budget
    return tuple(int(pool[p]) for p in got), expansions, False


def _best_available(
    codes: NDArray[np.int32], executor: int, cost: NDArray[np.float64], eligible: NDArray[np.bool_], k: int
) -> tuple[int, ...]:
    """Greedy: fewest shared (pair, dimension) links with the executor and the set so far, then cost."""
    links = _count_conflicts(codes, executor)
    left = eligible.copy()
    chosen: list[int] = []
    for _ in range(min(k, int(left.sum()))):
        fewest = links[left].min()
        cand = np.where(left & (links == fewest), cost, np.inf)
        i = int(np.argmin(cand))
        chosen.append(i)
        left[i] = False
        links = links + _count_conflicts(codes, i)
    return tuple(chosen)


def independence_report(
    codes: NDArray[np.int32],
    dims: tuple[str, ...],
    node_ids: tuple[str, ...],
    executor: int,
    verifiers: tuple[int, ...],
) -> IndependenceReport:
    """Pairwise report: executor-verifier pairs, then verifier-verifier pairs.

    >>> r = independence_report(np.array([[0, 0, 1], [3, -1, 4]]), ("provider", "asn"), ("e", "v1", "v2"), 0, (1, 2))
    >>> [(p.a, p.b, p.shared, p.unknown) for p in r.pairs]
    [('e', 'v1', ('provider',), ('asn',)), ('e', 'v2', (), ()), ('v1', 'v2', (), ('asn',))]
    >>> r.compliant
    False
    """
    members = (executor, *verifiers)
    pairs = []
    for a_pos, a in enumerate(members):
        for b in members[a_pos + 1 :]:
            ca, cb = codes[:, a], codes[:, b]
            shared = tuple(d for d, x, y in zip(dims, ca, cb, strict=True) if x >= 0 and x == y)
            unknown = tuple(d for d, x, y in zip(dims, ca, cb, strict=True) if x < 0 or y < 0)
            pairs.append(PairShare(node_ids[a], node_ids[b], shared, unknown))
    return IndependenceReport(dims, tuple(pairs))
