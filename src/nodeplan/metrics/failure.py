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
``demand_served``
    share of demand (rate x source weight) still served within its SLO. Serving model (a planning
    check, not the router): each demand class's rate is spread over its live capable executors in
    proportion to their slots; a node's wait is the M/M/c mean wait at the sum of the classes' loads
    (slots = ``capacity``, mean service time weighted by each class's arrival rate). A request from a
    source is *served* when at least one live capable executor completes it within the SLO:
    ``RTT(source, node) + wait + cold start + service x executor factor + verification`` where cold start
    is :func:`~nodeplan.model.timing.cold_start_s` with the failed nodes down. TEE and zkML demand
    needs an executor that supports the mode.

    *Verification time* is the router's (:mod:`nodeplan.routing.router`): the verifiers work in
    parallel, so the slowest of the ``max(1, verifiers)`` chosen counts, and one verifier ``v`` of
    executor ``e`` takes ``hop RTT(e, v) + check``. The hop uses the provider backbone fit where ``e``
    and ``v`` share a known provider and the public fit otherwise (measured RTTs override, as in the
    router); ``check`` is the TEE attestation check (5 ms) or the zkML proof check (200 ms) of
    :func:`~nodeplan.model.timing.verify_check_s`, or, for ``reexec``, re-running the call on ``v``:
    its M/M/c wait at the audit's load + its cold start (failed nodes down) + its own service time.
    For each executor the audit takes the best-placed verifiers: the ``K``-th smallest of these times
    over the live capable verifiers (other than ``e``) that share none of ``policy.independence`` with
    it; when fewer than ``K`` are independent, the ``K`` fastest of all live capable verifiers (the
    router's degraded route); when fewer than ``K`` exist, the slowest of those; with none, 0 (the
    request is then counted unverified in ``verified``, not unserved). The router's further rule that
    the ``K`` verifiers be independent of *each other* is not modelled (it matters only for
    ``K >= 2``). Providers and independence use the audit's completed codes (providers derived from
    data centers and ASNs included), where the router uses the values given on the nodes.
``verified``
    of the demand that asks for verification, the share whose best executor (least expected time,
    verification time included) still
    has ``max(1, verifiers)`` live verifiers supporting the mode that share none of
    ``policy.independence`` with it (unknown values are not counted as shared).
``models_unreplicated``
    models with no live storage replica left (a ``storage`` node that stores it).
``quorum``
    coordination keeps quorum: live stake after the loss is more than 2/3 of the total stake (delinquent
    stake counts in the total, not as live), and no surviving domain *of the same dimension* holds 1/3 or
    more of the surviving stake (``largest_surviving_share``). The share is of the *surviving* stake:
    a domain's share of the total does not change when another domain fails, so it could not tell
    failures apart. ``None`` without stake.

``harm`` orders the table: ``capacity_lost + (served lost) + (verified lost) + (models newly without a
replica) / models``, plus 1 when the live stake falls to 2/3 or below (consensus halts), or else 0.5
when a surviving domain comes to hold a third of the surviving stake and none did before; "lost" is
measured against the no-failure baseline. Ties: share lost, capacity lost, dimension order, value.

Capacity, stake, replicas and quorum are computed for all values of a dimension at once with
``np.bincount``; demand and verification loop over values and vectorise over sources x nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from nodeplan.metrics.serving import Outcome, ServingModel
from nodeplan.model.rtt import RttModel
from nodeplan.model.timing import TimingParams
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Role, Scenario

__all__ = [
    "FailureRow",
    "QuorumAfterLoss",
    "failure_table",
    "quorum_after_loss",
    "unreplicated_after_loss",
]

_TWO_THIRDS = 2.0 / 3.0
_THIRD = 1.0 / 3.0


class QuorumAfterLoss(NamedTuple):
    """Coordination after losing each value of one dimension (arrays of length ``n_values``).

    ``stake_lost`` and ``alive_share`` are shares of total stake; ``largest`` is the largest surviving
    domain's share of the *surviving* stake; ``quorum`` = alive share > 2/3 and ``largest`` < 1/3;
    ``base_dominated`` says whether one domain already holds 1/3 of the live stake before any loss.
    """

    stake_lost: NDArray[np.float64]
    alive_share: NDArray[np.float64]
    largest: NDArray[np.float64]
    dominated: NDArray[np.bool_]
    quorum: NDArray[np.bool_]
    base_dominated: bool


