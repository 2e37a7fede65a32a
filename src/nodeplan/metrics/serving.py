"""The serving check: with a set of nodes down, what share of demand is still served within its SLO and
independently verified. Used by the failure table, Monte Carlo and advise (see
:mod:`nodeplan.metrics.failure` for the definitions of ``demand_served`` and ``verified``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from nodeplan.model.queueing import mmc_wait_s
from nodeplan.model.rtt import RttModel
from nodeplan.model.timing import (
    TimingParams,
    cold_start_s,
    executor_factor,
    service_s_by_node,
    verify_check_s,
)
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import DemandClass, Model, Role, Scenario, VerificationMode

__all__ = ["Outcome", "ServingModel"]


@dataclass(frozen=True)
class Outcome:
    """Demand and verification outcome with a set of nodes down (fractions in [0, 1]; ``None`` = n/a)."""

    demand_served: float | None
    verified: float | None


class ServingModel:
    """Precomputed pieces of the serving check (RTT source x node, service times, baseline cold starts).

    Internal helper of :func:`failure_table`; one instance per audit. Not a public record, so a plain
    class holding read-only arrays.
    """

    def __init__(
        self,
        scenario: Scenario,
        arrays: ScenarioArrays,
        codes: NDArray[np.int32],
        rtt: RttModel,
        params: TimingParams | None = None,
    ) -> None:
        self.scenario = scenario
        self.arrays = arrays
        self.rtt = rtt
        self.params = params or TimingParams()
        src = scenario.sources
        w = np.array([s.weight for s in src], dtype=float)
        self.src_w = w / w.sum() if w.sum() > 0 else np.full(len(src), 1.0 / max(len(src), 1))
        a = arrays
        self.rtt_ms = (
            rtt.rtt_ms_named(
                [s.name for s in src], [s.lat for s in src], [s.lon for s in src], a.node_ids, a.lat, a.lon
            )
            if src
            else np.zeros((0, a.n_nodes))
        )
        self.live = a.up.copy()
        self.exec = a.role(Role.EXECUTION)
        self.verif = a.role(Role.VERIFICATION)
        self.cap = a.capacity.astype(float)
        ind = [k for k in scenario.policy.independence if k in a.dims]
        self.ind_codes = codes[:, [a.dim_index(k) for k in ind]]
        self.provider = codes[:, a.dim_index("provider")]
        self.classes: list[_Class] = []
        for d in scenario.demand:
            model = scenario.model(d.model)
            raw = service_s_by_node(a, model)
            s = raw * executor_factor(model, d.verification)
            ok = self.exec & np.isfinite(s) & (self.cap > 0)
            if d.verification in (VerificationMode.TEE, VerificationMode.ZKML):
                ok &= a.mode(d.verification)
            vmask = self.verif & a.mode(d.verification)
            if d.verification is VerificationMode.REEXEC:
                vmask &= np.isfinite(raw) & (self.cap > 0)
            cold, source = cold_start_s(a, model, rtt, self.params, up=self.live)
            hop = self._hops(ok, vmask) if d.verification is not VerificationMode.NONE else None
            self.classes.append(_Class(d, model, raw, s, ok, vmask, cold, source, hop))

    def _hops(self, ok: NDArray[np.bool_], vmask: NDArray[np.bool_]) -> _Hops:
        """Hop RTTs (ms) and independence between the capable executors and the capable verifiers."""
        a = self.arrays
        ex, vs = np.flatnonzero(ok), np.flatnonzero(vmask)
        pe, pv = self.provider[ex][:, None], self.provider[vs][None, :]
        ids = a.node_ids
        rtt_ms = self.rtt.rtt_ms_named(
            [ids[i] for i in ex],
            a.lat[ex],
            a.lon[ex],
            [ids[i] for i in vs],
            a.lat[vs],
            a.lon[vs],
            same_provider=(pe == pv) & (pe >= 0),
        )
        ce, cv = self.ind_codes[ex][:, None, :], self.ind_codes[vs][None, :, :]
        shares = np.any((ce == cv) & (ce >= 0), axis=2)
        itself = ex[:, None] == vs[None, :]
        return _Hops(ex, vs, np.where(itself, np.inf, rtt_ms), ~shares & ~itself)

    def _verification_ms(
        self,
        c: _Class,
        alive: NDArray[np.bool_],
        wait: NDArray[np.float64],
        cold: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """(n,) verification time (ms) of each capable executor with its best-placed verifiers."""
        out = np.zeros(self.arrays.n_nodes)
        h = c.hop
        if h is None or h.ex.size == 0 or h.vs.size == 0:
            return out
        mode = c.demand.verification
        if mode is VerificationMode.REEXEC:
            check_ms = (wait[h.vs] + cold[h.vs] + c.raw_s[h.vs]) * 1000.0
        else:
            check_ms = np.full(h.vs.size, verify_check_s(mode, self.params) * 1000.0)
        t = np.where(alive[h.vs][None, :], h.rtt_ms + check_ms[None, :], np.inf)
        k = max(1, c.demand.verifiers)
        ind = np.where(h.independent, t, np.inf)
        ms = _kth_smallest(ind, k)
        degraded = ~np.isfinite(ms)
        if degraded.any():  # fewer than K independent: the K fastest of all, or the slowest of fewer
            fallback = _kth_smallest(t[degraded], k)
            few = ~np.isfinite(fallback)
            if few.any():
                finite = np.where(np.isfinite(t[degraded][few]), t[degraded][few], -np.inf)
                fallback[few] = np.maximum(finite.max(axis=1), 0.0)
            ms[degraded] = fallback
        out[h.ex] = ms
        return out

    def outcome(self, down: NDArray[np.bool_]) -> Outcome:
        """Served and verified shares with the nodes in ``down`` failed (on top of already-down nodes)."""
        if not self.classes or self.rtt_ms.shape[0] == 0:
            return Outcome(None, None)
        alive = self.live & ~down
        # Load: each class spread over its live capable executors by slots.
        lam = np.zeros(self.arrays.n_nodes)
        work = np.zeros(self.arrays.n_nodes)
        usable = []
        for c in self.classes:
            u = c.ok & alive
            usable.append(u)
            cap_u = np.where(u, self.cap, 0.0)
            tot = cap_u.sum()
            if tot > 0 and c.demand.rate_rps > 0:
                share = c.demand.rate_rps * cap_u / tot
                lam += share
                work += share * np.where(u, c.s, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_s = np.where(lam > 0, work / np.where(lam > 0, lam, 1.0), 0.0)
        wait = mmc_wait_s(lam, mean_s, self.arrays.capacity)
        served_w = total_w = ver_w = ver_tot = 0.0
        for c, u in zip(self.classes, usable, strict=True):
            d, cold, vmask = c.demand, c.cold, c.vmask
            refetch = u | (vmask if d.verification is VerificationMode.REEXEC else False)
            lost_src = (c.source >= 0) & down[np.maximum(c.source, 0)] & refetch
            if lost_src.any():
                cold, _ = cold_start_s(self.arrays, c.model, self.rtt, self.params, up=alive)
            ver_ms = self._verification_ms(c, alive, wait, cold)
            per_node_ms = np.where(u, (wait + cold + c.s) * 1000.0 + ver_ms, np.inf)
            lat = self.rtt_ms + per_node_ms[None, :]  # (sources, nodes)
            best = np.argmin(lat, axis=1)
            best_ms = lat[np.arange(lat.shape[0]), best]
            weight = d.rate_rps * self.src_w if d.rate_rps > 0 else self.src_w * 0.0
            served_w += float(weight[best_ms <= d.slo_ms].sum())
            total_w += float(weight.sum())
            if d.verification is not VerificationMode.NONE:
                ver_tot += float(weight.sum())
                vs = np.flatnonzero(vmask & alive)
                has_exec = np.isfinite(best_ms)
                if vs.size and has_exec.any():
                    e = best[has_exec]
                    ce, cv = self.ind_codes[e][:, None, :], self.ind_codes[vs][None, :, :]
                    shares = np.any((ce == cv) & (ce >= 0), axis=2) | (e[:, None] == vs[None, :])
                    enough = (~shares).sum(axis=1) >= max(1, d.verifiers)
                    ver_w += float(weight[has_exec][enough].sum())
        served = served_w / total_w if total_w > 0 else None
        verified = ver_w / ver_tot if ver_tot > 0 else None
        return Outcome(served, verified)


class _Hops(NamedTuple):
    """Capable executor rows ``ex``, capable verifier rows ``vs``, hop RTT (ms, ``inf`` on the diagonal
    of a node with itself) and whether the pair shares nothing of ``policy.independence``."""

    ex: NDArray[np.intp]
    vs: NDArray[np.intp]
    rtt_ms: NDArray[np.float64]
    independent: NDArray[np.bool_]


class _Class(NamedTuple):
    """One demand class with its per-node vectors (service s raw and with the executor factor)."""

    demand: DemandClass
    model: Model
    raw_s: NDArray[np.float64]
    s: NDArray[np.float64]
    ok: NDArray[np.bool_]
    vmask: NDArray[np.bool_]
    cold: NDArray[np.float64]
    source: NDArray[np.intp]
    hop: _Hops | None


def _kth_smallest(t: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Row-wise ``k``-th smallest value of ``t`` (``inf`` when a row has fewer than ``k`` finite values).

    >>> _kth_smallest(np.array([[3.0, 1.0, 2.0], [np.inf, 5.0, np.inf]]), 2).tolist()
    [2.0, inf]
    """
    if t.shape[1] < k:
        return np.full(t.shape[0], np.inf)
    return np.partition(t, k - 1, axis=1)[:, k - 1]
