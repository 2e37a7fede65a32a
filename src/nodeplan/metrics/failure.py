"""The single-domain failure table: what the loss of each provider, ASN, country, operator... does.

For every known value ``v`` of every dimension, the nodes with that value (after
:func:`~nodeplan.model.codes.complete_codes`, so losing a provider also loses the data centers known to
be its) go down together, and the table reports:

``share_lost``
    share of the audit's weight (nodes, capacity or stake) over all live nodes that is on the failed ones.
``capacity_lost``
    share of the live execution capacity (request slots) on the failed nodes.
``stake_lost``
    share of the total coordination stake on the failed live nodes.
``demand_served``, ``verified``
    the serving check of :mod:`nodeplan.metrics.serving` with the failed nodes down: the share of demand
    (rate x source weight) still served within its SLO, and, of the demand that asks for verification,
    the share served within its SLO by ``K`` verifiers independent of the executor and of each other.
    It is the router's answer for every source (the same network model, :mod:`nodeplan.model.network`,
    and verifier rule, :func:`~nodeplan.model.independence.select_independent`, on the completed codes;
    property-tested against ``route()``): a route whose only verifiers within the SLO share a dependency
    counts as served but not verified, and one with fewer live verifiers than asked is not served. Load is
    a planning assumption: each class's rate spread over its live capable executors by slots.
``models_unreplicated``
    models with no live storage replica left (a ``storage`` node that stores it).
``halted``, ``fragile``, ``alive_stake_share``, ``largest_surviving``
    coordination after the loss, by the one consensus rule of :mod:`nodeplan.model.consensus`:
    ``halted`` when the live stake is at most 2/3 of the total stake (delinquent stake counts in the
    total, not as live); ``fragile`` when it still runs but one surviving domain of *any* of the table's
    dimensions holds 1/3 or more of the surviving stake; ``largest_surviving`` names that domain (the
    largest one, fragile or not) and its share of the surviving stake. ``None`` without stake.

Harm
----
``harm`` orders the table (worst first) and is the sum of, each against the no-failure baseline:

* ``capacity_lost``;
* served demand lost: ``max(0, baseline served - served)``, and the same for verified demand;
* models newly left without a live storage replica / models;
* the consensus part (:func:`~nodeplan.model.consensus.consensus_harm`): ``stake_lost``, + 1 when the
  failure newly halts consensus (halted after it and not halted with no failure).

Capacity, replicas and the consensus part grow with the set of failed nodes (losing a superset of nodes
never lowers them; ``tests/test_consensus.py`` checks the consensus part), and served/verified lost grow
too (the serving check never serves more with fewer nodes: ``tests/test_one_model.py``); a failure that loses no stake adds nothing to the consensus part, and losing 23% of the
stake adds 0.23 even when consensus runs on. ``fragile`` is reported but not part of harm: it is not
monotone (losing the domain that holds a third of the stake can leave the rest *less* fragile). Monte
Carlo's trial harm is the same function (:func:`failure_harm`). Ties: share lost, capacity lost, dimension
order, value.

Capacity, stake, consensus and replicas are computed for all values of a dimension at once with
``np.bincount``; demand and verification loop over values and vectorise over sources x nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.metrics.serving import Outcome, ServingModel
from nodeplan.model.consensus import Consensus, SurvivingDomain, consensus_model
from nodeplan.model.rtt import RttModel
from nodeplan.model.timing import TimingParams
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import DEPENDENCY_DIMENSIONS, Role, Scenario

__all__ = [
    "FailureRow",
    "failure_dimensions",
    "failure_harm",
    "failure_table",
    "unreplicated_after_loss",
]


def failure_dimensions(scenario: Scenario, arrays: ScenarioArrays) -> tuple[str, ...]:
    """The dimensions the failure table fails by default, in ``arrays.dims`` order: the built-in
    dependency dimensions plus user dimensions named in ``scenario.failures`` or ``policy.independence``
    (other user dimensions, such as an imported ``hosting`` flag, are attributes, not failure domains).
    The consensus rule's *fragile* test looks at the surviving domains of these same dimensions."""
    extra = set(scenario.failures) | set(scenario.policy.independence)
    return tuple(d for d in arrays.dims if d in DEPENDENCY_DIMENSIONS or d in extra)


def unreplicated_after_loss(
    codes: NDArray[np.integer], replicas: NDArray[np.bool_], n_values: int
) -> NDArray[np.bool_]:
    """(n_values, n_models): models left with no live storage replica after losing each value.

    ``replicas`` is the (n_nodes, n_models) mask of live storage nodes holding each model.
    """
    rep_total = replicas.sum(axis=0)
    known = codes >= 0
    out = np.zeros((n_values, replicas.shape[1]), dtype=bool)
    for j in range(replicas.shape[1]):
        out[:, j] = rep_total[j] - np.bincount(codes[known & replicas[:, j]], minlength=n_values) <= 0
    return out


@dataclass(frozen=True)
class FailureRow:
    """Effect of losing every node with ``dimension == value`` (see the module docstring)."""

    dimension: str
    value: str
    nodes: int
    share_lost: float
    capacity_lost: float
    stake_lost: float
    demand_served: float | None
    verified: float | None
    models_unreplicated: tuple[str, ...]
    halted: bool | None
    fragile: bool | None
    alive_stake_share: float | None
    largest_surviving: SurvivingDomain | None
    harm: float


