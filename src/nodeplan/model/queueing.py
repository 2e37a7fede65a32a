"""Analytic M/M/c queue: probability of waiting (Erlang C) and mean wait, vectorised."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["erlang_c", "mixed_load", "mmc_wait_s"]


def erlang_c(servers: ArrayLike, offered_load: ArrayLike) -> NDArray[np.float64]:
    """Probability that an arrival waits in an M/M/c queue.

    ``offered_load`` is a = λ/μ in Erlangs. Computed with the stable Erlang-B recursion
    B(0)=1, B(k) = a·B(k-1) / (k + a·B(k-1)), then C = c·B / (c - a·(1 - B)). Returns 1 where
    a >= c (unstable) and 0 where c = 0 is paired with a = 0.

    Examples
    --------
    >>> round(float(erlang_c(1, 0.5)), 6)  # M/M/1: P(wait) = rho
    0.5
    >>> round(float(erlang_c(2, 1.0)), 6)  # c=2, a=1: C = 1/3
    0.333333
    """
    c = np.asarray(servers, dtype=np.int64)
    a = np.asarray(offered_load, dtype=float)
    c, a = np.broadcast_arrays(c, a)
    out = np.ones(c.shape, dtype=float)
    stable = (a < c) & (c > 0)
    out[(c == 0) & (a <= 0)] = 0.0
    if not np.any(stable):
        return out
    cs, as_ = c[stable], a[stable]
    b = np.ones(cs.shape, dtype=float)
    for k in range(1, int(cs.max()) + 1):
        active = k <= cs
        nb = as_ * b / (k + as_ * b)
        b = np.where(active, nb, b)
    out[stable] = cs * b / (cs - as_ * (1.0 - b))
    return out


def mmc_wait_s(arrival_rps: ArrayLike, service_s: ArrayLike, servers: ArrayLike) -> NDArray[np.float64]:
    """Mean time in queue (before service) of an M/M/c queue, seconds; ``inf`` when unstable.

    W_q = C(c, a) · s / (c - a) with a = λ·s.

    Examples
    --------
    >>> round(float(mmc_wait_s(0.5, 1.0, 1)), 6)  # M/M/1: rho/(mu - lambda) = 0.5/0.5
    1.0
    >>> float(mmc_wait_s(0.0, 2.0, 4))
    0.0
    >>> float(mmc_wait_s(3.0, 1.0, 2))
    inf
    """
    lam = np.asarray(arrival_rps, dtype=float)
    s = np.asarray(service_s, dtype=float)
    c = np.asarray(servers, dtype=np.int64)
    lam, s, c = np.broadcast_arrays(lam, s, c)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 x inf (no load on a node that cannot run)
        a = lam * s
        w = erlang_c(c, np.where(lam > 0, a, 0.0)) * s / (c - a)
    w = np.where((a < c) & (c > 0), w, np.inf)
    return np.where(lam <= 0, 0.0, w)


def mixed_load(
    rates_rps: ArrayLike, service_s: ArrayLike, axis: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One M/M/c stand-in ``(arrival_rps, service_s)`` for several classes sharing a FIFO node.

    Each class ``i`` arrives at ``λ_i`` with exponential service of mean ``s_i``. The mixture has offered
    load ``a = Σ λ_i s_i`` and squared coefficient of variation ``cs²`` with
    ``(1 + cs²) / 2 = Σ p_i s_i² / s̄²`` (``p_i = λ_i / λ``). The M/G/c mean wait of Lee and Longton
    (1959), ``W ≈ W_MMc(λ, s̄) · (1 + cs²) / 2 = C(c, a) / (c - a) · Σ λ_i s_i² / Σ λ_i s_i``, is then the
    M/M/c wait (:func:`mmc_wait_s`) of ``arrival = a / s_eff`` and ``service = s_eff = Σ λ s² / Σ λ s``.

    One class: exactly M/M/c. Adding traffic of any class never lowers the wait (both ``a`` and
    ``Σ λ s²`` grow), which the plain M/M/c at the mean service time does not guarantee.

    Returns arrays reduced along ``axis``; ``(0, 0)`` where there is no load.

    >>> lam, s = mixed_load([1.0], [0.5])
    >>> float(lam[()]), float(s[()])
    (1.0, 0.5)
    >>> lam, s = mixed_load([1.0, 1.0], [1.0, 3.0])  # a = 4, s_eff = (1 + 9) / 4
    >>> float(lam[()] * s[()]), float(s[()])
    (4.0, 2.5)
    """
    lam = np.asarray(rates_rps, dtype=float)
    s = np.asarray(service_s, dtype=float)
    lam, s = np.broadcast_arrays(lam, s)
    busy = lam > 0
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 x inf where a class cannot run: no load
        work = np.where(busy, lam * s, 0.0).sum(axis=axis)
        work2 = np.where(busy, lam * s * s, 0.0).sum(axis=axis)
        s_eff = np.where(work > 0, work2 / np.where(work > 0, work, 1.0), 0.0)
        arr = np.where(work > 0, work / np.where(s_eff > 0, s_eff, 1.0), 0.0)
    return np.asarray(arr, dtype=float), np.asarray(s_eff, dtype=float)
