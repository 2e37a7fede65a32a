"""The decentralization and trust audit of a scenario: measures, independent domains, failure table.

:func:`audit_scenario` is the one entry point (the ``nodeplan audit`` command and the demo call it). It
looks at the **live** nodes (status ``up``) and reports:

* per dimension and role, the concentration measures of :mod:`nodeplan.metrics.measures`, weighted by
  node count, capacity (request slots) or stake;
* per role, *apparent* spread (countries, locations) next to the *effective* number of independent failure
  domains of :mod:`nodeplan.metrics.graph` (over ``policy.independence`` and their ancestors);
* the single-domain failure table of :mod:`nodeplan.metrics.failure`, worst first;
* a one-sentence headline contrasting the two.

Node attributes (``Node.attributes``, e.g. imported flags such as ``doublezero``) are not dimensions: they
are shown in ``AuditResult.attributes`` (share of live nodes and stake per value) and never measured as
domains or failed.

Dimensions that no node has a value for (e.g. ``tee_vendor`` in a list of Ethereum nodes) are listed in
``AuditResult.empty_dimensions`` and not measured. Where a node has an ASN but no provider (and its data
center does not imply one), the provider is derived from the ASN with the mapping shipped in
:mod:`nodeplan.scenario.providers`; ``AuditResult.derived_providers`` says for how many nodes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import ScenarioError
from nodeplan.metrics.attributes import AttributeSummary, attribute_summary
from nodeplan.metrics.failure import FailureRow, failure_dimensions, failure_table
from nodeplan.metrics.graph import (
    DomainSummary,
    independent_domains,
)
from nodeplan.metrics.measures import (
    DistributionMeasures,
    UnknownPolicy,
    entity_weights,
    measure_distribution,
)
from nodeplan.metrics.schema import SCHEMA_VERSION
from nodeplan.metrics.serving import Outcome
from nodeplan.model.codes import complete_arrays
from nodeplan.model.consensus import Consensus, SurvivingDomain, consensus_model
from nodeplan.model.rtt import RttModel, default_rtt_model
from nodeplan.scenario.arrays import ScenarioArrays, compile_scenario
from nodeplan.scenario.model import Role, Scenario

__all__ = ["ALL_ROLES", "AuditResult", "DimensionMeasures", "Weight", "audit_scenario", "cluster_first_word"]

#: Role name used for "every live node, whatever its role".
ALL_ROLES = "all"


class Weight(StrEnum):
    """What a node counts for in the measures."""

    COUNT = "count"
    CAPACITY = "capacity"
    STAKE = "stake"


_NOUN = {Weight.COUNT: "nodes", Weight.CAPACITY: "capacity", Weight.STAKE: "stake"}


@dataclass(frozen=True)
class DimensionMeasures:
    """The measures of one (dimension, role) cut under the audit's weight."""

    dimension: str
    role: str
    measures: DistributionMeasures