def _lost(x: ArrayLike | None, base: float | None) -> NDArray[np.float64] | float:
    """``max(0, base - x)``, 0 where either is n/a (``None`` or ``nan``)."""
    if base is None or x is None:
        return 0.0
    return np.maximum(0.0, base - np.nan_to_num(np.asarray(x, dtype=float), nan=base))


def failure_harm(
    capacity_lost: ArrayLike,
    served: ArrayLike | None,
    verified: ArrayLike | None,
    baseline: Outcome,
    newly_unreplicated: ArrayLike,
    n_models: int,
    consensus: ArrayLike,
) -> NDArray[np.float64]:
    """Harm of failures (module docstring), vectorised: scalars or arrays of one length.

    Parameters
    ----------
    capacity_lost : share of live execution capacity on the failed nodes
    served, verified : shares after the failure (``None`` or ``nan`` = n/a: nothing lost)
    baseline : the no-failure outcome
    newly_unreplicated : models left without a live replica that had one with no failure (a count)
    n_models : number of models of the scenario
    consensus : :func:`~nodeplan.model.consensus.consensus_harm` of the failures (0 without stake)

    >>> float(failure_harm(0.25, 0.5, None, Outcome(0.75, None), 1, 4, 0.234))
    0.984
    """
    h = np.asarray(capacity_lost, dtype=float) + _lost(served, baseline.demand_served)
    h = h + _lost(verified, baseline.verified)
    if n_models:
        h = h + np.asarray(newly_unreplicated, dtype=float) / n_models
    return np.asarray(h + np.asarray(consensus, dtype=float), dtype=float)


def failure_table(
    scenario: Scenario,
    arrays: ScenarioArrays,
    codes: NDArray[np.int32],
    rtt: RttModel,
    *,
    dims: tuple[str, ...] | None = None,
    weights: NDArray[np.float64] | None = None,
    params: TimingParams | None = None,
) -> tuple[Outcome, tuple[FailureRow, ...]]:
    """The no-failure baseline and one :class:`FailureRow` per known value of each dimension, worst first.

    Parameters
    ----------
    codes : (n, d) dimension codes, normally from :func:`~nodeplan.model.codes.complete_codes`
    dims : dimensions to fail, also the dimensions of the consensus rule's surviving domains (default:
        all of ``arrays.dims``)
    weights : (n,) the audit's weight per node, for ``share_lost`` (default: 1 per node)
    """
    a = arrays
    dims = a.dims if dims is None else dims
    live = a.up
    exec_live = a.role(Role.EXECUTION) & live
    cap = a.capacity.astype(float)
    cap_total = float(cap[exec_live].sum())
    storage_live = a.role(Role.STORAGE) & live
    replicas = a.stored & storage_live[:, None]  # (n, m)
    base_unrep = replicas.sum(axis=0) == 0
    n_models = len(a.model_ids)
    wts = np.ones(a.n_nodes) if weights is None else np.asarray(weights, dtype=float)
    w_total = float(wts[live].sum())
    serving = ServingModel(scenario, a, codes, rtt, params) if scenario.demand else None
    base = serving.outcome(np.zeros(a.n_nodes, dtype=bool)) if serving else Outcome(None, None)
    cm = consensus_model(a, codes, tuple(dims))
    rows: list[FailureRow] = []
    for dim in dims:
        k = a.dim_index(dim)
        nv = len(a.dim_values[k])
        if nv == 0:
            continue
        c = codes[:, k]
        known = c >= 0
        nodes = np.bincount(c[known & live], minlength=nv)
        sel = known & live
        w_lost = (
            np.bincount(c[sel], weights=wts[sel], minlength=nv) / w_total if w_total > 0 else np.zeros(nv)
        )
        sel = known & exec_live
        cap_lost = (
            np.bincount(c[sel], weights=cap[sel], minlength=nv) / cap_total if cap_total > 0 else np.zeros(nv)
        )
        cons: list[Consensus | None] = [None] * nv
        cons_harm = np.zeros(nv)
        if cm is not None:
            after = cm.after_each_value(dim)
            cons = [cm.at(after, v) for v in range(nv)]
            cons_harm = cm.harm(after)
        unrep = unreplicated_after_loss(c, replicas, nv)
        for v in range(nv):
            out = serving.outcome(c == v) if serving else Outcome(None, None)
            lost_models = tuple(m for m, x in zip(a.model_ids, unrep[v], strict=True) if x)
            q = cons[v]
            rows.append(
                FailureRow(
                    dimension=dim,
                    value=a.dim_values[k][v],
                    nodes=int(nodes[v]),
                    share_lost=float(w_lost[v]),
                    capacity_lost=float(cap_lost[v]),
                    stake_lost=0.0 if q is None else q.stake_lost,
                    demand_served=out.demand_served,
                    verified=out.verified,
                    models_unreplicated=lost_models,
                    halted=None if q is None else q.halted,
                    fragile=None if q is None else q.fragile,
                    alive_stake_share=None if q is None else q.alive_share,
                    largest_surviving=None if q is None else q.largest,
                    harm=float(
                        failure_harm(
                            cap_lost[v],
                            out.demand_served,
                            out.verified,
                            base,
                            np.count_nonzero(unrep[v] & ~base_unrep),
                            n_models,
                            cons_harm[v],
                        )
                    ),
                )
            )
    dim_order = {d: i for i, d in enumerate(a.dims)}
    rows.sort(key=lambda r: (-r.harm, -r.share_lost, -r.capacity_lost, dim_order[r.dimension], r.value))
    return base, tuple(rows)
