"""Dependency codes, completed once: the codes every part of nodeplan reads.

:func:`compile_network` is the one way the router, the audit, Monte Carlo, the request simulation, the
planner and advise turn a scenario into arrays. Its ``dim_codes`` are *completed*:

1. **Hierarchy** (:func:`complete_codes`): DESIGN.md's graph ``node -> data_center -> provider_region ->
   provider`` and ``country -> jurisdiction``. A node with a known child value and an unknown ancestor
   takes the ancestor value that every other node with that child value agrees on (a data center seen as
   Hetzner's on one node is Hetzner's on all). Conflicting evidence fills nothing.
2. **Provider from ASN / organisation** (:func:`fill_providers_from_asn`): where the provider is still
   unknown, the shipped ASN table (``scenario/data/providers.csv``) names it; an ASN it does not list
   leaves the provider unknown (never guessed).

Unknown values stay ``-1``: they are never a shared dependency and never a failure domain.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from nodeplan.scenario.arrays import ScenarioArrays, compile_scenario
from nodeplan.scenario.model import Scenario
from nodeplan.scenario.providers import ProviderMap, default_provider_map

__all__ = [
    "HIERARCHY",
    "ancestor_closure",
    "compile_network",
    "complete_arrays",
    "complete_codes",
    "fill_providers_from_asn",
]


def compile_network(
    scenario: Scenario, *, derive_providers: bool = True, mapping: ProviderMap | None = None
) -> ScenarioArrays:
    """The arrays of ``scenario`` with completed dependency codes (see the module docstring).

    ``derive_providers=False`` skips step 2 (the audit's ``--no-derive-providers``). What step 2 derived
    is in ``arrays.derived_providers``.

    Examples
    --------
    >>> from nodeplan.scenario.model import Node, Scenario
    >>> sc = Scenario(nodes=[Node(id="a", lat=0, lon=0, roles={"storage"}, asn=24940),
    ...                      Node(id="b", lat=0, lon=0, roles={"storage"}, provider="hetzner")])
    >>> a = compile_network(sc)
    >>> a.dim_codes[:, a.dim_index("provider")].tolist(), a.derived_providers
    ([0, 0], (('hetzner', 1),))
    """
    arrays = compile_scenario(scenario)
    return complete_arrays(arrays, derive_providers=derive_providers, mapping=mapping)


def complete_arrays(
    arrays: ScenarioArrays, *, derive_providers: bool = True, mapping: ProviderMap | None = None
) -> ScenarioArrays:
    """``arrays`` with completed ``dim_codes`` (idempotent: completing twice changes nothing)."""
    codes = complete_codes(arrays)
    derived: tuple[tuple[str, int], ...] = ()
    if derive_providers:
        arrays, codes, derived = fill_providers_from_asn(arrays, codes, mapping)
    return replace(arrays, dim_codes=codes, derived_providers=arrays.derived_providers + derived)


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
