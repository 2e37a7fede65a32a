"""The network's time state: which nodes are up, which models are warm where, their load, and the
expected-time vectors that follow. The one time model of nodeplan: the router, the audit's serving check,
Monte Carlo and the planner's objective all read these vectors; none re-derives a formula.

:class:`NetworkState` precomputes, per model, the vectors of the expected completion time (DESIGN.md
"Models of time"; cold start, queue wait, service time, all in ms, ``inf`` where a node cannot execute the
model) and updates single entries when the state changes, so one routing decision is a handful of O(n)
numpy operations. :class:`~nodeplan.routing.state.RouterState` adds the router's random generator.

Model of the state:

* **Warmth and cache.** Running a model on a node warms it there. The warm models of a node must fit in
  its ``gpu_memory_gb`` (the scenario's own rule); warming one evicts least-recently-used warm models
  of that node until it fits. A model larger than the whole memory runs cold every time and evicts
  nothing.
* **Queue** (:func:`queue_wait_s`). A node with ``c`` slots and ``q`` requests in flight makes a new
  request wait ``max(0, q - c + 1) · s / c`` seconds (it waits for that many departures, one every
  ``s / c`` on average, ``s`` the model's service time there), plus the M/M/c mean wait of an optional
  background load ``load_rps`` with mean service ``load_s`` (:func:`~nodeplan.model.queueing.mmc_wait_s`;
  the audit sets the mix of its demand classes through :func:`~nodeplan.model.queueing.mixed_load`).
* **Liveness.** :meth:`NetworkState.set_down` takes a node out: it is never chosen, and models are no
  longer fetched from it (cold starts are recomputed).
* **Network.** RTT rows from :mod:`nodeplan.model.rtt` through :func:`~nodeplan.model.geo.central_angle`;
  executor -> verifier hops on the provider backbone where both share a known provider (completed codes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.exceptions import RoutingError
from nodeplan.model.codes import compile_network
from nodeplan.model.geo import EARTH_RADIUS_KM, central_angle, unit_vectors
from nodeplan.model.queueing import mmc_wait_s
from nodeplan.model.rtt import RttFit, RttModel, default_rtt_model
from nodeplan.model.timing import (
    TimingParams,
    cold_start_s,
    executor_factor,
    service_s_by_node,
    verify_check_s,
)
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Model, Role, Scenario, VerificationMode

__all__ = ["NetworkState", "queue_wait_s"]

_HOP_CACHE_CELLS = 8_000_000  # hop RTT rows kept, in cells (64 MB)
#: attributes that change with the state (copied by :meth:`NetworkState.copy`)
_MUTABLE = (
    "up",
    "warm",
    "last_used",
    "in_flight",
    "load_rps",
    "load_s",
    "cold_unwarm_s",
    "cold_source",
    "cold_ms",
    "queue_ms",
    "qc_ms",
    "base_ms",
    "exec_ok",
    "ver_ok",
    "indep_share",
)


def queue_wait_s(
    backlog: ArrayLike, service_s: ArrayLike, load_rps: ArrayLike, load_s: ArrayLike, servers: ArrayLike
) -> NDArray[np.float64]:
    """Expected wait for a slot, s: ``backlog · s`` + the M/M/c wait of the background load.

    ``backlog`` is ``max(0, in flight - c + 1) / c`` (departures to wait for, per unit of service time);
    the background load arrives at ``load_rps`` with mean service ``load_s`` (NaN = ``service_s``, the
    model asked for). ``service_s`` may be ``inf`` (the node cannot run the model): no wait is added
    for it. Broadcasts like numpy.

    >>> float(queue_wait_s(1.0, 0.2, 0.0, float("nan"), 2))  # one departure of 2 slots: 0.2 s
    0.2
    >>> round(float(queue_wait_s(0.0, 1.0, 0.5, float("nan"), 1)), 6)  # M/M/1 at rho 0.5: 1 s
    1.0
    """
    s = np.asarray(service_s, dtype=float)
    b = np.asarray(backlog, dtype=float)
    lam = np.asarray(load_rps, dtype=float)
    ls = np.asarray(load_s, dtype=float)
    with np.errstate(invalid="ignore"):  # 0 x inf: a node that cannot run the model has no wait for it
        q = np.where(b > 0, b * s, 0.0)
    if np.any(lam > 0):
        bg = np.where(np.isnan(ls), s, ls)
        q = q + np.where(lam > 0, mmc_wait_s(lam, bg, servers), 0.0)
    return np.asarray(q, dtype=float)


class NetworkState:
    """The network's time state; build it with :meth:`from_scenario`.

    Examples
    --------
    >>> from nodeplan.scenario.model import Scenario, Node, Model
    >>> sc = Scenario(nodes=[Node(id="a", lat=0, lon=0, roles={"execution"}, capacity=2, warm_models=["m"])],
    ...               models=[Model(id="m", size_bytes=0, service_s={"cpu": 0.1})])
    >>> st = NetworkState.from_scenario(sc)
    >>> st.n_nodes, st.in_flight_of("a"), st.is_up("a"), float(st.base_ms[0, 0])
    (1, 0, True, 100.0)
    """

    def __init__(
        self,
        scenario: Scenario,
        arrays: ScenarioArrays,
        rtt: RttModel,
        params: TimingParams,
    ) -> None:
        self.scenario = scenario
        self.arrays = arrays
        self.rtt = rtt
        self.params = params
        a = arrays
        n, m = a.n_nodes, len(a.model_ids)
        self.n_nodes = n
        self.models: tuple[Model, ...] = tuple(scenario.models)
        self.model_col: dict[str, int] = {mid: j for j, mid in enumerate(a.model_ids)}
        self.node_row: dict[str, int] = {nid: i for i, nid in enumerate(a.node_ids)}
        self.public = rtt.public
        self.backbone = rtt.backbone
        self.xyz3 = np.ascontiguousarray(unit_vectors(a.lat, a.lon))  # (3, n)
        self.xyz = np.ascontiguousarray(self.xyz3.T)  # (n, 3)
        self._meas = _index_measured(rtt, a.node_ids)
        #: node row -> its hop RTT row (static: positions, providers, measured matrix)
        self._hop_cache: dict[int, NDArray[np.float64]] = {}
        #: (executor, mode, K) -> verifier choice of the nodeplan policy for TEE/zkML; reset on liveness
        self.verifier_cache: dict[tuple[object, ...], object] = {}
        self.capacity = a.capacity.astype(float)
        self.price_rate = (
            a.price_usd_per_hour / np.maximum(self.capacity, 1.0) / 3600.0
        )  # USD per slot-second
        self.size_gb = a.model_size_bytes / 1e9
        # mutable state
        self.up = a.up.copy()
        self.warm = a.warm.copy()
        self.last_used = np.zeros((n, m), dtype=np.int64)
        self.tick = 0
        self.in_flight = np.zeros(n, dtype=np.int64)
        self.load_rps = np.zeros(n, dtype=float)
        #: mean service time of the background load, s; NaN = the service time of the model asked for
        self.load_s = np.full(n, np.nan)
        # static per-model vectors
        self.service_s = np.empty((m, n))
        for j, model in enumerate(self.models):
            self.service_s[j] = service_s_by_node(a, model)
        self.svc_ms = self.service_s * 1000.0
        #: (m, n) USD of one call at factor 1: price_rate x service seconds; inf where it cannot run
        self.price_usd = np.where(
            np.isfinite(self.service_s),
            self.price_rate * np.where(np.isfinite(self.service_s), self.service_s, 0.0),
            np.inf,
        )
        #: (model column, mode) -> executor slowdown; absent = the model does not support the mode
        self.factors: dict[tuple[int, VerificationMode], float] = {
            (j, mode): executor_factor(model, mode)
            for j, model in enumerate(self.models)
            for mode in model.verification
        }
        self.exec_role = a.role(Role.EXECUTION) & (a.capacity > 0)
        self.ver_role = a.role(Role.VERIFICATION)
        self.mode_cols = {mode: a.mode(mode) for mode in VerificationMode}
        indep = scenario.policy.independence
        self.indep_dims: tuple[str, ...] = tuple(indep)
        self.indep_codes = np.ascontiguousarray(a.dim_codes[:, [a.dim_index(d) for d in indep]].T)
        self.provider_code = a.dim_codes[:, a.dim_index("provider")]
        self.fail_prob = _failure_probability(scenario, a)
        self._version = 0
        self._recompute_all()

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        *,
        rtt: RttModel | None = None,
        params: TimingParams | None = None,
    ) -> NetworkState:
        """Initial state of ``scenario`` (node status and warm models as the scenario says)."""
        return cls(scenario, compile_network(scenario), rtt or default_rtt_model(), params or TimingParams())

    def copy(self) -> NetworkState:
        """An independent copy of the mutable state (static arrays are shared)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._own_mutable()
        return new

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickled (a worker process, Ray's object store): own writable copies of the mutable state,
        since zero-copy deserialisation hands out read-only arrays."""
        self.__dict__.update(state)
        self._own_mutable()

    def _own_mutable(self) -> None:
        for name in _MUTABLE:
            val = getattr(self, name)
            setattr(
                self, name, {k: v.copy() for k, v in val.items()} if isinstance(val, dict) else val.copy()
            )
        self.verifier_cache = dict(self.verifier_cache)

    # -- lookups --------------------------------------------------------------------------------------
    def node_index(self, node: str) -> int:
        """Row of node id ``node``; raises :class:`RoutingError` naming it when unknown."""
        try:
            return self.node_row[node]
        except KeyError:
            raise RoutingError(f"node: unknown node id {node!r}") from None

    def model_index(self, model: str) -> int:
        """Column of model id ``model``; raises :class:`RoutingError` listing close matches."""
        try:
            return self.model_col[model]
        except KeyError:
            raise RoutingError(f"model: unknown model {model!r} ({_close(model, self.model_col)})") from None

    def is_up(self, node: str) -> bool:
        """Whether ``node`` is serving."""
        return bool(self.up[self.node_index(node)])

    def in_flight_of(self, node: str) -> int:
        """Requests routed to ``node`` (as executor or re-executing verifier) and not completed."""
        return int(self.in_flight[self.node_index(node)])

    def warm_models(self, node: str) -> tuple[str, ...]:
        """Models warm on ``node``, in the scenario's model order."""
        i = self.node_index(node)
        return tuple(mid for j, mid in enumerate(self.arrays.model_ids) if self.warm[i, j])

    # -- state changes --------------------------------------------------------------------------------
    def set_down(self, node: str) -> None:
        """Mark ``node`` down: it is never chosen and no model is fetched from it."""
        i = self.node_index(node)
        if self.up[i]:
            self.up[i] = False
            self._recompute_all()

    def set_up(self, node: str) -> None:
        """Mark ``node`` up again (its warm models are as they were)."""
        i = self.node_index(node)
        if not self.up[i]:
            self.up[i] = True
            self._recompute_all()

    def set_load(self, node: str, rps: float, service_s: float | None = None) -> None:
        """Background arrival rate at ``node``, requests/s (adds an M/M/c wait; ``inf`` if unstable).

        ``service_s`` is the background's mean service time (for a mix of classes, the ``s_eff`` of
        :func:`~nodeplan.model.queueing.mixed_load`); ``None`` = the service time of the model asked for.
        """
        if not (isinstance(rps, int | float) and math.isfinite(rps) and rps >= 0):
            raise RoutingError(f"load_rps: must be a finite number >= 0 (got {rps!r})")
        if service_s is not None and not (
            isinstance(service_s, int | float) and math.isfinite(service_s) and service_s > 0
        ):
            raise RoutingError(f"service_s: must be a finite number > 0 (got {service_s!r})")
        i = self.node_index(node)
        self.load_rps[i] = float(rps)
        self.load_s[i] = np.nan if service_s is None else float(service_s)
        self._refresh_node(i)

    def set_conditions(
        self,
        up: NDArray[np.bool_],
        load_rps: NDArray[np.float64] | None = None,
        load_s: NDArray[np.float64] | None = None,
    ) -> None:
        """Set every node's liveness and background load at once (the audit's and Monte Carlo's what-if).

        Cold starts are recomputed only for the models whose storage replicas changed liveness.
        """
        n = self.n_nodes
        up = np.asarray(up, dtype=bool)
        if up.shape != (n,):
            raise RoutingError(f"up: expected {n} values (got shape {up.shape})")
        changed = up != self.up
        self.up = up.copy()
        self.load_rps = np.zeros(n) if load_rps is None else np.asarray(load_rps, dtype=float).copy()
        self.load_s = np.full(n, np.nan) if load_s is None else np.asarray(load_s, dtype=float).copy()
        models = None
        if changed.any():
            storage = self.arrays.role(Role.STORAGE)
            models = np.flatnonzero((self.arrays.stored & (changed & storage)[:, None]).any(axis=0))
        self._recompute_all(cold_models=models if changed.any() else np.zeros(0, dtype=np.int64))

    def warm_model(self, node: str, model: str) -> tuple[str, ...]:
        """Load ``model`` into ``node``'s memory (LRU eviction); returns the evicted model ids."""
        i, j = self.node_index(node), self.model_index(model)
        return tuple(self.arrays.model_ids[k] for k in self.use(i, j, slot=False))

    def release(self, node: str, count: int = 1) -> None:
        """Free ``count`` slots on ``node`` (a request it ran has finished)."""
        i = self.node_index(node)
        if count < 0 or self.in_flight[i] < count:
            raise RoutingError(
                f"release: node {node!r} has {int(self.in_flight[i])} requests in flight, cannot release {count}"
            )
        self.in_flight[i] -= count
        self._refresh_node(i)

    # -- internals used by the router (indices, not ids) -----------------------------------------------
    def use(self, i: int, j: int, *, slot: bool = True) -> list[int]:
        """Run model ``j`` on node ``i``: take a slot, mark it used, warm it (LRU). Returns evicted cols."""
        self.tick += 1
        evicted: list[int] = []
        changed = False
        if slot:
            self.in_flight[i] += 1
            # the next arrival waits only once every slot is taken (see the module docstring)
            changed = self.in_flight[i] >= self.capacity[i] or self.load_rps[i] > 0
        if not self.warm[i, j]:
            cap = self.arrays.gpu_memory_gb[i] + 1e-9
            size = self.size_gb
            if size[j] <= cap:
                row = self.warm[i]
                used = float(size[row].sum())
                while used + size[j] > cap:
                    cols = np.flatnonzero(row)
                    k = int(cols[np.argmin(self.last_used[i, cols])])
                    row[k] = False
                    used -= size[k]
                    evicted.append(k)
                row[j] = True
                for k in (j, *evicted):
                    self._refresh_cold(i, k)
                changed = True
        self.last_used[i, j] = self.tick
        if changed:
            self._refresh_node(i)
        return evicted

    def free(self, i: int) -> None:
        """Free one slot of node ``i`` (no check; the router checks)."""
        self.in_flight[i] -= 1
        if self.in_flight[i] + 1 >= self.capacity[i] or self.load_rps[i] > 0:
            self._refresh_node(i)

    def _refresh_cold(self, i: int, j: int) -> None:
        c = 0.0 if self.warm[i, j] else self.cold_unwarm_s[j, i] * 1000.0
        self.cold_ms[j, i] = c

    def _refresh_node(self, i: int) -> None:
        """Recompute queue and base time of node ``i`` for every model (after a load or cache change)."""
        cap = self.capacity[i]
        backlog = max(0.0, float(self.in_flight[i]) - cap + 1.0) / cap if cap > 0 else math.inf
        waits = queue_wait_s(backlog, self.service_s[:, i], self.load_rps[i], self.load_s[i], int(cap))
        for j in range(len(self.models)):
            q_ms = float(waits[j]) * 1000.0
            self.queue_ms[j, i] = q_ms
            qc = q_ms + self.cold_ms[j, i] if self.exec_ok[i] else math.inf
            self.qc_ms[j, i] = qc
            self.base_ms[j, i] = qc + self.svc_ms[j, i]
        self._version += 1

    def _recompute_all(self, cold_models: NDArray[np.int64] | None = None) -> None:
        """Rebuild every derived vector from the mutable state (after a liveness change).

        ``cold_models``: the model columns whose cold starts must be recomputed (default: all).
        """
        a = self.arrays
        m, n = len(self.models), self.n_nodes
        if cold_models is None or not hasattr(self, "cold_unwarm_s"):
            self.cold_unwarm_s = np.empty((m, n))
            self.cold_source = np.empty((m, n), dtype=np.int64)
            cold_models = np.arange(m)
        nowarm = np.zeros(n, dtype=bool)
        for j in cold_models.tolist():
            self.cold_unwarm_s[j], self.cold_source[j] = cold_start_s(
                a, self.models[j], self.rtt, self.params, warm=nowarm, up=self.up
            )
        self.cold_ms = np.where(self.warm.T, 0.0, self.cold_unwarm_s * 1000.0)
        self.exec_ok = self.up & self.exec_role
        cap = self.capacity
        with np.errstate(divide="ignore", invalid="ignore"):
            backlog = np.where(cap > 0, np.maximum(0.0, self.in_flight - cap + 1.0) / cap, np.inf)
        self.queue_ms = queue_wait_s(backlog, self.service_s, self.load_rps, self.load_s, a.capacity) * 1000.0
        self.qc_ms = np.where(self.exec_ok[None, :], self.queue_ms + self.cold_ms, np.inf)
        self.base_ms = self.qc_ms + self.svc_ms
        self.ver_ok = {mode: self.up & self.ver_role & col for mode, col in self.mode_cols.items()}
        self.indep_share = {mode: _share_with(self.indep_codes, ok) for mode, ok in self.ver_ok.items()}
        self.verifier_cache = {}
        self._version += 1

    # -- verification (one verifier's time and price) ---------------------------------------------------
    def verifier_times_many(
        self, j: int, mode: VerificationMode, executors: NDArray[np.intp]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """:meth:`verifier_times` for several executors: ``(E, n)`` times (ms) and the ``(n,)`` prices."""
        hop = np.stack([self.hop_rtt_ms(int(e)) for e in executors]) if len(executors) else np.empty((0, 0))
        ok, extra, vprice = self._verifier_parts(j, mode)
        vtime = np.where(ok[None, :], hop + extra, np.inf)
        vtime[np.arange(len(executors)), executors] = np.inf
        return vtime, vprice

    def _verifier_parts(
        self, j: int, mode: VerificationMode
    ) -> tuple[NDArray[np.bool_], NDArray[np.float64] | float, NDArray[np.float64]]:
        """Who can verify, the time added to the hop (ms) and the price (USD) of each node's part."""
        ok = self.ver_ok[mode]
        if mode is VerificationMode.REEXEC:
            work = self.queue_ms[j] + self.cold_ms[j] + self.svc_ms[j]
            return ok & (self.capacity > 0), work, self.price_usd[j]
        check_s = verify_check_s(mode, self.params)
        return ok, check_s * 1000.0, self.price_rate * check_s

    def verifier_times(
        self, j: int, mode: VerificationMode, e: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(n,) time (ms) and price (USD) of each node verifying a call of model ``j`` run on ``e``.

        Time: hop RTT executor -> verifier + its check: the TEE attestation or zkML proof check
        (:func:`~nodeplan.model.timing.verify_check_s`), or, for ``reexec``, re-running the call there:
        its queue wait + its cold start + its own service time. ``inf`` where a node cannot verify
        (down, no verification role, mode not supported, no slot for re-execution) and at ``e`` itself.
        Price: one slot for the check time (TEE/zkML) or the call's price (re-execution).
        """
        ok, extra, vprice = self._verifier_parts(j, mode)
        vtime = np.where(ok, self.hop_rtt_ms(e) + extra, np.inf)
        vtime[e] = np.inf
        return vtime, vprice

    # -- executor time (the router's selection vector) ---------------------------------------------------
    def executor_time_ms(
        self, row: NDArray[np.float64], j: int, factor: float, proof: VerificationMode | None
    ) -> NDArray[np.float64]:
        """(n,) expected time without verification, ms, of one request on every node: RTT ``row`` +
        queue + cold start + service x executor ``factor``; ``inf`` where a node cannot execute (down,
        no slot, cannot run or fetch model column ``j``, or, for a TEE/zkML ``proof`` mode, cannot
        produce the attestation or proof itself). The router's ``decide`` and ``route_batch`` rank
        executors by it; factor 1 adds the precomputed ``base_ms`` in one step.
        """
        if factor == 1.0:
            time = row + self.base_ms[j]
        else:
            time = row + self.qc_ms[j]
            time += self.svc_ms[j] * factor
        if proof is not None:
            time = np.where(self.mode_cols[proof], time, np.inf)
        return time

    # -- RTT (hot path) -------------------------------------------------------------------------------
    def rtt_rows_ms(
        self,
        lat: Iterable[float],
        lon: Iterable[float],
        origins: Iterable[str | None] | None = None,
    ) -> NDArray[np.float64]:
        """(P, n) RTT, ms, from each (lat, lon) user position to every node.

        Public-internet fit, as :meth:`RttModel.rtt_ms`: the same great-circle function
        (:func:`~nodeplan.model.geo.central_angle` on unit vectors) and the same fit. Where ``origins`` names a point of the measured RTT matrix (a demand source, say), its measured
        RTT to a node overrides the fit. Every step is element by element (no BLAS reduction), so a
        row is bit-identical whether it is computed alone or with others.
        """
        lats, lons = list(lat), list(lon)
        if len(lats) != len(lons):
            raise RoutingError(f"rtt rows: {len(lats)} latitudes but {len(lons)} longitudes")
        u = np.empty((len(lats), 3))
        for b, (la, lo) in enumerate(zip(lats, lons, strict=True)):
            u[b] = unit_vectors(la, lo)  # one point at a time: a row never depends on the others
        out = self._rtt_from(self.xyz3, u, self.public)
        if origins is not None and self._meas is not None:
            for b, name in enumerate(origins):
                if name is not None:
                    self._override(out[b], name)
        return out

    def hop_rtt_ms(self, i: int) -> NDArray[np.float64]:
        """(n,) RTT, ms, from node ``i`` to every node: provider backbone where both share a known
        provider, public internet otherwise; measured values override when the RTT model has them.

        Rows are cached (they depend only on positions, providers and the measured matrix); the
        returned array is read-only.
        """
        row = self._hop_cache.get(i)
        if row is not None:
            return row
        u = self.xyz[i][None, :]
        pub = self._rtt_from(self.xyz3, u, self.public)[0]
        p = self.provider_code[i]
        if p >= 0:
            same = np.flatnonzero(self.provider_code == p)
            pub[same] = self._rtt_from(np.ascontiguousarray(self.xyz3[:, same]), u, self.backbone)[0]
        if self._meas is not None:
            self._override(pub, self.arrays.node_ids[i])
        pub.flags.writeable = False
        if len(self._hop_cache) * self.n_nodes >= _HOP_CACHE_CELLS:
            self._hop_cache.clear()
        self._hop_cache[i] = pub
        return pub

    def _override(self, row: NDArray[np.float64], name: str) -> None:
        """Write the measured RTTs from point ``name`` to the nodes into ``row`` (where measured)."""
        meas = self._meas
        if meas is None:
            return
        r = meas.row.get(name, -1)
        if r < 0:
            return
        vals = meas.matrix[r, meas.node_pos]
        ok = np.isfinite(vals)
        row[meas.node_rows[ok]] = vals[ok]

    @staticmethod
    def _rtt_from(xyz3: NDArray[np.float64], u: NDArray[np.float64], fit: RttFit) -> NDArray[np.float64]:
        """(P, n) RTT, ms, from each unit vector ``u[p]`` (P, 3) to each column of ``xyz3`` (3, n)."""
        km = central_angle(u.T[:, :, None], xyz3[:, None, :])
        km *= EARTH_RADIUS_KM
        return fit.rtt_ms_km(km)


@dataclass(frozen=True)
class _Measured:
    """A measured RTT matrix indexed for the hot path: ``matrix[row[name], node_pos]`` is the RTT,
    ms, from ``name`` to the nodes at rows ``node_rows`` (the nodes the matrix names)."""

    row: dict[str, int]
    matrix: NDArray[np.float64]
    node_rows: NDArray[np.int64]
    node_pos: NDArray[np.int64]


def _index_measured(rtt: RttModel, node_ids: tuple[str, ...]) -> _Measured | None:
    if rtt.measured is None:
        return None
    row = {name: k for k, name in enumerate(rtt.measured.names)}
    pos = np.array([row.get(nid, -1) for nid in node_ids], dtype=np.int64)
    rows = np.flatnonzero(pos >= 0)
    return _Measured(row, rtt.measured.matrix_ms, rows, pos[rows])


def _share_with(codes: NDArray[np.int32], pool: NDArray[np.bool_]) -> NDArray[np.float64]:
    """(n,) sum over dimensions of the share of ``pool`` nodes that share node i's known value."""
    n = codes.shape[1]
    total = max(int(pool.sum()), 1)
    out = np.zeros(n)
    for row in codes:
        known = row >= 0
        if not known.any():
            continue
        counts = np.bincount(row[pool & known], minlength=int(row.max()) + 1)
        out[known] += counts[row[known]] / total
    return out


def _failure_probability(scenario: Scenario, a: ScenarioArrays) -> NDArray[np.float64]:
    """(n,) probability a node fails in the window: ``1 - prod(1 - p)`` over its domains (independent).

    A node with an unknown value in a dimension takes that dimension's ``default``.
    """
    survive = np.ones(a.n_nodes)
    for dim, spec in scenario.failures.items():
        k = a.dim_index(dim)
        per_code = np.array([spec.values.get(v, spec.default) for v in a.dim_values[k]] + [spec.default])
        survive *= 1.0 - per_code[a.dim_codes[:, k]]  # code -1 picks the appended default
    return 1.0 - survive


def _close(word: str, known: Iterable[str]) -> str:
    """``close matches: a, b`` or ``known: …`` for an error message."""
    import difflib

    names = sorted(known)
    near = difflib.get_close_matches(word, names, n=3, cutoff=0.5)
    if not near:
        near = [x for x in names if word.lower() in x.lower()][:3]
    if near:
        return "close matches: " + ", ".join(near)
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return f"known: {shown or 'none'}"
