"""The consensus rule, once: after a failure, does BFT coordination halt, and is what survives fragile?

Two separate facts, never merged into one flag:

``halted``
    the live stake after the loss is at most 2/3 of the **total** stake (:data:`HALT_ALIVE_SHARE`), so a
    BFT validator set (Tendermint/CometBFT, Solana's Tower BFT) cannot reach a quorum and stops. Stake of
    coordinators that are already down (delinquent) counts in the total, not as alive.
``fragile``
    consensus still runs (not halted), but one surviving domain -- a known value of **any** of the model's
    domain dimensions (provider, ASN, country, operator, ...), not only the failed one's dimension --
    holds at least 1/3 of the *surviving* stake (:data:`FAULT_SHARE`): that one domain failing next would
    halt it. The domain and its share are reported (the *largest surviving domain*). The share is of the
    surviving stake: a domain's share of the total cannot tell failures apart.

Stake is the ``stake`` of the coordination nodes; only live coordinators with positive stake can be lost
or survive. With no coordination stake at all the rule does not apply: :func:`consensus_model` returns
``None`` and callers report ``None`` / ``null``. Shares compare with a tolerance of ``1e-12`` (so exactly
2/3 alive halts and exactly 1/3 is fragile, whatever the rounding).

Two entry points compute the same thing (a property test checks that they agree):

* :meth:`ConsensusModel.after_each_value` -- the loss of each value of one dimension, for all values at
  once;
* :meth:`ConsensusModel.after_down` -- an arbitrary set of failed nodes, a boolean mask ``(n,)`` or
  ``(T, n)`` (Monte Carlo trials, what-if), vectorised over rows.

Both reduce their failures to (failure, lost node) pairs: the stake lost is an ``np.bincount`` over the
failures, and for each domain dimension the largest surviving domain comes from the stake each failure
takes from each domain it touches (``np.bincount`` over the (failure, domain) pairs that occur) and the
largest domain it does not touch. Work and memory grow with the number of pairs (at most one per node for
``after_each_value``), never with failures x values or failures x nodes.

Ties for the largest surviving domain go to the first domain dimension in the model's order, then to the
lowest value code.

Consensus part of harm (:func:`consensus_harm`): ``stake_lost + 1`` when the failure newly halts
consensus (halted after it, not halted with no failure), else ``stake_lost``. Both terms can only grow
when more nodes fail, so the part is monotone; ``fragile`` is not (losing the dominant domain itself
makes a fragile network robust) and is never part of harm. A failure that loses no stake adds nothing.

Examples
--------
Four validators with stake 30, 30, 20, 20 on providers a, b, c, d:

>>> from nodeplan.scenario.arrays import compile_scenario
>>> from nodeplan.scenario.model import Node, Scenario
>>> sc = Scenario(nodes=[Node(id=p, lat=0, lon=0, roles={"coordination"}, stake=s, provider=p)
...                      for p, s in zip("abcd", (30, 30, 20, 20))])
>>> a = compile_scenario(sc)
>>> cm = consensus_model(a, a.dim_codes, ("provider",))
>>> out = cm.after_each_value("provider")
>>> out.alive_share.tolist(), out.halted.tolist(), out.fragile.tolist()
([0.7, 0.7, 0.8, 0.8], [False, False, False, False], [True, True, True, True])
>>> cm.at(out, 2).largest
SurvivingDomain(dimension='provider', value='a', share=0.375)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Role

__all__ = [
    "FAULT_SHARE",
    "HALT_ALIVE_SHARE",
    "Consensus",
    "ConsensusArrays",
    "ConsensusModel",
    "SurvivingDomain",
    "consensus_harm",
    "consensus_model",
]

#: BFT consensus halts when the live share of the total stake is at or below this (needs > 2/3 to commit).
HALT_ALIVE_SHARE = 2.0 / 3.0
#: A domain holding this share of the stake (or more) can halt BFT consensus alone by failing.
FAULT_SHARE = 1.0 / 3.0
_TOL = 1e-12


@dataclass(frozen=True)
class SurvivingDomain:
    """A domain (``dimension = value``) and its ``share`` of the surviving (live) stake."""

    dimension: str
    value: str
    share: float


@dataclass(frozen=True)
class Consensus:
    """Consensus after one failure (module docstring); shares are of the total stake.

    ``largest`` is the largest surviving domain over the model's domain dimensions (``None`` when no
    stake survives).
    """

    stake_lost: float
    alive_share: float
    halted: bool
    fragile: bool
    largest: SurvivingDomain | None


@dataclass(frozen=True, eq=False)
class ConsensusArrays:
    """Consensus after each of ``k`` failures (arrays of length ``k``; read one with :meth:`ConsensusModel.at`).

    Attributes
    ----------
    stake_lost : live stake on the failed nodes / total stake
    alive_share : live stake left / total stake
    halted, fragile : the two facts of the module docstring
    largest_share : the largest surviving domain's share of the surviving stake (``nan`` when none survives)
    largest_dim : index into :attr:`ConsensusModel.domain_dims` of its dimension (``-1`` when none)
    largest_value : its value code in that dimension (``-1`` when none)
    """

    stake_lost: NDArray[np.float64]
    alive_share: NDArray[np.float64]
    halted: NDArray[np.bool_]
    fragile: NDArray[np.bool_]
    largest_share: NDArray[np.float64]
    largest_dim: NDArray[np.intp]
    largest_value: NDArray[np.intp]


def consensus_harm(stake_lost: ArrayLike, halted: ArrayLike, baseline_halted: bool) -> NDArray[np.float64]:
    """The consensus part of a failure's harm: ``stake_lost + 1`` if the failure newly halts consensus.

    Monotone in the set of failed nodes (module docstring); 0 for a failure that loses no stake.

    >>> consensus_harm([0.0, 0.234, 0.4], [False, False, True], False).round(3).tolist()
    [0.0, 0.234, 1.4]
    >>> consensus_harm(0.4, True, True).tolist()  # already halted with no failure: not newly
    0.4
    """
    lost = np.asarray(stake_lost, dtype=float)
    newly = np.asarray(halted, dtype=bool) & (not baseline_halted)
    return lost + newly


class ConsensusModel:
    """The stake of one network, ready to answer "what if these nodes fail" (build with :func:`consensus_model`).

    Parameters
    ----------
    stake : (n,) stake of every node (only coordinators count)
    coord : (n,) bool, coordination role
    live : (n,) bool, node is up
    codes : (n, d) completed dimension codes (``-1`` = unknown: never a domain)
    dims : the names of the ``d`` columns of ``codes``
    values : per column, the value names of the codes
    domain_dims : the dimensions whose surviving domains make consensus fragile (names from ``dims``)
    """

    def __init__(
        self,
        stake: NDArray[np.float64],
        coord: NDArray[np.bool_],
        live: NDArray[np.bool_],
        codes: NDArray[np.integer],
        dims: tuple[str, ...],
        values: tuple[tuple[str, ...], ...],
        domain_dims: tuple[str, ...],
    ) -> None:
        stake = np.asarray(stake, dtype=float)
        self.n_nodes = int(stake.shape[0])
        self.total = float(stake[coord].sum())
        keep = coord & live & (stake > 0)
        #: the nodes that can be lost or survive: live coordinators with stake
        self.index: NDArray[np.intp] = np.flatnonzero(keep)
        self._s = stake[self.index]
        self._pos = np.full(self.n_nodes, -1, dtype=np.intp)  # node -> its place in ``index`` (-1: none)
        self._pos[self.index] = np.arange(self.index.size)
        self.alive = float(self._s.sum())
        self.dims = dims
        self.values = values
        self.domain_dims = tuple(domain_dims)
        self._codes = np.asarray(codes)[self.index].astype(np.int64)
        self._dom: list[tuple[int, NDArray[np.float64], NDArray[np.intp], NDArray[np.intp]]] = []
        for d in self.domain_dims:
            k = dims.index(d)
            nv = len(values[k])
            c = self._codes[:, k]
            known = c >= 0
            per = np.bincount(c[known], weights=self._s[known], minlength=nv).astype(float)
            order = np.argsort(-per, kind="stable")  # largest first, ties: lowest code
            rank = np.empty(nv, dtype=np.intp)
            rank[order] = np.arange(nv)
            self._dom.append((k, per, order, rank))
        self._base = self.after_down(np.zeros((1, self.n_nodes), dtype=bool))

    # -- the two paths ------------------------------------------------------------------------------
    def after_each_value(self, dim: str) -> ConsensusArrays:
        """Consensus after losing each value of ``dim`` (length ``len(values[dim])``), all at once."""
        k = self.dims.index(dim)
        c = self._codes[:, k]
        node = np.flatnonzero(c >= 0)
        return self._after_pairs(c[node], node, len(self.values[k]))

    def after_down(self, down: NDArray[np.bool_]) -> ConsensusArrays:
        """Consensus after the nodes of each row of ``down`` fail: ``(n,)`` or ``(T, n)`` bool (length 1 or T).

        Nodes already down, without the coordination role or without stake change nothing. The work is
        proportional to the number of (row, failed live coordinator) pairs, not to ``T x n``.
        """
        d = np.asarray(down, dtype=bool)
        d = d.reshape(1, -1) if d.ndim == 1 else d
        rows, cols = np.nonzero(d)
        node = self._pos[cols]
        keep = node >= 0
        return self._after_pairs(rows[keep], node[keep], d.shape[0])

    def _after_pairs(
        self, fail: NDArray[np.integer], node: NDArray[np.integer], n_fail: int
    ) -> ConsensusArrays:
        """Consensus after each of ``n_fail`` failures, given as pairs: failure ``fail[p]`` takes down live
        coordinator ``node[p]`` (an index into :attr:`index`; at most one pair per failure and node)."""
        f64 = np.asarray(fail, dtype=np.int64)
        s = self._s[node]
        lost = np.bincount(f64, weights=s, minlength=n_fail).astype(float)
        best = np.zeros(n_fail)
        best_dim = np.full(n_fail, -1, dtype=np.intp)
        best_val = np.full(n_fail, -1, dtype=np.intp)
        for j, (kj, per, order, rank) in enumerate(self._dom):
            val, code = _largest_left(f64, self._codes[node, kj], s, per, order, rank, n_fail)
            _merge(best, best_dim, best_val, val, code, j, self.alive)
        return self._finish(lost, best, best_dim, best_val)

    # -- reading ------------------------------------------------------------------------------------
    def baseline(self) -> Consensus:
        """Consensus with no failure."""
        return self.at(self._base, 0)

    def at(self, out: ConsensusArrays, i: int) -> Consensus:
        """Row ``i`` of ``out`` as a record (the largest surviving domain named)."""
        j = int(out.largest_dim[i])
        largest = None
        if j >= 0:
            k = self.dims.index(self.domain_dims[j])
            largest = SurvivingDomain(
                self.domain_dims[j], self.values[k][int(out.largest_value[i])], float(out.largest_share[i])
            )
        return Consensus(
            stake_lost=float(out.stake_lost[i]),
            alive_share=float(out.alive_share[i]),
            halted=bool(out.halted[i]),
            fragile=bool(out.fragile[i]),
            largest=largest,
        )

    def dominant(self) -> tuple[SurvivingDomain, ...]:
        """Domains holding 1/3 or more of the live stake with no failure, largest first (what makes the
        network fragile before anything fails)."""
        if self.alive <= 0:
            return ()
        out: list[SurvivingDomain] = []
        for d, (kj, per, _, _) in zip(self.domain_dims, self._dom, strict=True):
            share = per / self.alive
            out.extend(
                SurvivingDomain(d, self.values[kj][v], float(share[v]))
                for v in np.flatnonzero(share >= FAULT_SHARE - _TOL)
            )
        return tuple(sorted(out, key=lambda x: -x.share))

    def harm(self, out: ConsensusArrays) -> NDArray[np.float64]:
        """:func:`consensus_harm` of each row of ``out`` against this network with no failure."""
        return consensus_harm(out.stake_lost, out.halted, bool(self._base.halted[0]))

    # -- internals ----------------------------------------------------------------------------------
    def _finish(
        self,
        lost: NDArray[np.float64],
        best: NDArray[np.float64],
        best_dim: NDArray[np.intp],
        best_val: NDArray[np.intp],
    ) -> ConsensusArrays:
        left = np.maximum(self.alive - lost, 0.0)
        total = self.total if self.total > 0 else 1.0
        alive_share = left / total
        halted = ~(alive_share > HALT_ALIVE_SHARE + _TOL)
        has = (left > 0) & (best > 0)
        share = np.where(has, best / np.where(left > 0, left, 1.0), np.nan)
        fragile = ~halted & has & (np.nan_to_num(share) >= FAULT_SHARE - _TOL)
        return ConsensusArrays(
            stake_lost=lost / total,
            alive_share=alive_share,
            halted=halted,
            fragile=fragile,
            largest_share=share,
            largest_dim=np.where(has, best_dim, -1),
            largest_value=np.where(has, best_val, -1),
        )


def _merge(
    best: NDArray[np.float64],
    best_dim: NDArray[np.intp],
    best_val: NDArray[np.intp],
    val: NDArray[np.float64],
    code: NDArray[np.intp],
    j: int,
    scale: float,
) -> None:
    """Keep, in place, dimension ``j``'s largest domain where it beats the best so far by more than the
    tolerance (ties stay with the earlier dimension)."""
    better = (val > best + _TOL * max(scale, 1.0)) & (code >= 0)
    best[better] = val[better]
    best_dim[better] = j
    best_val[better] = code[better]


def _largest_left(
    fail: NDArray[np.int64],
    cj: NDArray[np.int64],
    s: NDArray[np.float64],
    per: NDArray[np.float64],
    order: NDArray[np.intp],
    rank: NDArray[np.intp],
    nf: int,
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """For each of ``nf`` failures: the stake and code of the largest domain of one domain dimension that
    survives it (``0``, ``-1`` when none). The failures come as pairs ``(fail[p], node p)`` with the node's
    code ``cj[p]`` in that dimension and stake ``s[p]``; ``per``, ``order``, ``rank`` are the dimension's
    stake per value with no failure, values by decreasing stake and each value's place in that order.

    A domain ``u`` keeps ``per[u] - L[f, u]``, where ``L[f, u]`` is the stake failure ``f`` takes from it;
    ``L`` is sparse (one entry per pair at most), so each failure compares its *touched* domains with the
    largest *untouched* one, found as the first rank missing among its touched domains' ranks.
    """
    nv = nf
    nvj = per.size
    val = np.zeros(nv)
    code = np.full(nv, -1, dtype=np.intp)
    if nvj == 0 or nv == 0:
        return val, code
    sel = cj >= 0
    key = fail[sel] * nvj + cj[sel]
    uk, inv = np.unique(key, return_inverse=True)
    pair_lost = np.bincount(inv.ravel(), weights=s[sel], minlength=uk.size)
    pv, pu = uk // nvj, uk % nvj
    remain = np.maximum(per[pu] - pair_lost, 0.0)
    counts = np.bincount(pv, minlength=nv)
    starts = np.cumsum(counts) - counts
    # largest untouched: first rank (in ``order``) that is not among v's touched domains
    o = np.lexsort((rank[pu], pv))
    pos = np.arange(o.size) - starts[pv[o]]
    miss = counts.copy()  # every rank below the count taken: the first untouched one is the count
    groups = np.flatnonzero(counts > 0)
    if o.size:
        first_gap = np.where(rank[pu[o]] != pos, pos, np.iinfo(np.int64).max)  # groups are contiguous in o
        miss[groups] = np.minimum(counts[groups], np.minimum.reduceat(first_gap, starts[groups]))
    has = miss < nvj
    u_code = np.where(has, order[np.minimum(miss, nvj - 1)], -1)
    u_val = np.where(has, per[np.maximum(u_code, 0)], 0.0)
    # largest touched: sort by v, remaining stake (desc), code
    o2 = np.lexsort((pu, -remain, pv))
    t_val = np.full(nv, -1.0)
    t_code = np.full(nv, -1, dtype=np.intp)
    first = o2[starts[groups]]
    t_val[groups] = remain[first]
    t_code[groups] = pu[first]
    take_t = (t_val > u_val) | ((t_val == u_val) & (t_code >= 0) & ((u_code < 0) | (t_code < u_code)))
    val = np.where(take_t, t_val, u_val)
    code = np.where(take_t, t_code, u_code)
    none = val <= 0
    return np.where(none, 0.0, val), np.where(none, -1, code).astype(np.intp)


def consensus_model(
    arrays: ScenarioArrays, codes: NDArray[np.integer], domain_dims: tuple[str, ...]
) -> ConsensusModel | None:
    """The :class:`ConsensusModel` of a compiled scenario, or ``None`` when its coordinators hold no stake.

    Parameters
    ----------
    codes : (n, d) completed codes (:func:`~nodeplan.metrics.graph.complete_codes`), columns ``arrays.dims``
    domain_dims : dimensions whose surviving domains make consensus fragile (normally the failure table's)
    """
    coord = arrays.role(Role.COORDINATION)
    if not float(arrays.stake[coord].sum()) > 0:
        return None
    return ConsensusModel(arrays.stake, coord, arrays.up, codes, arrays.dims, arrays.dim_values, domain_dims)
