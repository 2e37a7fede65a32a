"""Analytic M/M/c queue: probability of waiting (Erlang C) and mean wait, vectorised."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["erlang_c", "mmc_wait_s"]


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
    a = lam * s
    with np.errstate(divide="ignore", invalid="ignore"):
        w = erlang_c(c, a) * s / (c - a)
    w = np.where((a < c) & (c > 0), w, np.inf)
    return np.where(lam <= 0, 0.0, w)
