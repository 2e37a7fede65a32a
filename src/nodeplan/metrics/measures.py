"""Concentration measures of a weight distribution, following the Edinburgh Decentralization Index (EDI).

Every function takes the per-entity weights ``w`` (nodes, capacity or stake per provider, country, ...),
in any order, and follows the definitions of the EDI code (GitHub
``Blockchain-Technology-Lab/consensus-decentralization``, ``consensus_decentralization/metrics``), as
summarised in ``../shared/data/metrics/edi_definitions.md``. ``p_i = w_i / Σw``.

Conventions chosen here (and documented in ``docs/audit.md``):

* **HHI** is on the EDI/antitrust scale ``Σ (100·p_i)²`` in ``(0, 10000]``; the effective number of
  entities is ``10000 / HHI``. (The 0..1 fraction is ``HHI / 10000``.)
* **Entropy** is in bits (base 2); the effective number of entities from it is ``2**H`` (= ``exp`` of
  the entropy in nats).
* Functions return ``None`` where the EDI returns "none" (all weights zero, no entities).

Edge cases, as the EDI code handles them (each function's docstring repeats its own):

=================  ==========================================================================================
ties               Nakamoto / tau: equal entities are interchangeable, so ties never change the count; the
                   ``top`` list of :func:`measure_distribution` breaks ties by input order (stable sort).
zero weights       ignored by entities, Nakamoto, HHI, entropy and concentration ratios; **counted** in the
                   ``n`` of Gini and Theil (a member with no stake makes the distribution more unequal).
single entity      Nakamoto 1 (at any threshold), HHI 10000, entropy 0 bits, normalised entropy 0, both
                   effective numbers 1, Gini 0, Theil 0, top-1 share 1.
no weight at all   ``None`` for every measure except Theil of ``[]`` (0, EDI) and concentration ratios (0).
unknown values     never dropped: :func:`measure_distribution` reports their weight share
                   (``unknown_share``) whatever the :class:`UnknownPolicy`, and by default (``entity``, the
                   EDI's treatment of ``Unknown``) pools them into one entity named ``unknown``.
=================  ==========================================================================================

:func:`measure_distribution` computes all of them at once for one (dimension, role, weight) cut;
:func:`entity_weights` builds the per-entity weights from integer codes with ``np.bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.model.consensus import FAULT_SHARE

__all__ = [
    "BFT_THRESHOLD",
    "UNKNOWN",
    "DistributionMeasures",
    "UnknownPolicy",
    "concentration_ratio",
    "effective_entities_entropy",
    "effective_entities_hhi",
    "entity_weights",
    "entropy",
    "entropy_percentage",
    "gini",
    "hhi",
    "measure_distribution",
    "nakamoto",
    "tau_index",
    "theil",
    "total_entities",
]

#: Share of voting power whose loss (or control) halts a BFT protocol (the consensus rule's
#: :data:`~nodeplan.model.consensus.FAULT_SHARE`). The EDI publishes ``tau_0.33``; nodeplan uses the exact
#: third, so 3 of 9 equal validators reach it.
BFT_THRESHOLD = FAULT_SHARE
#: Name under which nodes with no value for a dimension are reported.
UNKNOWN = "unknown"
# Relative slack when comparing a cumulative share with a threshold, so that 1/3 + 1/3 + 1/3 >= 1.
_EPS = 1e-12


class UnknownPolicy(StrEnum):
    """What to do with nodes whose value for a dimension is unknown.

    ``entity``: they form one entity named ``unknown`` (the EDI counts ``Unknown`` as an ordinary entity;
    this is the default and the EDI behaviour). ``exclude``: measures use the known values only (the
    unknown share is still reported). ``singletons``: each unknown node is an entity of its own (the
    optimistic bound: unknown never means shared).
    """

    ENTITY = "entity"
    EXCLUDE = "exclude"
    SINGLETONS = "singletons"


def _arr(w: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(w, dtype=float).ravel()
    if a.size and not np.all(np.isfinite(a)):
        raise ValueError(f"weights must be finite (got {a[~np.isfinite(a)][0]!r})")
    return a


def total_entities(w: ArrayLike) -> int:
    """Number of entities with a positive weight (zeros ignored).

    >>> total_entities([5, 0, 0])
    1
    """
    return int(np.count_nonzero(_arr(w) > 0))


def tau_index(w: ArrayLike, threshold: float) -> int | None:
    """Fewest entities whose combined share reaches ``threshold`` (``>=``, as the EDI code does).

    Entities are taken largest first; a cumulative share exactly equal to the threshold suffices (the EDI
    docs say "more than", its code uses ``>=``). Ties do not change the count. ``None`` when ``Σw = 0``.

    >>> tau_index([3, 2, 1, 1, 1, 1], 0.33), tau_index([3, 2, 1], 0.66), tau_index([3, 2, 1, 1, 1, 1], 0.66)
    (1, 2, 3)
    """
    a = _arr(w)
    total = a.sum()
    if a.size == 0 or total <= 0:
        return None
    cum = np.cumsum(np.sort(a)[::-1]) / total
    return int(np.searchsorted(cum, threshold - _EPS, side="left")) + 1


def nakamoto(w: ArrayLike, threshold: float = 0.5) -> int | None:
    """Nakamoto coefficient: :func:`tau_index` at 0.5 (or at :data:`BFT_THRESHOLD` for BFT).

    Zero weights never count; ties do not change the count; one entity gives 1; ``None`` when ``Σw = 0``
    or there are no entities (EDI).

    >>> nakamoto([3, 2, 1]), nakamoto([3, 2, 1, 1, 1, 1]), nakamoto([1]), nakamoto([0, 0])
    (1, 2, 1, None)
    """
    return tau_index(w, threshold)


def hhi(w: ArrayLike) -> float | None:
    """Herfindahl-Hirschman index ``Σ (100·p_i)²`` in ``(0, 10000]``; ``None`` when ``Σw = 0``.

    Antitrust bands: below 1500 unconcentrated, 1500-2500 moderate, above 2500 high. Zero weights add
    nothing; one entity gives 10000; ``n`` equal entities give ``10000 / n``.

    >>> hhi([1] * 10), hhi([8, 6, 3, 3]), hhi([2, 2]), hhi([1])
    (1000.0, 2950.0, 5000.0, 10000.0)
    """
    a = _arr(w)
    total = a.sum()
    if a.size == 0 or total <= 0:
        return None
    p = a / total
    return float(round(np.sum((100.0 * p) ** 2), 9))


def effective_entities_hhi(w: ArrayLike) -> float | None:
    """Effective number of entities ``1 / Σ p_i²`` (= ``10000 / HHI``).

    Zero weights are ignored; one entity gives 1, ``n`` equal entities ``n``; ``None`` when ``Σw = 0``.

    >>> effective_entities_hhi([1, 1, 1, 1]), effective_entities_hhi([8, 6, 3, 3])
    (4.0, 3.389830508474576)
    """
    h = hhi(w)
    return None if h is None else 10000.0 / h


def entropy(w: ArrayLike, alpha: float = 1.0) -> float | None:
    """Rényi entropy of order ``alpha`` in bits; ``alpha = 1`` is Shannon ``−Σ p log₂ p``.

    ``alpha = -1`` is the EDI's min-entropy ``−log₂ max p``; otherwise ``log₂(Σ p^α) / (1 − α)``.
    Entities with ``p = 0`` are skipped. ``None`` when ``Σw = 0``.

    >>> round(entropy([3, 2, 1]), 3), entropy([3, 2, 1], alpha=-1)
    (1.459, 1.0)
    >>> entropy([432, 288, 216, 64], alpha=0), round(entropy([432, 288, 216, 64], alpha=2), 3)
    (2.0, 1.642)
    >>> entropy([0, 0]) is None
    True
    """
    a = _arr(w)
    total = a.sum()
    if a.size == 0 or total <= 0:
        return None
    p = a / total
    p = p[p > 0]  # also drops weights so small that their share underflows to 0
    if alpha == 1:
        h = -np.sum(p * np.log2(p))
    elif alpha == -1:
        h = -np.log2(p.max())
    else:
        h = np.log2(np.sum(p**alpha)) / (1.0 - alpha)
    return float(h) + 0.0  # + 0.0 turns -0.0 into 0.0


def entropy_percentage(w: ArrayLike) -> float | None:
    """Shannon entropy divided by its maximum ``log₂(total entities)``; one entity gives 0.

    >>> round(entropy_percentage([3, 2, 1]), 3), entropy_percentage([7])
    (0.921, 0.0)
    """
    h = entropy(w)
    if h is None:
        return None
    n = total_entities(w)
    return 0.0 if n <= 1 else h / float(np.log2(n))


def effective_entities_entropy(w: ArrayLike) -> float | None:
    """Effective number of entities ``2**H`` (Shannon entropy in bits; equals ``exp`` of it in nats).

    Zero weights are ignored; one entity gives 1, ``n`` equal entities ``n``; ``None`` when ``Σw = 0``.

    >>> effective_entities_entropy([5, 5, 5, 5])
    4.0
    """
    h = entropy(w)
    return None if h is None else float(2.0**h)


def gini(w: ArrayLike) -> float | None:
    """Gini coefficient ``Σ (2i − n − 1)·w_i / (n·Σw)`` over weights sorted ascending, ``i = 1..n``.

    **n counts zero entries** (an entity with no weight makes the distribution more unequal). Negative
    values shift all by ``−min`` first. ``[x] → 0``; ``None`` when there are no entries or ``Σw = 0``.

    >>> round(gini([5, 4, 3, 2, 1]), 5), round(gini([368, 156, 20, 7, 10, 49, 22, 1]), 5)
    (0.26667, 0.67792)
    >>> round(gini([11, 2, -1]), 5), round(gini([1, 1, 3, 0, 0]), 5), gini([1])
    (0.53333, 0.56, 0.0)
    """
    a = _arr(w)
    if a.size == 0:
        return None
    if a.min() < 0:
        a = a - a.min()
    total = a.sum()
    if total <= 0:
        return None
    n = a.size
    i = np.arange(1, n + 1, dtype=float)
    # Equal weights give exactly 0 in exact arithmetic; summation error can leave -1e-17: clamp.
    return max(0.0, float(np.sum((2.0 * i - n - 1.0) * np.sort(a)) / (n * total)))


def theil(w: ArrayLike) -> float | None:
    """Theil index ``(1/n) Σ x ln x`` with ``x = w / mean(w)`` (natural log, ``x = 0`` skipped).

    n counts zero entries; ``[] → 0`` (EDI); ``None`` when ``Σw = 0`` with entries.

    >>> round(theil([3, 2, 1]), 3), round(theil([3, 2, 1, 1, 1, 1]), 3), round(theil([432, 0, 0, 0]), 3)
    (0.087, 0.115, 1.386)
    >>> theil([432]), theil([])
    (0.0, 0.0)
    """
    a = _arr(w)
    if a.size == 0:
        return 0.0
    total = a.sum()
    if total <= 0:
        return None
    x = a / (total / a.size)
    x = x[x > 0]
    # Non-negative by Jensen's inequality; clamp the -1e-17 that rounding leaves for equal weights.
    return max(0.0, float(np.sum(x * np.log(x)) / a.size))


def concentration_ratio(w: ArrayLike, k: int) -> float:
    """Share of the ``k`` largest entities, ``Σ top-k / Σw`` (0 when ``Σw = 0``). ``k = 1``: max power ratio.

    >>> concentration_ratio([3, 2, 1], 1), round(concentration_ratio([3, 2, 1, 1, 1, 1], 3), 6)
    (0.5, 0.666667)
    """
    a = _arr(w)
    total = a.sum()
    if total <= 0:
        return 0.0
    if k < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    return float(np.sort(a)[::-1][:k].sum() / total)


def entity_weights(
    codes: NDArray[np.integer],
    weights: NDArray[np.float64],
    n_values: int,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per-value total weight and node count of integer-coded nodes (``-1`` = unknown), by ``np.bincount``.

    Returns
    -------
    weight : (n_values + 1,) slot 0 is the unknown value, slot ``c + 1`` is code ``c``
    count : (n_values + 1,) number of nodes in each slot

    >>> w, c = entity_weights(np.array([0, 1, 1, -1]), np.array([1.0, 2.0, 3.0, 4.0]), 3)
    >>> w.tolist(), c.tolist()
    ([4.0, 1.0, 5.0, 0.0], [1, 1, 2, 0])
    """
    slot = np.asarray(codes, dtype=np.int64) + 1
    w = np.bincount(slot, weights=weights, minlength=n_values + 1).astype(float)
    c = np.bincount(slot, minlength=n_values + 1).astype(np.int64)
    return w, c


