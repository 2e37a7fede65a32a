"""The dependency graph of a scenario and its number of independent failure domains.

Each node depends on one value per dependency dimension; some dimensions nest (DESIGN.md)::

    node -> data_center -> provider_region -> provider
    node -> country -> jurisdiction
    node -> asn | operator | tee_vendor | software_client | user dimensions

Two nodes **share a dependency** when they have a common *known* ancestor: the same provider, the same
ASN, the same data center (hence its region and provider), ... An unknown value (code ``-1``) is never a
shared ancestor. Where a node's parent is unknown but its child value (e.g. the data center) occurs on
other nodes with exactly one known parent, :func:`complete_codes` fills it in: a data center seen as
Hetzner's on one node is Hetzner's on all.

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

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.providers import ProviderMap, default_provider_map

__all__ = [
    "HIERARCHY",
    "DomainSummary",
    "ancestor_closure",
    "complete_codes",
    "component_labels",
    "fill_providers_from_asn",
    "independent_domains",
    "shared_probability",
]

#: Child dimension -> parent dimension (the nesting of DESIGN.md's dependency graph).
HIERARCHY: dict[str, str] = {
    "data_center": "provider_region",
    "provider_region": "provider",
    "country": "jurisdiction",
}


def _ancestors(dim: str) -> list[str]:
    out = []
    while dim in HIERARCHY:
        dim = HIERARCHY[dim]
        out.append(dim)
    return out


def ancestor_closure(dims: tuple[str, ...] | list[str], available: tuple[str, ...]) -> tuple[str, ...]:
    """``dims`` plus every ancestor of them that ``available`` has, in ``available`` order.

    >>> ancestor_closure(["data_center", "asn"], ("provider", "provider_region", "data_center", "asn"))
    ('provider', 'provider_region', 'data_center', 'asn')
    """
    want = set(dims)
    for d in dims:
        want.update(_ancestors(d))
    return tuple(d for d in available if d in want)


def complete_codes(arrays: ScenarioArrays) -> NDArray[np.int32]:
    """``arrays.dim_codes`` with unknown ancestors filled in from their children where unambiguous.

    For each pair (child, ancestor) of :data:`HIERARCHY` (transitively: a data center also implies its
    provider), nodes with a known child value and an unknown ancestor take the ancestor value that all
    other nodes with that child value agree on. Conflicting evidence (a colocation site seen under two
    providers) fills nothing. Known values are never changed. Vectorised with ``np.minimum.at``.
    """
    codes = arrays.dim_codes.copy()
    pairs = [(c, a) for c in arrays.dims for a in _ancestors(c) if a in arrays.dims]
    # Leaves first, so that a region filled from a data center can then fill the provider.
    pairs.sort(key=lambda ca: -len(_ancestors(ca[0])))
    for child, anc in pairs:
        ci, ai = arrays.dim_index(child), arrays.dim_index(anc)
        c, a = codes[:, ci], codes[:, ai]
        nv = len(arrays.dim_values[ci])
        both = (c >= 0) & (a >= 0)
        if not both.any():
            continue
        lo = np.full(nv, np.iinfo(np.int32).max, dtype=np.int64)
        hi = np.full(nv, -1, dtype=np.int64)
        np.minimum.at(lo, c[both], a[both])
        np.maximum.at(hi, c[both], a[both])
        fill = (c >= 0) & (a < 0)
        if not fill.any():
            continue
        cf = c[fill]
        ok = (hi[cf] >= 0) & (lo[cf] == hi[cf])
        idx = np.flatnonzero(fill)[ok]
        codes[idx, ai] = hi[cf[ok]].astype(np.int32)
    return codes


def fill_providers_from_asn(
    arrays: ScenarioArrays,
    codes: NDArray[np.int32] | None = None,
    mapping: ProviderMap | None = None,
) -> tuple[ScenarioArrays, NDArray[np.int32], tuple[tuple[str, int], ...]]:
    """Provider derived from the ASN (``nodeplan.scenario.providers``) where it is still unknown.

    Runs after :func:`complete_codes`, so a provider given on the node, or implied by its data center, always
    wins over the ASN table. An ASN the mapping does not list leaves the provider unknown (never guessed).
    The new provider names join ``dim_values`` (kept sorted) and every provider code is remapped, in both
    ``arrays.dim_codes`` (so a map coloured by provider sees them) and ``codes``.

    Returns
    -------
    arrays, codes : the updated view and codes (the inputs when nothing was derived)
    derived : ``(provider, nodes)`` for each derived provider, most nodes first

    Examples
    --------
    >>> from nodeplan.scenario.arrays import compile_scenario
    >>> from nodeplan.scenario.model import Node, Scenario
    >>> nodes = [Node(id="a", lat=0, lon=0, roles={"storage"}, asn=24940),
    ...          Node(id="b", lat=0, lon=0, roles={"storage"}, asn=64512),
    ...          Node(id="c", lat=0, lon=0, roles={"storage"}, asn=16509, provider="my-colo")]
    >>> a, codes, derived = fill_providers_from_asn(compile_scenario(Scenario(nodes=nodes)))
    >>> derived, a.dim_values[a.dim_index("provider")], codes[:, a.dim_index("provider")].tolist()
    ((('hetzner', 1),), ('hetzner', 'my-colo'), [0, -1, 1])
    """
    codes = arrays.dim_codes.copy() if codes is None else codes
    if "provider" not in arrays.dims or "asn" not in arrays.dims:
        return arrays, codes, ()
    pk, ak = arrays.dim_index("provider"), arrays.dim_index("asn")
    need = (codes[:, pk] < 0) & (codes[:, ak] >= 0)
    if not need.any():
        return arrays, codes, ()
    table = mapping or default_provider_map()
    asn_values = arrays.dim_values[ak]
    wanted = np.unique(codes[need, ak])
    by_code = {int(c): table.of_asn(int(asn_values[c])) for c in wanted}
    found = {c: p for c, p in by_code.items() if p is not None}
    if not found:
        return arrays, codes, ()
    old = arrays.dim_values[pk]
    values = tuple(sorted(set(old) | set(found.values())))
    index = {v: i for i, v in enumerate(values)}
    remap = np.array([index[v] for v in old] + [-1], dtype=np.int32)  # last slot: code -1 stays -1
    asn_to_new = np.full(len(asn_values), -1, dtype=np.int32)
    for c, prov in found.items():
        asn_to_new[c] = index[prov]
    new_codes = codes.copy()
    new_codes[:, pk] = remap[codes[:, pk]]
    fill = need & (asn_to_new[np.maximum(codes[:, ak], 0)] >= 0)
    new_codes[fill, pk] = asn_to_new[codes[fill, ak]]
    dim_codes = arrays.dim_codes.copy()
    dim_codes[:, pk] = remap[dim_codes[:, pk]]
    dim_codes[fill, pk] = new_codes[fill, pk]
    dim_values = tuple(values if k == pk else v for k, v in enumerate(arrays.dim_values))
    counts = np.bincount(new_codes[fill, pk], minlength=len(values))
    derived = tuple((values[i], int(counts[i])) for i in np.argsort(-counts, kind="stable") if counts[i] > 0)
    return replace(arrays, dim_codes=dim_codes, dim_values=dim_values), new_codes, derived


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
