"""The serving check: with a set of nodes down, what share of demand is still served within its SLO, and
what share is served within its SLO by an independent verifier set.

It asks the network model the router asks (:class:`~nodeplan.model.network.NetworkState`), with the same
verifier rule (:func:`~nodeplan.model.independence.select_independent` on the ``nodeplan`` cost
:func:`~nodeplan.model.timing.price_weighted_ms`), so for every source and demand class it gives the
answer the router's ``nodeplan`` policy gives for that request (a property test checks this):

*served within SLO*
    some live executor, with the verifiers the router would give it, completes the request within the
    SLO: ``RTT(source, executor) + queue + cold start + service x executor factor + verification``.
    Verification is the slowest of the ``K`` verifiers (they work in parallel): hop RTT + the TEE / zkML
    check, or, for ``reexec``, the verifier's queue + cold start + service. A route whose only verifiers
    within the SLO share a dependency with the executor (a *degraded* route) counts as served; a route
    with fewer live verifiers than the ``K`` asked does not (the check asked for cannot happen).
*independently verified within SLO*
    of the demand that asks for verification, the share served within the SLO by a route whose ``K``
    verifiers share none of ``policy.independence`` with the executor or each other (unknown values are
    not shared).

Removing nodes never raises either share: fewer executors and verifiers to choose from, more load on each
survivor, slower cold starts (property-tested).

Load (a planning assumption, not live state): each demand class's rate is spread over its live capable
executors in proportion to their slots; a node's wait is the M/M/c wait of the mix of classes it carries
(:func:`~nodeplan.model.queueing.mixed_load`). Re-executing verifiers carry no planning load.

The router scans at most ``executor_scan_limit`` (256) executors per request; the check considers every
executor, so the two agree whenever a model has at most that many capable executors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from nodeplan.model.independence import SelectionStatus, select_independent
from nodeplan.model.network import NetworkState
from nodeplan.model.queueing import mixed_load
from nodeplan.model.rtt import RttModel
from nodeplan.model.timing import TimingParams, executor_factor, price_weighted_ms
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import DemandClass, Role, Scenario, VerificationMode

__all__ = ["ClassOutcome", "Outcome", "ServingModel", "verifier_picks"]

_PROOF = (VerificationMode.TEE, VerificationMode.ZKML)
_BLOCK = 2048  # executors per block of the (executors x nodes) verifier matrices


@dataclass(frozen=True)
class Outcome:
    """Demand and verification outcome with a set of nodes down (fractions in [0, 1]; ``None`` = n/a).

    ``demand_served``: share of demand served within its SLO; ``verified``: share of the demand that asks
    for verification served within its SLO by independent verifiers.
    """

    demand_served: float | None
    verified: float | None


@dataclass(frozen=True)
class ClassOutcome:
    """Per-source answers for one demand class: ``served[s]`` and ``verified[s]`` (``None`` when the
    class asks for no verification)."""

    demand: DemandClass
    served: NDArray[np.bool_]
    verified: NDArray[np.bool_] | None


class ServingModel:
    """The serving check of one scenario; :meth:`outcome` evaluates it with a set of nodes down.

    Holds a :class:`~nodeplan.model.network.NetworkState` (RTT rows of the sources, hop rows, service
    times) and changes only its liveness and load per evaluation.
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
        a = replace(arrays, dim_codes=codes) if codes is not arrays.dim_codes else arrays
        self.net = NetworkState(scenario, a, rtt, params or TimingParams())
        src = scenario.sources
        w = np.array([s.weight for s in src], dtype=float)
        self.src_w = w / w.sum() if w.sum() > 0 else np.full(len(src), 1.0 / max(len(src), 1))
        self.rows_ms = (
            self.net.rtt_rows_ms([s.lat for s in src], [s.lon for s in src], [s.name for s in src])
            if src
            else np.zeros((0, a.n_nodes))
        )
        self.live = a.up.copy()
        self.cap = a.capacity.astype(float)
        exec_role = a.role(Role.EXECUTION) & (a.capacity > 0)
        self.weight_ms_per_usd = scenario.policy.price_weight_ms_per_usd
        self.classes = tuple(scenario.demand)
        self.cols = [self.net.model_col[d.model] for d in self.classes]
        self.factors = [executor_factor(scenario.model(d.model), d.verification) for d in self.classes]
        self.capable: list[NDArray[np.bool_]] = []
        for d, j, f in zip(self.classes, self.cols, self.factors, strict=True):
            ok = exec_role & np.isfinite(self.net.service_s[j] * f)
            if d.verification in _PROOF:
                ok &= a.mode(d.verification)
            self.capable.append(ok)

    # -- load -------------------------------------------------------------------------------------------
    def planning_load(self, alive: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(n,) arrival rate and mean service time (s) per node of the M/M/c stand-in for the class mix."""
        n = self.net.n_nodes
        rates = np.zeros((len(self.classes), n))
        svc = np.zeros((len(self.classes), n))
        for c, (d, j, f, ok) in enumerate(
            zip(self.classes, self.cols, self.factors, self.capable, strict=True)
        ):
            u = ok & alive
            cap_u = np.where(u, self.cap, 0.0)
            tot = cap_u.sum()
            if tot > 0 and d.rate_rps > 0:
                rates[c] = d.rate_rps * cap_u / tot
                svc[c] = np.where(u, self.net.service_s[j] * f, 0.0)
        return mixed_load(rates, svc, axis=0)

    # -- evaluation ------------------------------------------------------------------------------------
    def class_outcomes(self, down: NDArray[np.bool_]) -> tuple[ClassOutcome, ...]:
        """Per class and source: served within SLO, and independently verified within SLO."""
        alive = self.live & ~np.asarray(down, dtype=bool)
        lam, s_eff = self.planning_load(alive)
        net = self.net
        net.set_conditions(alive, lam, np.where(lam > 0, s_eff, np.nan))
        out = []
        for c, (d, j, f) in enumerate(zip(self.classes, self.cols, self.factors, strict=True)):
            ex = self.capable[c] & np.isfinite(net.qc_ms[j])
            # the router's sum, in its order: network + queue + cold start + service x factor (+ verification)
            t = self.rows_ms + net.queue_ms[j]
            t += net.cold_ms[j]
            t += net.svc_ms[j] * f
            t = np.where(ex[None, :], t, np.inf)
            if d.verification is VerificationMode.NONE:
                out.append(ClassOutcome(d, np.any(t <= d.slo_ms, axis=1), None))
                continue
            cols = np.flatnonzero(ex)
            vc, vc_ok, vf, f_clean = verifier_picks(net, j, d, cols, self.weight_ms_per_usd)
            te = t[:, cols]
            meets_c = te + vc[None, :] <= d.slo_ms
            meets_f = te + vf[None, :] <= d.slo_ms
            served = np.any(meets_c | meets_f, axis=1)
            verified = np.any((meets_c & vc_ok[None, :]) | (~meets_c & meets_f & f_clean[None, :]), axis=1)
            out.append(ClassOutcome(d, served, verified))
        return tuple(out)

    def outcome(self, down: NDArray[np.bool_]) -> Outcome:
        """Served and verified shares with the nodes in ``down`` failed (on top of already-down nodes)."""
        if not self.classes or self.rows_ms.shape[0] == 0:
            return Outcome(None, None)
        served_w = total_w = ver_w = ver_tot = 0.0
        for co in self.class_outcomes(down):
            d = co.demand
            weight = d.rate_rps * self.src_w if d.rate_rps > 0 else self.src_w * 0.0
            served_w += float(weight[co.served].sum())
            total_w += float(weight.sum())
            if co.verified is not None:
                ver_tot += float(weight.sum())
                ver_w += float(weight[co.verified].sum())
        served = served_w / total_w if total_w > 0 else None
        verified = ver_w / ver_tot if ver_tot > 0 else None
        return Outcome(served, verified)


def verifier_picks(
    net: NetworkState, j: int, d: DemandClass, cols: NDArray[np.intp], weight_ms_per_usd: float = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64], NDArray[np.bool_]]:
    """Verifiers of model column ``j`` for demand class ``d`` on the network state ``net``, as the router
    picks them (``nodeplan`` cost :func:`~nodeplan.model.timing.price_weighted_ms` with ``weight_ms_per_usd``).

    For each executor in ``cols``: verification ms of its independent set and whether one was found,
    and the ms of the K fastest verifiers (``inf`` unless strictly faster) and whether they share nothing.

    K = 1 is vectorised over executors (the same choice as :func:`select_independent`: the cheapest
    independent node, ties to the lower row; else the fewest shared dimensions, then cost); K >= 2
    calls :func:`select_independent` per executor.
    """
    mode, k = d.verification, d.verifiers
    vc = np.zeros(cols.size)
    vc_ok = np.zeros(cols.size, dtype=bool)
    vf = np.full(cols.size, np.inf)
    f_clean = np.zeros(cols.size, dtype=bool)
    codes = net.indep_codes
    for lo in range(0, cols.size, _BLOCK):
        ex = cols[lo : lo + _BLOCK]
        vtime, vprice = net.verifier_times_many(j, mode, ex)
        cost = price_weighted_ms(vtime, vprice[None, :], weight_ms_per_usd)
        cost = np.where(np.isfinite(vtime) & ~np.isnan(cost), cost, np.inf)
        part = slice(lo, lo + ex.size)
        if k == 1:
            vc[part], vc_ok[part], vf[part], f_clean[part] = _pick_one(codes, ex, vtime, cost)
            continue
        for r, e in enumerate(ex.tolist()):
            sel = select_independent(codes, e, cost[r], k)
            fast = select_independent(codes, e, cost[r], k, enforce=False)
            i = lo + r
            full = len(sel.rows) == k  # fewer than K verifiers can never meet the SLO (as in the router)
            vc[i] = _slowest(vtime[r], sel.rows) if full else np.inf
            vc_ok[i] = sel.status is SelectionStatus.OK
            if fast.status is SelectionStatus.OK and _slowest(vtime[r], fast.rows) < vc[i]:
                vf[i], f_clean[i] = _slowest(vtime[r], fast.rows), _clean(codes, e, fast.rows)
    return vc, vc_ok, vf, f_clean


def _slowest(vtime: NDArray[np.float64], rows: tuple[int, ...]) -> float:
    """Verification time of a set, ms: its slowest member (0 with no verifier), as the router sums it."""
    return float(vtime[list(rows)].max()) if rows else 0.0


def _pick_one(
    codes: NDArray[np.int32], ex: NDArray[np.intp], vtime: NDArray[np.float64], cost: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64], NDArray[np.bool_]]:
    """K = 1 for executors ``ex`` (rows of ``vtime`` / ``cost``, (E, n)); see :func:`verifier_picks`."""
    links = np.zeros(cost.shape, dtype=np.int64)
    for row in codes:
        ec = row[ex]
        links += (ec[:, None] >= 0) & (row[None, :] == ec[:, None])
    eligible = np.isfinite(cost)
    has = eligible.any(axis=1)
    fewest = np.where(eligible, links, np.iinfo(np.int64).max).min(axis=1)
    best = np.argmin(np.where(eligible & (links == fewest[:, None]), cost, np.inf), axis=1)
    r = np.arange(ex.size)
    vc = np.where(has, vtime[r, best], np.inf)  # no verifier at all: the request cannot be checked
    ok = has & (fewest == 0)
    fast = np.argmin(cost, axis=1)  # the cheapest whatever it shares (ties to the lower row)
    vf_all = vtime[r, fast]
    faster = has & (vf_all < vc)
    return vc, ok, np.where(faster, vf_all, np.inf), faster & (links[r, fast] == 0)


def _clean(codes: NDArray[np.int32], e: int, rows: tuple[int, ...]) -> bool:
    """Whether executor ``e`` and ``rows`` share no known value pairwise (the router's ``compliant``)."""
    members = (e, *rows)
    sub = codes[:, list(members)]
    for col in range(len(members)):
        for other in range(col + 1, len(members)):
            x, y = sub[:, col], sub[:, other]
            if np.any((x >= 0) & (x == y)):
                return False
    return True
