"""Node attributes in the audit: how live nodes and stake split over each attribute's values.

Attributes (``Node.attributes``, e.g. Solana's ``doublezero`` and ``jito`` flags, Ethereum's ``hosting``)
describe nodes; they are not failure domains. The audit shows them with :func:`attribute_summary` and never
measures their concentration, fails them or checks independence on them (those use
``Scenario.dimensions()``, which leaves attributes out).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nodeplan.scenario.model import Scenario

__all__ = ["AttributeSummary", "AttributeValue", "attribute_summary"]


@dataclass(frozen=True)
class AttributeValue:
    """One value of an attribute among the live nodes.

    ``node_share`` is of the live nodes; ``stake_share`` of their stake (``None`` when they have none).
    """

    value: bool | str
    nodes: int
    node_share: float
    stake_share: float | None


@dataclass(frozen=True)
class AttributeSummary:
    """How the live nodes split over one attribute.

    ``values`` are the ``top_k`` values with most nodes (ties: most stake, then by name); ``distinct`` counts
    all values; ``unknown_nodes`` / ``unknown_share`` are the live nodes without the attribute; ``flag`` is
    true when every value is a boolean.
    """

    name: str
    flag: bool
    distinct: int
    values: tuple[AttributeValue, ...]
    unknown_nodes: int
    unknown_share: float


def attribute_summary(
    scenario: Scenario, live: NDArray[np.bool_], stake: NDArray[np.float64], top_k: int = 10
) -> tuple[AttributeSummary, ...]:
    """The split of the ``live`` nodes (mask in ``scenario.nodes`` order) over every attribute, by name.

    >>> from nodeplan.scenario.model import Node
    >>> nodes = [Node(id=f"n{i}", lat=0, lon=0, roles={"coordination"}, stake=s, attributes=a)
    ...          for i, (s, a) in enumerate([(3, {"dz": True}), (1, {"dz": False}), (0, {})])]
    >>> (s,) = attribute_summary(Scenario(nodes=nodes), np.ones(3, bool), np.array([3.0, 1.0, 0.0]))
    >>> [(v.value, v.nodes, round(v.node_share, 3), v.stake_share) for v in s.values], s.unknown_nodes
    ([(True, 1, 0.333, 0.75), (False, 1, 0.333, 0.25)], 1)
    """
    names = scenario.attribute_names()
    if not names:
        return ()
    idx = np.flatnonzero(live)
    n_live = len(idx)
    total_stake = float(stake[idx].sum())
    count: dict[str, Counter[bool | str]] = {a: Counter() for a in names}
    weight: dict[str, defaultdict[bool | str, float]] = {a: defaultdict(float) for a in names}
    for i in idx:
        node = scenario.nodes[i]
        for a, v in node.attributes.items():
            count[a][v] += 1
            weight[a][v] += float(stake[i])
    out = []
    for a in names:
        c, w = count[a], weight[a]
        order = sorted(c, key=lambda v: (-c[v], -w[v], str(v)))
        known = sum(c.values())
        values = tuple(
            AttributeValue(
                value=v,
                nodes=c[v],
                node_share=c[v] / n_live,
                stake_share=w[v] / total_stake if total_stake > 0 else None,
            )
            for v in order[:top_k]
        )
        out.append(
            AttributeSummary(
                name=a,
                flag=all(isinstance(v, bool) for v in c) if c else False,
                distinct=len(c),
                values=values,
                unknown_nodes=n_live - known,
                unknown_share=(n_live - known) / n_live if n_live else 0.0,
            )
        )
    return tuple(out)
