"""A numpy view of a scenario for vectorised code (routing, audit, simulation).

Nodes are rows, models are columns; dependency dimensions are integer-coded with ``-1`` for an unknown
value, so "do nodes i and j share a provider" is ``codes[i, k] == codes[j, k] and codes[i, k] >= 0``.
Node attributes are coded the same way in separate arrays (``attribute_codes``): they are never dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nodeplan.scenario.model import DEPENDENCY_DIMENSIONS, NodeStatus, Role, Scenario, VerificationMode

__all__ = ["MODE_ORDER", "ROLE_ORDER", "ScenarioArrays", "compile_scenario"]

ROLE_ORDER: tuple[Role, ...] = tuple(Role)
MODE_ORDER: tuple[VerificationMode, ...] = tuple(VerificationMode)


@dataclass(frozen=True, eq=False)
class ScenarioArrays:
    """Column arrays of a :class:`Scenario` (n nodes, m models, d dimensions).

    Attributes
    ----------
    node_ids : node id of each row
    lat, lon : (n,) degrees
    roles : (n, len(ROLE_ORDER)) bool, column order :data:`ROLE_ORDER`
    modes : (n, len(MODE_ORDER)) bool, verification modes supported, column order :data:`MODE_ORDER`
    up : (n,) bool, status is ``up``
    capacity : (n,) int, concurrent request slots
    hardware : (n,) hardware class name per node
    price_usd_per_hour, stake, gpu_memory_gb, disk_gb, bandwidth_gbps : (n,) float
    model_ids : model id of each column
    model_size_bytes : (m,) float
    warm, stored : (n, m) bool
    dims : dimension names, column order of ``dim_codes``
    dim_codes : (n, d) int32, index into ``dim_values[k]`` or -1 when unknown
    dim_values : per dimension, the distinct known values (sorted)
    attributes : node attribute names (sorted), column order of ``attribute_codes``; never dimensions
    attribute_codes : (n, a) int32, index into ``attribute_values[k]`` or -1 when the node lacks it
    attribute_values : per attribute, the distinct values (booleans first, then text, sorted)
    derived_providers : ``(provider, nodes)`` derived from ASNs when the codes were completed
        (:func:`nodeplan.model.codes.compile_network`); empty for raw arrays
    """

    node_ids: tuple[str, ...]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    roles: NDArray[np.bool_]
    modes: NDArray[np.bool_]
    up: NDArray[np.bool_]
    capacity: NDArray[np.int64]
    hardware: tuple[str, ...]
    price_usd_per_hour: NDArray[np.float64]
    stake: NDArray[np.float64]
    gpu_memory_gb: NDArray[np.float64]
    disk_gb: NDArray[np.float64]
    bandwidth_gbps: NDArray[np.float64]
    model_ids: tuple[str, ...]
    model_size_bytes: NDArray[np.float64]
    warm: NDArray[np.bool_]
    stored: NDArray[np.bool_]
    dims: tuple[str, ...]
    dim_codes: NDArray[np.int32]
    dim_values: tuple[tuple[str, ...], ...]
    attributes: tuple[str, ...]
    attribute_codes: NDArray[np.int32]
    attribute_values: tuple[tuple[bool | str, ...], ...]
    derived_providers: tuple[tuple[str, int], ...] = ()

    @property
    def n_nodes(self) -> int:
        """Number of nodes (rows)."""
        return len(self.node_ids)

    def role(self, role: Role | str) -> NDArray[np.bool_]:
        """(n,) mask of nodes that have ``role``."""
        return self.roles[:, ROLE_ORDER.index(Role(role))]

    def mode(self, mode: VerificationMode | str) -> NDArray[np.bool_]:
        """(n,) mask of nodes that support verification ``mode``."""
        return self.modes[:, MODE_ORDER.index(VerificationMode(mode))]

    def model_index(self, model_id: str) -> int:
        """Column of ``model_id`` (raises ``KeyError`` when absent)."""
        return self.model_ids.index(model_id)

    def dim_index(self, dim: str) -> int:
        """Column of dimension ``dim`` in ``dim_codes``."""
        return self.dims.index(dim)


def _encode(raw: Sequence[Any], key: Callable[[Any], Any] | None = None) -> tuple[list[int], tuple[Any, ...]]:
    """Codes (``-1`` for ``None``) into the distinct known values of ``raw``, sorted by ``key``."""
    known = tuple(sorted({v for v in raw if v is not None}, key=key))
    index: dict[Hashable, int] = {v: c for c, v in enumerate(known)}
    index[None] = -1
    return [index[v] for v in raw], known


def _bool_then_text(v: bool | str) -> tuple[bool, str]:
    return isinstance(v, str), str(v)


def compile_scenario(scenario: Scenario) -> ScenarioArrays:
    """Build the raw :class:`ScenarioArrays` view of ``scenario`` (O(n·(m+d+a)), a = attributes), codes
    as written.

    Every part of nodeplan uses :func:`nodeplan.model.codes.compile_network` instead, which completes
    the dependency codes once.
    """
    nodes = scenario.nodes
    model_ids = tuple(m.id for m in scenario.models)
    col = {mid: j for j, mid in enumerate(model_ids)}
    n, m = len(nodes), len(model_ids)
    warm = np.zeros((n, m), dtype=bool)
    stored = np.zeros((n, m), dtype=bool)
    for target, field in ((warm, "warm_models"), (stored, "stored_models")):
        pairs = [(i, col[x]) for i, node in enumerate(nodes) for x in getattr(node, field)]
        if pairs:
            rows, cols = zip(*pairs, strict=True)
            target[list(rows), list(cols)] = True
    dims = scenario.dimensions()
    codes = np.full((n, len(dims)), -1, dtype=np.int32)
    values: list[tuple[str, ...]] = []
    for k, dim in enumerate(dims):
        if dim in DEPENDENCY_DIMENSIONS:
            raw = [getattr(node, dim) for node in nodes]
            if dim == "asn":
                raw = [None if v is None else str(v) for v in raw]
        else:
            raw = [node.dims.get(dim) for node in nodes]
        codes[:, k], known = _encode(raw)
        values.append(known)
    attrs = scenario.attribute_names()
    attr_codes = np.full((n, len(attrs)), -1, dtype=np.int32)
    attr_values: list[tuple[bool | str, ...]] = []
    for k, name in enumerate(attrs):
        attr_codes[:, k], known = _encode([node.attributes.get(name) for node in nodes], _bool_then_text)
        attr_values.append(known)
    return ScenarioArrays(
        node_ids=tuple(x.id for x in nodes),
        lat=np.array([x.lat for x in nodes], dtype=float),
        lon=np.array([x.lon for x in nodes], dtype=float),
        roles=np.array([[r in x.roles for r in ROLE_ORDER] for x in nodes], dtype=bool).reshape(n, -1),
        modes=np.array([[v in x.verification_modes for v in MODE_ORDER] for x in nodes], dtype=bool).reshape(
            n, -1
        ),
        up=np.array([x.status is NodeStatus.UP for x in nodes], dtype=bool),
        capacity=np.array([x.capacity for x in nodes], dtype=np.int64),
        hardware=tuple(x.hardware for x in nodes),
        price_usd_per_hour=np.array([x.price_usd_per_hour for x in nodes], dtype=float),
        stake=np.array([x.stake for x in nodes], dtype=float),
        gpu_memory_gb=np.array([x.gpu_memory_gb for x in nodes], dtype=float),
        disk_gb=np.array([x.disk_gb for x in nodes], dtype=float),
        bandwidth_gbps=np.array([x.bandwidth_gbps for x in nodes], dtype=float),
        model_ids=model_ids,
        model_size_bytes=np.array([x.size_bytes for x in scenario.models], dtype=float),
        warm=warm,
        stored=stored,
        dims=dims,
        dim_codes=codes,
        dim_values=tuple(values),
        attributes=attrs,
        attribute_codes=attr_codes,
        attribute_values=tuple(attr_values),
    )
