"""The dependency graph of a scenario and its number of independent failure domains.

Each node depends on one value per dependency dimension; some dimensions nest (DESIGN.md)::

    node -> data_center -> provider_region -> provider
    node -> country -> jurisdiction
    node -> asn | operator | tee_vendor | software_client | user dimensions

Two nodes **share a dependency** when they have a common *known* ancestor: the same provider, the same
ASN, the same data center (hence its region and provider), ... An unknown value (code ``-1``) is never a
shared ancestor. Where a node's parent is unknown but its child value (e.g. the data center) occurs on
other nodes with exactly one known parent, :func:`~nodeplan.model.codes.complete_codes` fills it in (at compile time, once for every part): a
data center seen as Hetzner's on one node is Hetzner's on all.

Effective number of independent failure domains
-----------------------------------------------
Pick the units of weight (nodes, capacity or stake) of one role. Let ``P`` be the probability that two
units drawn at random (with replacement) share at least one dependency of the chosen dimensions. Then the
effective number of independent failure domains is ``1 / P``. When the dimensions partition the nodes
(one dimension, or nested ones) ``P = Σ p_i²`` and this is ``1 / HHI`` (the inverse Simpson index);
when the dimensions overlap (nodes on different providers sharing an ASN), it counts the overlap once.
``P`` is computed exactly by inclusion-exclusion over the subsets ``S`` of dimensions::

    P = Σ_{S ≠ ∅} (-1)^{|S|+1} Σ_g (w_g / W)²

where ``g`` runs over groups of nodes that agree (and are known) on every dimension of ``S``.
The *connected components* of the node-value graph give the other, conservative view: groups of nodes
that no chain of shared dependencies links.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nodeplan.model.codes import ancestor_closure
from nodeplan.scenario.arrays import ScenarioArrays

__all__ = [
    "DomainSummary",
    "component_labels",
    "independent_domains",
    "shared_probability",
]


def component_labels(codes: NDArray[np.integer]) -> NDArray[np.int64]:
    """Connected components of the graph linking nodes that share a known value in any column.

    Returns, for each row, the smallest row index of its component (label propagation with pointer
    jumping; O(n·d) per round, few rounds).

    >>> component_labels(np.array([[0, -1], [1, 5], [0, 5], [2, -1]])).tolist()
    [0, 0, 0, 3]
    """
    n, d = codes.shape
    labels = np.arange(n, dtype=np.int64)
    cols = []
    for k in range(d):
        rows = np.flatnonzero(codes[:, k] >= 0)
        if rows.size:
            cols.append((rows, codes[rows, k].astype(np.int64), int(codes[rows, k].max()) + 1))
    while True:
        before = labels.copy()
        for rows, c, nv in cols:
            m = np.full(nv, n, dtype=np.int64)
            np.minimum.at(m, c, labels[rows])
            labels[rows] = np.minimum(labels[rows], m[c])
        while True:  # pointer jumping: a label's own label is at most itself
            nxt = labels[labels]
            if np.array_equal(nxt, labels):
                break
            labels = nxt
        if np.array_equal(labels, before):
            return labels


def shared_probability(codes: NDArray[np.integer], weights: NDArray[np.float64]) -> float | None:
    """Probability that two units of weight drawn with replacement share a known value in some column.

    Exact, by inclusion-exclusion over the non-empty subsets of columns (``2**d - 1`` groupings, each
    built from its parent subset's grouping with one 1-D ``np.unique``). Columns with no known value are
    dropped first (they share nothing). ``None`` when the total weight is 0.

    >>> codes = np.array([[0, 0], [0, 1], [1, 1], [2, 2]])  # node 1 shares with 0 (col 0) and 2 (col 1)
    >>> round(shared_probability(codes, np.ones(4)), 6)  # pairs sharing: 4 self + (0,1),(1,2) both ways
    0.5
    """
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    if total <= 0:
        return None
    cols = [codes[:, k].astype(np.int64) for k in range(codes.shape[1]) if np.any(codes[:, k] >= 0)]
    radix = [int(c.max()) + 2 for c in cols]
    p = 0.0

    def visit(start: int, key: NDArray[np.int64], known: NDArray[np.bool_], size: int) -> None:
        nonlocal p
        for k in range(start, len(cols)):
            kn = known & (cols[k] >= 0)
            if not kn.any():
                continue
            _, dense = np.unique(key[kn] * radix[k] + cols[k][kn], return_inverse=True)
            gw = np.bincount(dense.ravel(), weights=w[kn]) / total
            p += (1.0 if size % 2 else -1.0) * float(np.sum(gw * gw))
            sub_key = np.zeros_like(key)
            sub_key[kn] = dense.ravel()
            visit(k + 1, sub_key, kn, size + 1)

    visit(0, np.zeros(codes.shape[0], dtype=np.int64), np.ones(codes.shape[0], dtype=bool), 1)
    return p


@dataclass(frozen=True)
class DomainSummary:
    """Apparent vs effective decentralization of one role (live nodes only).

    Attributes
    ----------
    role : role name or ``"all"``
    nodes : live nodes with the role
    countries : distinct known countries among them (the *apparent* spread)
    locations : distinct locations (coordinates rounded to 0.1 degree, ~10 km)
    dims : the dimensions whose shared values count as shared dependencies (with ancestors)
    effective_domains : ``1 / P(two units of weight share a dependency)``; ``None`` if no weight
    components : connected groups of nodes that share nothing with other groups
    largest_component_share : weight share of the largest such group
    unknown_share : weight share of nodes with no known value in any of ``dims`` (they count as
        independent singletons above, so a large value makes ``effective_domains`` optimistic)
    """

    role: str
    nodes: int
    countries: int
    locations: int
    dims: tuple[str, ...]
    effective_domains: float | None
    components: int
    largest_component_share: float
    unknown_share: float


def independent_domains(
    arrays: ScenarioArrays,
    codes: NDArray[np.integer],
    mask: NDArray[np.bool_],
    weights: NDArray[np.float64],
    dims: tuple[str, ...],
    role: str,
) -> DomainSummary:
    """Effective number of independent failure domains among the nodes in ``mask`` (see module doc).

    ``codes`` should come from :func:`complete_codes`; ``dims`` are closed under ancestors by
    :func:`ancestor_closure` here.
    """
    dims = ancestor_closure(dims, arrays.dims)
    cols = np.array([arrays.dim_index(d) for d in dims], dtype=np.intp)
    sub = codes[np.ix_(mask, cols)] if cols.size else np.empty((int(mask.sum()), 0), dtype=np.int32)
    w = weights[mask]
    total = float(w.sum())
    eff: float | None = None
    comps, largest, unknown = 0, 0.0, 0.0
    if sub.shape[0]:
        p = shared_probability(sub, w)
        eff = None if p is None or p <= 0 else 1.0 / p
        labels = component_labels(sub)
        _, inv = np.unique(labels, return_inverse=True)
        cw = np.bincount(inv.ravel(), weights=w)
        comps = int(cw.size)
        if total > 0:
            largest = float(cw.max() / total)
            unknown = float(w[np.all(sub < 0, axis=1)].sum() / total) if sub.shape[1] else 1.0
    ci = arrays.dim_index("country") if "country" in arrays.dims else None
    countries = 0 if ci is None else int(np.unique(codes[mask, ci][codes[mask, ci] >= 0]).size)
    locs = np.round(np.column_stack([arrays.lat[mask], arrays.lon[mask]]), 1)
    locations = int(np.unique(locs, axis=0).shape[0]) if locs.size else 0
    return DomainSummary(
        role=role,
        nodes=int(mask.sum()),
        countries=countries,
        locations=locations,
        dims=dims,
        effective_domains=eff,
        components=comps,
        largest_component_share=largest,
        unknown_share=unknown,
    )
