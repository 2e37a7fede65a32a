"""Records of a Monte Carlo failure run: per-trial outcomes and their summary (with versioned JSON).

:class:`TrialOutcomes` holds one value per trial (arrays); :func:`summarise` turns it into a
:class:`MonteCarloResult`: mean, standard error and 5th/50th/95th percentiles of each share, the
probability of each bad event, and the **attribution** of the worst trials to domains.

Attribution
-----------
Each trial gets a *harm*, the audit's failure-table harm (:func:`~nodeplan.metrics.failure.failure_harm`)
of its set of down nodes: execution capacity lost + demand served lost + verified demand lost (both
against the no-failure baseline) + share of models newly left without a live storage replica + stake
lost (share of the total), + 1 when consensus newly halts (live stake at or below 2/3, and not halted
with no failure). Fragile consensus is counted (``p_fragile``) but is not harm. The *tail* is the
``tail`` share (default 5%) of trials with the highest harm, ties broken by trial index, keeping only
trials with harm > 0. For each domain, ``base_rate`` is the share of all trials in which it failed,
``tail_rate`` the share of tail trials, and ``lift = tail_rate / base_rate``. Domains are ranked by
``excess`` = tail trials in which the domain failed minus those expected at its base rate: a domain
whose every failure lands in the tail but that failed once ranks below one that drives dozens of tail
trials (``lift`` alone cannot tell them apart, both reach ``1 / tail``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import SimulationError
from nodeplan.metrics.failure import failure_harm
from nodeplan.metrics.serving import Outcome
from nodeplan.model.consensus import SurvivingDomain, consensus_harm
from nodeplan.simulation.sampling import FailureDomains

__all__ = [
    "SCHEMA_VERSION",
    "DomainAttribution",
    "MonteCarloResult",
    "ShareStats",
    "TrialOutcomes",
    "check_summary_args",
    "summarise",
]

#: Version of :meth:`MonteCarloResult.to_dict`; bump on any change of its keys or their meaning.
#: 2: ``events.quorum_lost`` replaced by ``events.fragile``; harm counts stake lost and only new halts.
SCHEMA_VERSION = 2


@dataclass(frozen=True, eq=False)
class TrialOutcomes:
    """What happened in each of ``T`` trials (arrays of length ``T`` unless stated).

    Attributes
    ----------
    scenario : scenario name
    domains : the failure domains sampled
    model_ids : model of each column of ``unreplicated``
    seed_entropy : ``int(root.entropy)``; pass it as ``seed`` to repeat the run
    chunk_trials : trials per chunk (part of the reproducibility contract)
    workers : processes used
    baseline : served/verified shares with no failure (:class:`~nodeplan.metrics.failure.Outcome`)
    baseline_unreplicated : (m,) bool, model has no live storage replica even with no failure
    baseline_dominant : domains (of the audit's failure dimensions) that hold 1/3 or more of the live
        stake with no failure: consensus is fragile before anything fails
    baseline_halted : consensus is halted with no failure (too much stake already down)
    has_stake : the scenario has coordination stake (else the consensus arrays are all ``False``)
    failed_bits : (T, ceil(D / 8)) uint8, ``np.packbits`` of the (T, D) failed-domain matrix
    down : nodes down because of the sampled failures (nodes already down are not counted)
    served, verified : shares of demand (``nan`` when the scenario has none of that demand)
    capacity_lost : share of live execution capacity (slots) on down nodes
    stake_lost : live coordination stake on down nodes over total stake (0 without stake)
    stake_alive : live coordination stake over total stake (``nan`` without stake)
    halted : live stake at or below 2/3 of the total (:mod:`nodeplan.model.consensus`)
    fragile : not halted, but one surviving domain of any failure dimension holds >= 1/3 of the
        surviving stake
    unreplicated : (T, m) bool, model has no live storage replica
    """

    scenario: str
    domains: FailureDomains
    model_ids: tuple[str, ...]
    seed_entropy: int
    chunk_trials: int
    workers: int
    baseline: Outcome
    baseline_unreplicated: NDArray[np.bool_]
    baseline_dominant: tuple[SurvivingDomain, ...]
    baseline_halted: bool
    has_stake: bool
    failed_bits: NDArray[np.uint8]
    down: NDArray[np.int32]
    served: NDArray[np.float64]
    verified: NDArray[np.float64]
    capacity_lost: NDArray[np.float64]
    stake_lost: NDArray[np.float64]
    stake_alive: NDArray[np.float64]
    halted: NDArray[np.bool_]
    fragile: NDArray[np.bool_]
    unreplicated: NDArray[np.bool_]

    @property
    def trials(self) -> int:
        """Number of trials ``T``."""
        return int(self.served.shape[0])

    def failed(self) -> NDArray[np.bool_]:
        """(T, D) bool: domain ``d`` failed in trial ``t``."""
        d = self.domains.n_domains
        return np.unpackbits(self.failed_bits, axis=1, count=d).astype(bool)

    def harm(self) -> NDArray[np.float64]:
        """(T,) harm of each trial (module docstring), >= 0."""
        return failure_harm(
            self.capacity_lost,
            self.served,
            self.verified,
            self.baseline,
            (self.unreplicated & ~self.baseline_unreplicated[None, :]).sum(axis=1),
            self.unreplicated.shape[1],
            consensus_harm(self.stake_lost, self.halted, self.baseline_halted),
        )


@dataclass(frozen=True)
class ShareStats:
    """Distribution of a share over the trials: mean, its standard error, and percentiles (linear)."""

    mean: float
    se: float
    p5: float
    p50: float
    p95: float

    def to_dict(self) -> dict[str, float]:
        """Plain mapping, rounded to 6 decimals."""
        return {k: round(float(getattr(self, k)), 6) for k in ("mean", "se", "p5", "p50", "p95")}


@dataclass(frozen=True)
class DomainAttribution:
    """How much more often a domain failed in the worst trials than overall (module docstring)."""

    dimension: str
    value: str
    probability: float
    base_rate: float
    tail_rate: float
    lift: float
    tail_trials: int
    excess: float


@dataclass(frozen=True)
class MonteCarloResult:
    """Summary of a Monte Carlo failure run; ``to_dict()`` / ``to_json()`` give the versioned JSON.

    Shares are ``None`` when the scenario has no such demand (or no stake for ``stake_alive``), and the
    probabilities of events about them are then ``None`` too. ``p_*_se`` fields are binomial standard
    errors ``sqrt(p (1 - p) / T)``.
    """

    scenario: str
    trials: int
    seed: int
    chunk_trials: int
    workers: int
    nodes: int
    domains: int
    dimensions: tuple[str, ...]
    unmatched: tuple[tuple[str, str], ...]
    baseline_served: float | None
    baseline_verified: float | None
    baseline_dominant: tuple[SurvivingDomain, ...]
    p_no_failure: float
    mean_failed_domains: float
    mean_down_nodes: float
    served: ShareStats | None
    verified: ShareStats | None
    capacity_lost: ShareStats
    stake_alive: ShareStats | None
    slo_target: float
    p_served_below_target: float | None
    p_verified_below_target: float | None
    p_halted: float | None
    p_fragile: float | None
    p_any_unreplicated: float
    model_unreplicated: tuple[tuple[str, float], ...]
    tail: float
    tail_trials: int
    attribution: tuple[DomainAttribution, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able mapping (``schema_version`` :data:`SCHEMA_VERSION`; docs/simulate.md)."""
        t = self.trials

        def prob(p: float | None) -> dict[str, float | None] | None:
            return None if p is None else {"p": _r(p), "se": _r(_binom_se(p, t))}

        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "simulate-failures",
            "scenario": self.scenario,
            "trials": t,
            "seed": self.seed,
            "chunk_trials": self.chunk_trials,
            "workers": self.workers,
            "nodes": self.nodes,
            "domains": self.domains,
            "dimensions": list(self.dimensions),
            "unmatched": [{"dimension": d, "value": v} for d, v in self.unmatched],
            "baseline": {
                "demand_served": _r(self.baseline_served),
                "verified": _r(self.baseline_verified),
                "dominant": [
                    {"dimension": d.dimension, "value": d.value, "share": _r(d.share)}
                    for d in self.baseline_dominant
                ],
            },
            "p_no_failure": _r(self.p_no_failure),
            "mean_failed_domains": _r(self.mean_failed_domains),
            "mean_down_nodes": _r(self.mean_down_nodes),
            "served": None if self.served is None else self.served.to_dict(),
            "verified": None if self.verified is None else self.verified.to_dict(),
            "capacity_lost": self.capacity_lost.to_dict(),
            "stake_alive": None if self.stake_alive is None else self.stake_alive.to_dict(),
            "slo_target": self.slo_target,
            "events": {
                "served_below_target": prob(self.p_served_below_target),
                "verified_below_target": prob(self.p_verified_below_target),
                "halted": prob(self.p_halted),
                "fragile": prob(self.p_fragile),
                "any_model_unreplicated": prob(self.p_any_unreplicated),
            },
            "model_unreplicated": [{"model": m, "p": _r(p)} for m, p in self.model_unreplicated],
            "tail": self.tail,
            "tail_trials": self.tail_trials,
            "attribution": [
                {
                    "dimension": a.dimension,
                    "value": a.value,
                    "probability": _r(a.probability),
                    "base_rate": _r(a.base_rate),
                    "tail_rate": _r(a.tail_rate),
                    "lift": _r(a.lift, 4),
                    "tail_trials": a.tail_trials,
                    "excess": _r(a.excess, 2),
                }
                for a in self.attribution
            ],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _r(x: float | None, nd: int = 6) -> float | None:
    return None if x is None else round(float(x), nd)


def _binom_se(p: float, n: int) -> float:
    """Standard error of a proportion ``p`` estimated from ``n`` trials.

    >>> round(_binom_se(0.5, 100), 6)
    0.05
    """
    return math.sqrt(max(p * (1.0 - p), 0.0) / n) if n > 0 else math.nan


def _stats(x: NDArray[np.float64]) -> ShareStats | None:
    """Mean, standard error and percentiles of ``x`` (``None`` when all values are ``nan``).

    >>> _stats(np.array([0.0, 1.0, 1.0, 1.0, 1.0])).p5
    0.2
    """
    if x.size == 0 or np.all(np.isnan(x)):
        return None
    x = x[~np.isnan(x)]
    p5, p50, p95 = np.quantile(x, [0.05, 0.5, 0.95])
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0
    return ShareStats(float(x.mean()), se, float(p5), float(p50), float(p95))


def _attribution(
    t: TrialOutcomes, failed: NDArray[np.bool_], tail: float, top: int
) -> tuple[int, tuple[DomainAttribution, ...]]:
    harm = t.harm()
    k = math.ceil(tail * t.trials)
    order = np.lexsort((np.arange(t.trials), -harm))[:k]  # highest harm first, then trial index
    sel = order[harm[order] > 0]
    n_tail = int(sel.size)
    if n_tail == 0:
        return 0, ()
    base = failed.mean(axis=0)
    in_tail = failed[sel].sum(axis=0)
    rows = []
    fd = t.domains
    for d in np.flatnonzero((in_tail > 0) & (base > 0)):
        tail_rate = in_tail[d] / n_tail
        excess = float(in_tail[d] - base[d] * n_tail)
        if excess <= 0:
            continue
        rows.append(
            DomainAttribution(
                dimension=fd.dimensions[int(fd.dim[d])],
                value=fd.values[d],
                probability=float(fd.probability[d]),
                base_rate=float(base[d]),
                tail_rate=float(tail_rate),
                lift=float(tail_rate / base[d]),
                tail_trials=int(in_tail[d]),
                excess=excess,
            )
        )
    rows.sort(key=lambda a: (-a.excess, -a.lift, a.dimension, a.value))
    return n_tail, tuple(rows[:top])


def check_summary_args(slo_target: float, tail: float, top: int) -> None:
    """Raise :class:`SimulationError` naming the argument when one of :func:`summarise`'s is out of range.

    >>> check_summary_args(0.9, 0.0, 10)
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.SimulationError: tail: must be in (0, 1] (got 0.0)
    """
    if not 0.0 <= slo_target <= 1.0:
        raise SimulationError(f"slo_target: must be in [0, 1] (got {slo_target})")
    if not 0.0 < tail <= 1.0:
        raise SimulationError(f"tail: must be in (0, 1] (got {tail})")
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise SimulationError(f"top: must be an integer >= 0 (got {top!r})")


def summarise(
    trials: TrialOutcomes,
    *,
    slo_target: float = 0.9,
    tail: float = 0.05,
    top: int = 10,
) -> MonteCarloResult:
    """Summary of ``trials`` (module docstring).

    Parameters
    ----------
    slo_target : a trial counts in ``p_served_below_target`` when its served share is below this
        (and likewise for the verified share)
    tail : share of worst trials used for the attribution, in (0, 1]
    top : domains listed in the attribution

    Raises
    ------
    SimulationError
        When ``slo_target`` is outside [0, 1], ``tail`` outside (0, 1] or ``top`` negative.
    """
    check_summary_args(slo_target, tail, top)
    t = trials
    n = t.trials
    failed = t.failed()
    served, verified = _stats(t.served), _stats(t.verified)

    def below(x: NDArray[np.float64]) -> float | None:
        return None if np.all(np.isnan(x)) else float(np.mean(x < slo_target - 1e-12))

    capacity = _stats(t.capacity_lost)
    n_tail, attribution = _attribution(t, failed, tail, top)
    unrep = t.unreplicated.mean(axis=0) if n else np.zeros(len(t.model_ids))
    return MonteCarloResult(
        scenario=t.scenario,
        trials=n,
        seed=t.seed_entropy,
        chunk_trials=t.chunk_trials,
        workers=t.workers,
        nodes=int(t.domains.incidence.shape[1]),
        domains=t.domains.n_domains,
        dimensions=t.domains.dimensions,
        unmatched=t.domains.unmatched,
        baseline_served=t.baseline.demand_served,
        baseline_verified=t.baseline.verified,
        baseline_dominant=t.baseline_dominant,
        p_no_failure=float(np.mean(~failed.any(axis=1))),
        mean_failed_domains=float(failed.sum(axis=1).mean()),
        mean_down_nodes=float(t.down.mean()),
        served=served,
        verified=verified,
        capacity_lost=capacity if capacity is not None else ShareStats(0.0, 0.0, 0.0, 0.0, 0.0),
        stake_alive=_stats(t.stake_alive) if t.has_stake else None,
        slo_target=slo_target,
        p_served_below_target=below(t.served),
        p_verified_below_target=below(t.verified),
        p_halted=float(t.halted.mean()) if t.has_stake else None,
        p_fragile=float(t.fragile.mean()) if t.has_stake else None,
        p_any_unreplicated=float(t.unreplicated.any(axis=1).mean()) if n else 0.0,
        model_unreplicated=tuple(
            (m, float(p))
            for m, p in sorted(zip(t.model_ids, unrep, strict=True), key=lambda x: -x[1])
            if p > 0
        ),
        tail=tail,
        tail_trials=n_tail,
        attribution=attribution,
    )