@dataclass(frozen=True)
class AuditResult:
    """Everything ``nodeplan audit`` reports; ``to_json()`` gives the versioned JSON (docs/audit.md).

    ``failure_rows`` are sorted by harm (worst first); ``baseline`` is the demand outcome with no failure
    and ``baseline_consensus`` the consensus with no failure (:mod:`nodeplan.model.consensus`; ``None``
    without stake). ``baseline_dominant`` lists every domain of the failure table's dimensions that holds
    1/3 or more of the live coordination stake with no failure (consensus is then *fragile* already, and
    every failure that leaves such a domain alive and consensus running reports ``fragile``).
    ``derived_providers`` lists ``(provider, nodes)`` for providers derived from
    the ASN because the scenario did not give one. ``measured_rtt_pairs`` counts the (demand source, node)
    pairs whose RTT in the serving check came from a measured matrix instead of the fit. ``attributes``
    shows how the live nodes split over each node attribute (never a failure domain).
    """

    scenario: str
    weight: Weight
    unknown_policy: UnknownPolicy
    roles: tuple[str, ...]
    nodes: int
    live_nodes: int
    headline: str
    summary: tuple[DomainSummary, ...]
    measures: tuple[DimensionMeasures, ...]
    empty_dimensions: tuple[str, ...]
    clustered_dimensions: tuple[str, ...]
    baseline: Outcome
    failure_rows: tuple[FailureRow, ...]
    baseline_consensus: Consensus | None = None
    baseline_dominant: tuple[SurvivingDomain, ...] = ()
    derived_providers: tuple[tuple[str, int], ...] = ()
    measured_rtt_pairs: int = 0
    attributes: tuple[AttributeSummary, ...] = ()

    def measure(self, dimension: str, role: str = ALL_ROLES) -> DistributionMeasures:
        """The measures of ``dimension`` for ``role``; raises ``KeyError`` naming them when absent."""
        for m in self.measures:
            if m.dimension == dimension and m.role == role:
                return m.measures
        raise KeyError(f"no measures for dimension {dimension!r} and role {role!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able mapping following :data:`nodeplan.metrics.schema.AUDIT_JSON_SCHEMA`."""
        return {
            "schema_version": SCHEMA_VERSION,
            "scenario": self.scenario,
            "weight": self.weight.value,
            "unknown_policy": self.unknown_policy.value,
            "roles": list(self.roles),
            "nodes": self.nodes,
            "live_nodes": self.live_nodes,
            "headline": self.headline,
            "summary": [_summary_dict(s) for s in self.summary],
            "measures": [_measures_dict(m) for m in self.measures],
            "empty_dimensions": list(self.empty_dimensions),
            "clustered_dimensions": list(self.clustered_dimensions),
            "baseline": {
                "demand_served": _r(self.baseline.demand_served),
                "verified": _r(self.baseline.verified),
                **_consensus_dict(self.baseline_consensus),
                "dominant": [_domain_dict(d) for d in self.baseline_dominant],
            },
            "derived_providers": [{"provider": p, "nodes": n} for p, n in self.derived_providers],
            "measured_rtt_pairs": self.measured_rtt_pairs,
            "failure_rows": [_row_dict(r) for r in self.failure_rows],
            "attributes": [_attribute_dict(a) for a in self.attributes],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The audit as JSON text (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _r(x: float | None, nd: int = 6) -> float | None:
    return None if x is None else round(float(x), nd)


def _domain_dict(d: SurvivingDomain | None) -> dict[str, Any] | None:
    return None if d is None else {"dimension": d.dimension, "value": d.value, "share": _r(d.share)}


def _consensus_dict(c: Consensus | None) -> dict[str, Any]:
    """``halted``, ``fragile``, ``alive_stake_share`` and ``largest_surviving`` (all ``None`` without stake)."""
    return {
        "halted": None if c is None else c.halted,
        "fragile": None if c is None else c.fragile,
        "alive_stake_share": None if c is None else _r(c.alive_share),
        "largest_surviving": None if c is None else _domain_dict(c.largest),
    }


def _summary_dict(s: DomainSummary) -> dict[str, Any]:
    return {
        "role": s.role,
        "nodes": s.nodes,
        "countries": s.countries,
        "locations": s.locations,
        "dimensions": list(s.dims),
        "effective_domains": _r(s.effective_domains, 4),
        "components": s.components,
        "largest_component_share": _r(s.largest_component_share),
        "unknown_share": _r(s.unknown_share),
    }


def _measures_dict(dm: DimensionMeasures) -> dict[str, Any]:
    m = dm.measures
    return {
        "dimension": dm.dimension,
        "role": dm.role,
        "entities": m.entities,
        "present": m.present,
        "nakamoto_50": m.nakamoto_50,
        "nakamoto_33": m.nakamoto_33,
        "hhi": _r(m.hhi, 4),
        "entropy_bits": _r(m.entropy_bits),
        "entropy_norm": _r(m.entropy_norm),
        "effective_hhi": _r(m.effective_hhi, 4),
        "effective_entropy": _r(m.effective_entropy, 4),
        "gini": _r(m.gini),
        "theil": _r(m.theil),
        "top1_share": _r(m.top1_share),
        "top3_share": _r(m.top3_share),
        "unknown_share": _r(m.unknown_share),
        "total_weight": _r(m.total_weight, 4),
        "top": [{"entity": n, "share": _r(s)} for n, s in m.top],
    }


def _row_dict(r: FailureRow) -> dict[str, Any]:
    return {
        "dimension": r.dimension,
        "value": r.value,
        "nodes": r.nodes,
        "share_lost": _r(r.share_lost),
        "capacity_lost": _r(r.capacity_lost),
        "stake_lost": _r(r.stake_lost),
        "demand_served": _r(r.demand_served),
        "verified": _r(r.verified),
        "models_unreplicated": list(r.models_unreplicated),
        "halted": r.halted,
        "fragile": r.fragile,
        "alive_stake_share": _r(r.alive_stake_share),
        "largest_surviving": _domain_dict(r.largest_surviving),
        "harm": _r(r.harm),
    }


def _attribute_dict(a: AttributeSummary) -> dict[str, Any]:
    return {
        "name": a.name,
        "flag": a.flag,
        "distinct": a.distinct,
        "unknown_nodes": a.unknown_nodes,
        "unknown_share": _r(a.unknown_share),
        "values": [
            {
                "value": v.value,
                "nodes": v.nodes,
                "node_share": _r(v.node_share),
                "stake_share": _r(v.stake_share),
            }
            for v in a.values
        ],
    }


def _first_word(name: str) -> str:
    words = [w for w in re.split(r"[^0-9a-z]+", name.lower()) if w]
    return words[0] if words else name.lower()


def cluster_first_word(arrays: ScenarioArrays, dims: tuple[str, ...]) -> ScenarioArrays:
    """Arrays whose values of ``dims`` are merged by their first word, lower-cased (the EDI clustering).

    The EDI clusters organisation names by their first word ("Hetzner Online GmbH" and "Hetzner" are one
    entity); its hand-written special cases are not reproduced. Codes are remapped with one array lookup.

    >>> from nodeplan.scenario.model import Node, Scenario
    >>> nodes = [Node(id=f"n{i}", lat=0, lon=0, roles={"execution"}, operator=o)
    ...          for i, o in enumerate(["Hetzner Online GmbH", "hetzner", "OVH SAS"])]
    >>> a = cluster_first_word(compile_scenario(Scenario(nodes=nodes)), ("operator",))
    >>> a.dim_values[a.dim_index("operator")], a.dim_codes[:, a.dim_index("operator")].tolist()
    (('hetzner', 'ovh'), [0, 0, 1])
    """
    codes = arrays.dim_codes.copy()
    values = list(arrays.dim_values)
    for dim in dims:
        if dim not in arrays.dims:
            raise ScenarioError(f"cluster: unknown dimension {dim!r} (known: {', '.join(arrays.dims)})")
        k = arrays.dim_index(dim)
        keys = [_first_word(v) for v in values[k]]
        new_values = tuple(sorted(set(keys)))
        index = {v: i for i, v in enumerate(new_values)}
        lookup = np.array([index[x] for x in keys] + [-1], dtype=np.int32)  # last slot: code -1
        codes[:, k] = lookup[codes[:, k]]
        values[k] = new_values
    return replace(arrays, dim_codes=codes, dim_values=tuple(values))


def _weights(arrays: ScenarioArrays, weight: Weight) -> NDArray[np.float64]:
    if weight is Weight.COUNT:
        return np.ones(arrays.n_nodes)
    if weight is Weight.CAPACITY:
        return arrays.capacity.astype(float)
    return arrays.stake.astype(float)


def _role_masks(arrays: ScenarioArrays, roles: tuple[str, ...] | None) -> dict[str, NDArray[np.bool_]]:
    live = arrays.up
    present = [r.value for r in Role if np.any(arrays.role(r))]
    wanted = [ALL_ROLES, *present] if roles is None else list(roles)
    masks: dict[str, NDArray[np.bool_]] = {}
    for name in wanted:
        if name == ALL_ROLES:
            masks[name] = live.copy()
            continue
        try:
            role = Role(name)
        except ValueError:
            known = ", ".join([ALL_ROLES, *(r.value for r in Role)])
            raise ScenarioError(f"role: unknown role {name!r} (known: {known})") from None
        masks[name] = live & arrays.role(role)
    return masks


def _fmt_share(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.1f}%"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number.

    >>> _count(1, "live node"), _count(2, "live node"), _count(1, "country", "countries"), _count(0, "model")
    ('1 live node', '2 live nodes', '1 country', '0 models')
    """
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _headline(
    summary: tuple[DomainSummary, ...],
    measures: tuple[DimensionMeasures, ...],
    rows: tuple[FailureRow, ...],
    weight: Weight,
    main_role: str,
) -> str:
    s = next((x for x in summary if x.role == main_role), summary[0] if summary else None)
    if s is None:
        return "no live nodes"
    who = "live node" if s.role == ALL_ROLES else f"live {s.role} node"
    parts = [f"{_count(s.nodes, who)} in {_count(s.countries, 'country', 'countries')}"]
    eff = "n/a" if s.effective_domains is None else f"{s.effective_domains:.1f}"
    prov = next((m.measures for m in measures if m.dimension == "provider" and m.role == s.role), None)
    tail = f"but {eff} effective independent failure domains"
    if prov is not None and prov.effective_hhi is not None:
        tail += f" and {prov.effective_hhi:.1f} effective providers"
    parts.append(tail)
    infra = ("provider", "asn", "data_center", "operator", "tee_vendor", "provider_region")
    best: tuple[float, str, str, str] | None = None
    for dm in measures:
        if dm.dimension not in infra or not dm.measures.top:
            continue
        name, share = next(((n, x) for n, x in dm.measures.top if not n.startswith("unknown")), ("", 0.0))
        if name and (best is None or share > best[0]):
            best = (share, dm.dimension, name, dm.role)
    text = ", ".join(parts)
    if best is not None:
        share, dim, name, role = best
        of = _NOUN[weight] if role == ALL_ROLES else f"{role} {_NOUN[weight]}"
        text += f"; one {dim.replace('_', ' ')} ({name}) holds {_fmt_share(share)} of {of}"
    worst = rows[0] if rows else None
    if worst is not None and worst.harm > 0:
        what = f"{worst.dimension.replace('_', ' ')} {worst.value}"
        effects = [f"takes {_fmt_share(worst.share_lost)} of {_NOUN[weight]}"]
        if worst.capacity_lost > 0 and weight is not Weight.CAPACITY:
            effects.append(f"{_fmt_share(worst.capacity_lost)} of execution capacity")
        if worst.demand_served is not None:
            effects.append(f"leaves {_fmt_share(worst.demand_served)} of demand served within SLO")
        if worst.verified is not None:
            effects.append(f"{_fmt_share(worst.verified)} independently verified")
        if worst.models_unreplicated:
            effects.append(f"{_count(len(worst.models_unreplicated), 'model')} with no storage replica")
        if worst.halted:
            effects.append("halts consensus")
        listed = ", ".join(effects[:-1]) + " and " + effects[-1] if len(effects) > 1 else effects[0]
        text += f"; losing {what} {listed}"
    return text + "."


def audit_scenario(
    scenario: Scenario,
    weight: Weight | str = Weight.COUNT,
    *,
    roles: tuple[str, ...] | None = None,
    unknown: UnknownPolicy | str = UnknownPolicy.ENTITY,
    cluster: tuple[str, ...] = (),
    fail_dims: tuple[str, ...] | None = None,
    rtt: RttModel | None = None,
    top_k: int = 10,
    arrays: ScenarioArrays | None = None,
    derive_providers: bool = True,
) -> AuditResult:
    """Audit ``scenario``: measures, apparent vs effective domains, failure table and headline.

    Parameters
    ----------
    weight : ``count`` (nodes), ``capacity`` (request slots) or ``stake``
    roles : roles to measure (``"all"`` and/or role names); default ``"all"`` plus every role present
    unknown : how unknown values enter the measures (:class:`~nodeplan.metrics.measures.UnknownPolicy`);
        the failure table never fails "unknown" as if it were one domain
    cluster : dimensions whose names are merged by first word (EDI organisation clustering)
    fail_dims : dimensions of the failure table; default: the built-in dependency dimensions plus user
        dimensions named in ``scenario.failures`` or ``policy.independence`` (user dimensions from an
        import, such as a ``hosting`` flag, are attributes, not failure domains)
    rtt : RTT model for the serving check (default: :func:`~nodeplan.model.rtt.default_rtt_model`); a
        model ``with_measured(...)`` uses measured RTTs for the (source, node) and (node, node) pairs it has
    top_k : largest entities listed per measure
    arrays : ``compile_network(scenario)`` when the caller already has it (saves its build time)
    derive_providers : derive a missing provider from the node's ASN
        (:func:`~nodeplan.model.codes.fill_providers_from_asn`); the result lists what was derived

    Raises
    ------
    ScenarioError
        For an unknown weight, role, unknown policy or cluster dimension (the message names it).
    """
    try:
        w_enum = Weight(weight)
    except ValueError:
        raise ScenarioError(f"weight: expected one of count, capacity, stake (got {weight!r})") from None
    try:
        policy = UnknownPolicy(unknown)
    except ValueError:
        known = ", ".join(p.value for p in UnknownPolicy)
        raise ScenarioError(f"unknown: expected one of {known} (got {unknown!r})") from None
    arrays = compile_scenario(scenario) if arrays is None else arrays
    if cluster:
        arrays = cluster_first_word(arrays, tuple(cluster))
    arrays = complete_arrays(arrays, derive_providers=derive_providers)  # idempotent on completed arrays
    codes = arrays.dim_codes
    derived = arrays.derived_providers
    weights = _weights(arrays, w_enum)
    masks = _role_masks(arrays, roles)
    has_data = [bool(np.any(codes[:, k] >= 0)) for k in range(len(arrays.dims))]
    empty = tuple(d for d, ok in zip(arrays.dims, has_data, strict=True) if not ok)
    measures: list[DimensionMeasures] = []
    summaries: list[DomainSummary] = []
    ind = tuple(d for d in scenario.policy.independence if d in arrays.dims)
    done: dict[bytes, str] = {}  # roles with the same nodes (e.g. every node has every role) share work
    for role, mask in masks.items():
        same = done.get(mask.tobytes())
        if same is not None:
            measures.extend(
                DimensionMeasures(m.dimension, role, m.measures) for m in measures if m.role == same
            )
            summaries.append(replace(next(x for x in summaries if x.role == same), role=role))
            continue
        done[mask.tobytes()] = role
        for k, dim in enumerate(arrays.dims):
            if not has_data[k]:
                continue
            c = codes[mask, k]
            wm = weights[mask]
            w_slot, n_slot = entity_weights(c, wm, len(arrays.dim_values[k]))
            dm = measure_distribution(
                arrays.dim_values[k], w_slot, n_slot, unknown_weights=wm[c < 0], policy=policy, top_k=top_k
            )
            measures.append(DimensionMeasures(dim, role, dm))
        summaries.append(independent_domains(arrays, codes, mask, weights, ind, role))
    summary = tuple(summaries)
    if fail_dims is None:
        fail_dims = failure_dimensions(scenario, arrays)
    else:
        for d in fail_dims:
            if d not in arrays.dims:
                raise ScenarioError(f"fail_dims: unknown dimension {d!r} (known: {', '.join(arrays.dims)})")
    rtt = rtt or default_rtt_model()
    base, rows = failure_table(scenario, arrays, codes, rtt, dims=tuple(fail_dims), weights=weights)
    cm = consensus_model(arrays, codes, tuple(fail_dims))
    measured_pairs = 0
    if rtt.measured is not None and scenario.demand:
        found = rtt.measured.lookup([s.name for s in scenario.sources], arrays.node_ids)
        measured_pairs = int(np.count_nonzero(np.isfinite(found)))
    main_role = (
        Role.COORDINATION.value if w_enum is Weight.STAKE and Role.COORDINATION.value in masks else None
    )
    main = main_role or next(iter(masks))
    headline = _headline(summary, tuple(measures), rows, w_enum, main)
    return AuditResult(
        scenario=scenario.name,
        weight=w_enum,
        unknown_policy=policy,
        roles=tuple(masks),
        nodes=arrays.n_nodes,
        live_nodes=int(arrays.up.sum()),
        headline=headline,
        summary=summary,
        measures=tuple(measures),
        empty_dimensions=empty,
        clustered_dimensions=tuple(cluster),
        baseline=base,
        failure_rows=rows,
        baseline_consensus=None if cm is None else cm.baseline(),
        baseline_dominant=() if cm is None else cm.dominant(),
        derived_providers=derived,
        measured_rtt_pairs=measured_pairs,
        attributes=attribute_summary(arrays, top_k),
    )
