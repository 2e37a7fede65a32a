"""Readers for the OR-Library placement benchmarks (J.E. Beasley): p-median and capacitated location.

* ``pmedN.txt`` (Beasley 1985): first line ``n m p``, then ``m`` edge lines ``i j cost`` (1-based,
  undirected). Beasley's instructions read each edge in turn and set ``c(i, j) = cost``, so a repeated
  edge takes its **last** value; all-pairs shortest paths then give the client-to-site costs. Keeping the
  cheapest parallel edge instead changes the answer (pmed1: 5718 instead of the published 5819).
* ``capNN.txt`` (Beasley 1988): ``m n``; ``m`` lines ``capacity fixed_cost``; per customer its
  ``demand`` then ``m`` costs, each the cost of serving **all** of the customer's demand from that
  warehouse. The published optima (``capopt.txt``) let a customer's demand be split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import DataImportError

__all__ = [
    "CapInstance",
    "PMedianInstance",
    "all_pairs_shortest_paths",
    "read_cap",
    "read_optima",
    "read_pmed",
]


@dataclass(frozen=True, eq=False)
class PMedianInstance:
    """An uncapacitated p-median instance: every vertex is both a client and a candidate site."""

    name: str
    cost: NDArray[np.float64]
    p: int


@dataclass(frozen=True, eq=False)
class CapInstance:
    """A capacitated facility location instance (``m`` sites, ``n`` customers).

    ``cost[i, j]`` is the cost of serving all of customer ``i``'s demand from site ``j``.
    """

    name: str
    capacity: NDArray[np.float64]
    fixed_cost: NDArray[np.float64]
    demand: NDArray[np.float64]
    cost: NDArray[np.float64]


def all_pairs_shortest_paths(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Floyd-Warshall on a dense matrix (``inf`` = no edge), one vectorised relaxation per pivot.

    >>> w = np.array([[0, 1, 9], [1, 0, 2], [9, 2, 0]], dtype=float)
    >>> all_pairs_shortest_paths(w)[0, 2]
    np.float64(3.0)
    """
    d = np.array(weights, dtype=float, copy=True)
    for k in range(d.shape[0]):
        np.minimum(d, d[:, k : k + 1] + d[k : k + 1, :], out=d)
    return d


def _tokens(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataImportError(f"or-library file {str(path)!r}: cannot read ({exc})") from exc


def read_pmed(path: str | Path, duplicates: Literal["last", "min"] = "last") -> PMedianInstance:
    """Read an OR-Library ``pmedN.txt`` and return shortest-path costs between all vertices.

    Parameters
    ----------
    duplicates : ``"last"`` (Beasley's rule, gives the published optima) or ``"min"`` (cheapest edge)
    """
    p_ = Path(path)
    tok = _tokens(p_)
    try:
        n, m, p = (int(t) for t in tok[:3])
        edges = np.array(tok[3 : 3 + 3 * m], dtype=float).reshape(m, 3)
    except ValueError as exc:
        raise DataImportError(f"or-library file {str(p_)!r}: malformed p-median header or edges") from exc
    if duplicates not in ("last", "min"):
        raise DataImportError(f"duplicates: must be 'last' or 'min' (got {duplicates!r})")
    i = edges[:, 0].astype(np.int64) - 1
    j = edges[:, 1].astype(np.int64) - 1
    c = edges[:, 2]
    if i.min() < 0 or j.min() < 0 or max(i.max(), j.max()) >= n:
        raise DataImportError(f"or-library file {str(p_)!r}: an edge names a vertex outside 1..{n}")
    w = np.full((n, n), np.inf)
    if duplicates == "last":
        # Beasley's rule: read the edges in order and set c(i, j) = cost, so a later line overwrites.
        last: dict[tuple[int, int], float] = {}
        for a, b, cost in zip(i.tolist(), j.tolist(), c.tolist(), strict=True):
            last[(min(a, b), max(a, b))] = cost
        keys = np.array(list(last), dtype=np.int64).reshape(-1, 2)
        vals = np.array(list(last.values()), dtype=float)
        w[keys[:, 0], keys[:, 1]] = vals
        w[keys[:, 1], keys[:, 0]] = vals
    else:
        np.minimum.at(w, (i, j), c)
        np.minimum.at(w, (j, i), c)
    np.fill_diagonal(w, 0.0)
    return PMedianInstance(name=p_.stem, cost=all_pairs_shortest_paths(w), p=p)


def read_cap(path: str | Path) -> CapInstance:
    """Read an OR-Library capacitated warehouse location file (``cap41`` ... ``cap74``)."""
    p_ = Path(path)
    tok = _tokens(p_)
    try:
        m, n = int(tok[0]), int(tok[1])
        head = np.array(tok[2 : 2 + 2 * m], dtype=float).reshape(m, 2)
        body = np.array(tok[2 + 2 * m : 2 + 2 * m + n * (m + 1)], dtype=float).reshape(n, m + 1)
    except ValueError as exc:
        raise DataImportError(f"or-library file {str(p_)!r}: malformed capacitated location data") from exc
    return CapInstance(
        name=p_.stem, capacity=head[:, 0], fixed_cost=head[:, 1], demand=body[:, 0], cost=body[:, 1:]
    )


def read_optima(path: str | Path) -> dict[str, float]:
    """Read ``pmedopt.txt`` or ``capopt.txt``: ``name value`` per line (header lines are skipped)."""
    out: dict[str, float] = {}
    for line in Path(path).read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return out
