"""Node attributes in the audit: how live nodes and stake split over each attribute's values.

Attributes (``Node.attributes``, e.g. Solana's ``doublezero`` and ``jito`` flags, Ethereum's ``hosting``)
describe nodes; they are not failure domains. The audit shows them with :func:`attribute_summary` and never
measures their concentration, fails them or checks independence on them (those use
``Scenario.dimensions()``, which leaves attributes out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nodeplan.scenario.arrays import ScenarioArrays

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


def attribute_summary(arrays: ScenarioArrays, top_k: int = 10) -> tuple[AttributeSummary, ...]:
    """The split of the live nodes of ``arrays`` over every node attribute (by name); one ``bincount`` each.

    >>> from nodeplan.scenario.arrays import compile_scenario
    >>> from nodeplan.scenario.model import Node, Scenario
    >>> nodes = [Node(id=f"n{i}", lat=0, lon=0, roles={"coordination"}, stake=s, attributes=a)
    ...          for i, (s, a) in enumerate([(3, {"dz": True}), (1, {"dz": False}), (0, {})])]
    >>> (s,) = attribute_summary(compile_scenario(Scenario(nodes=nodes)))
    >>> [(v.value, v.nodes, round(v.node_share, 3), v.stake_share) for v in s.values], s.unknown_nodes
    ([(True, 1, 0.333, 0.75), (False, 1, 0.333, 0.25)], 1)
    """
    live = arrays.up
    n_live = int(np.count_nonzero(live))
    stake = arrays.stake.astype(float)
    total_stake = float(stake[live].sum())
    out = []
    for k, name in enumerate(arrays.attributes):
        codes = arrays.attribute_codes[:, k]
        known_values = arrays.attribute_values[k]
        sel = live & (codes >= 0)
        count = np.bincount(codes[sel], minlength=len(known_values))
        weight = np.bincount(codes[sel], weights=stake[sel], minlength=len(known_values))
        held = np.flatnonzero(count)  # values held by live nodes
        order = sorted(held.tolist(), key=lambda c: (-count[c], -weight[c], str(known_values[c])))
        known = int(count.sum())
        out.append(
            AttributeSummary(
                name=name,
                flag=bool(order) and all(isinstance(known_values[c], bool) for c in order),
                distinct=len(order),
                values=tuple(
                    AttributeValue(
                        value=known_values[c],
                        nodes=int(count[c]),
                        node_share=float(count[c]) / n_live,
                        stake_share=float(weight[c]) / total_stake if total_stake > 0 else None,
                    )
                    for c in order[:top_k]
                ),
                unknown_nodes=n_live - known,
                unknown_share=(n_live - known) / n_live if n_live else 0.0,
            )
        )
    return tuple(out)