def quorum_after_loss(
    codes: NDArray[np.integer],
    stake: NDArray[np.float64],
    coord: NDArray[np.bool_],
    live: NDArray[np.bool_],
    n_values: int,
) -> QuorumAfterLoss | None:
    """The quorum rule of the failure table for one dimension's ``codes`` (``-1`` = unknown, never lost).

    Shares are of the total stake of ``coord`` (coordinators, live or not); losses and survivors count
    live coordinators only. ``None`` when the coordinators hold no stake.
    """
    stake_total = float(stake[coord].sum())
    if stake_total <= 0:
        return None
    coord_live = coord & live
    alive_stake = float(stake[coord_live].sum())
    sel = (codes >= 0) & coord_live
    stake_v = np.bincount(codes[sel], weights=stake[sel], minlength=n_values)
    alive_share: NDArray[np.float64] = np.asarray((alive_stake - stake_v) / stake_total, dtype=float)
    order = np.argsort(-stake_v, kind="stable")
    top1 = stake_v[order[0]]
    top2 = stake_v[order[1]] if n_values > 1 else 0.0
    surviving = np.maximum(alive_stake - stake_v, 1e-300)
    largest = np.where(np.arange(n_values) == order[0], top2, top1) / surviving
    dominated = largest >= _THIRD - 1e-12
    quorum = (alive_share > _TWO_THIRDS + 1e-12) & ~dominated
    base_dominated = bool(alive_stake > 0 and top1 / alive_stake >= _THIRD - 1e-12)
    return QuorumAfterLoss(stake_v / stake_total, alive_share, largest, dominated, quorum, base_dominated)


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
    quorum: bool | None
    alive_stake_share: float | None
    largest_surviving_share: float | None
    harm: float


def _harm(
    capacity_lost: float,
    out: Outcome,
    base: Outcome,
    new_unrep: int,
    n_models: int,
    halted: bool,
    newly_dominated: bool,
) -> float:
    h = capacity_lost
    if out.demand_served is not None and base.demand_served is not None:
        h += max(0.0, base.demand_served - out.demand_served)
    if out.verified is not None and base.verified is not None:
        h += max(0.0, base.verified - out.verified)
    if n_models:
        h += new_unrep / n_models
    if halted:
        return h + 1.0
    return h + (0.5 if newly_dominated else 0.0)


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
    dims : dimensions to fail (default: all of ``arrays.dims``)
    weights : (n,) the audit's weight per node, for ``share_lost`` (default: 1 per node)
    """
    a = arrays
    live = a.up
    exec_live = a.role(Role.EXECUTION) & live
    cap = a.capacity.astype(float)
    cap_total = float(cap[exec_live].sum())
    coord = a.role(Role.COORDINATION)
    stake_total = float(a.stake[coord].sum())
    coord_live = coord & live
    alive_stake = float(a.stake[coord_live].sum())
    storage_live = a.role(Role.STORAGE) & live
    replicas = a.stored & storage_live[:, None]  # (n, m)
    rep_total = replicas.sum(axis=0)
    base_unrep = rep_total == 0
    n_models = len(a.model_ids)
    wts = np.ones(a.n_nodes) if weights is None else np.asarray(weights, dtype=float)
    w_total = float(wts[live].sum())
    serving = ServingModel(scenario, a, codes, rtt, params) if scenario.demand else None
    base = serving.outcome(np.zeros(a.n_nodes, dtype=bool)) if serving else Outcome(None, None)
    base_live = stake_total > 0 and alive_stake > _TWO_THIRDS * stake_total + 1e-12
    rows: list[FailureRow] = []
    for dim in a.dims if dims is None else dims:
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
        qa = quorum_after_loss(c, a.stake, coord, live, nv)
        stake_lost = np.zeros(nv) if qa is None else qa.stake_lost
        unrep = unreplicated_after_loss(c, replicas, nv)
        for v in range(nv):
            out = serving.outcome(c == v) if serving else Outcome(None, None)
            lost_models = tuple(m for m, x in zip(a.model_ids, unrep[v], strict=True) if x)
            new_unrep = int(np.count_nonzero(unrep[v] & ~base_unrep))
            q = None if qa is None else bool(qa.quorum[v])
            rows.append(
                FailureRow(
                    dimension=dim,
                    value=a.dim_values[k][v],
                    nodes=int(nodes[v]),
                    share_lost=float(w_lost[v]),
                    capacity_lost=float(cap_lost[v]),
                    stake_lost=float(stake_lost[v]),
                    demand_served=out.demand_served,
                    verified=out.verified,
                    models_unreplicated=lost_models,
                    quorum=q,
                    alive_stake_share=None if qa is None else float(qa.alive_share[v]),
                    largest_surviving_share=None if qa is None else float(qa.largest[v]),
                    harm=_harm(
                        float(cap_lost[v]),
                        out,
                        base,
                        new_unrep,
                        n_models,
                        base_live and qa is not None and not qa.alive_share[v] > _TWO_THIRDS + 1e-12,
                        qa is not None and not qa.base_dominated and bool(qa.dominated[v]),
                    ),
                )
            )
    dim_order = {d: i for i, d in enumerate(a.dims)}
    rows.sort(key=lambda r: (-r.harm, -r.share_lost, -r.capacity_lost, dim_order[r.dimension], r.value))
    return base, tuple(rows)