@dataclass(frozen=True)
class DistributionMeasures:
    """All measures of one weight distribution over entities (one dimension, role and weight).

    ``entities`` counts entities with positive weight; ``present`` counts entities with at least one
    node (the ``n`` of Gini and Theil, so zero-weight members count). Shares are fractions in [0, 1];
    ``hhi`` is on the 0..10000 scale. ``top`` lists the largest entities as ``(name, share)``.
    ``unknown_share`` is the weight share of nodes with no value, whatever the unknown policy.
    """

    entities: int
    present: int
    nakamoto_50: int | None
    nakamoto_33: int | None
    hhi: float | None
    entropy_bits: float | None
    entropy_norm: float | None
    effective_hhi: float | None
    effective_entropy: float | None
    gini: float | None
    theil: float | None
    top1_share: float
    top3_share: float
    top: tuple[tuple[str, float], ...]
    unknown_share: float
    total_weight: float


def measure_distribution(
    names: tuple[str, ...],
    weight: NDArray[np.float64],
    count: NDArray[np.int64],
    *,
    unknown_weights: NDArray[np.float64] | None = None,
    policy: UnknownPolicy = UnknownPolicy.ENTITY,
    top_k: int = 10,
) -> DistributionMeasures:
    """Measures of a distribution laid out as :func:`entity_weights` returns it.

    Parameters
    ----------
    names : the ``n_values`` known entity names (slot ``c + 1`` is ``names[c]``)
    weight, count : (n_values + 1,) per-slot weight and node count, slot 0 = unknown
    unknown_weights : per-node weights of the unknown nodes, needed for ``policy = singletons``
    policy : see :class:`UnknownPolicy`
    top_k : how many of the largest entities to list in ``top``

    Examples
    --------
    >>> m = measure_distribution(("a", "b"), np.array([2.0, 6.0, 2.0]), np.array([1, 3, 1]))
    >>> m.entities, m.nakamoto_50, m.hhi, m.top[0], m.unknown_share
    (3, 1, 4400.0, ('a', 0.6), 0.2)
    """
    total = float(weight.sum())
    unknown_share = float(weight[0] / total) if total > 0 else 0.0
    known_present = count[1:] > 0
    w_known = weight[1:][known_present]
    names_known = [n for n, keep in zip(names, known_present, strict=True) if keep]
    if policy is UnknownPolicy.ENTITY and count[0] > 0:
        w = np.concatenate([w_known, weight[:1]])
        labels = [*names_known, UNKNOWN]
    elif policy is UnknownPolicy.SINGLETONS and count[0] > 0:
        extra = np.asarray(
            unknown_weights if unknown_weights is not None else np.full(count[0], weight[0] / count[0])
        )
        w = np.concatenate([w_known, extra])
        labels = [*names_known, *(f"{UNKNOWN}#{i}" for i in range(extra.size))]
    else:
        w = w_known
        labels = names_known
    order = np.argsort(-w, kind="stable")[:top_k]
    wt = float(w.sum())
    top = tuple((labels[i], float(w[i] / wt) if wt > 0 else 0.0) for i in order)
    h = entropy(w)
    return DistributionMeasures(
        entities=total_entities(w),
        present=int(w.size),
        nakamoto_50=nakamoto(w, 0.5),
        nakamoto_33=nakamoto(w, BFT_THRESHOLD),
        hhi=hhi(w),
        entropy_bits=h,
        entropy_norm=entropy_percentage(w),
        effective_hhi=effective_entities_hhi(w),
        effective_entropy=None if h is None else float(2.0**h),
        gini=gini(w),
        theil=theil(w) if w.size else None,
        top1_share=concentration_ratio(w, 1),
        top3_share=concentration_ratio(w, 3),
        top=top,
        unknown_share=unknown_share,
        total_weight=total,
    )
