"""Cold start, service time and verification time per node, vectorised over nodes.

Expected completion time of a request (DESIGN.md "Models of time")::

    network (user <-> executor RTT) + queue wait + cold start + service x mode factor + verification

Cold start on a node for model ``j``:

* warm (model in GPU memory): 0;
* stored on the node's own disk: ``size / local_read`` + ``load_s`` + ``init_s``;
* otherwise: fetched from the live storage replica that delivers it soonest:
  ``RTT + size / min(dest link, source link, window / RTT)`` + ``load_s`` + ``init_s``.
  The ``window / RTT`` term is the TCP-style ceiling that makes throughput fall with distance.

No replica reachable and not stored locally: ``inf`` (the node cannot serve the model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nodeplan.model.rtt import RttModel
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Model, Role, VerificationMode

__all__ = [
    "TimeBreakdown",
    "TimingParams",
    "cold_start_s",
    "executor_factor",
    "price_weighted_ms",
    "service_s_by_node",
    "transfer_rate_bytes_per_s",
    "verify_check_s",
]


@dataclass(frozen=True)
class TimingParams:
    """Constants of the time model, each with where its default comes from."""

    #: Bytes in flight across all streams of a weight pull; with 64 MiB a pull runs at ~0.45 GB/s over a
    #: 150 ms RTT, matching "object-storage pulls ~0.2-0.5 GB/s" (../shared/data README), and is link-bound
    #: nearby.
    window_bytes: float = 64 * 2**20
    #: NVMe read for a model already on the node's disk: "NVMe/EBS 1-3 GB/s" (../shared/data README).
    local_read_bytes_per_s: float = 2.0e9
    #: Checking a TEE attestation document (signature chain + PCR compare) on the verifier, s. Assumed.
    attestation_check_s: float = 0.005
    #: Verifying a zkML proof on the verifier, s. Assumed (succinct proofs verify in tens to hundreds of ms).
    proof_verify_s: float = 0.2


def transfer_rate_bytes_per_s(
    rtt_ms: NDArray[np.float64] | float,
    dest_gbps: NDArray[np.float64] | float,
    src_gbps: NDArray[np.float64] | float,
    params: TimingParams,
) -> NDArray[np.float64]:
    """Bulk-transfer throughput in bytes/s: ``min(dest link, source link, window / RTT)``.

    >>> round(float(transfer_rate_bytes_per_s(150.0, 10.0, 10.0, TimingParams())) / 1e9, 3)
    0.447
    >>> float(transfer_rate_bytes_per_s(1.0, 10.0, 40.0, TimingParams())) / 1e9  # link-bound: 10 Gbit/s
    1.25
    """
    rtt_s = np.maximum(np.asarray(rtt_ms, dtype=float), 1e-3) / 1000.0
    link = np.minimum(np.asarray(dest_gbps, dtype=float), np.asarray(src_gbps, dtype=float)) * 1e9 / 8.0
    return np.minimum(link, params.window_bytes / rtt_s)


def service_s_by_node(arrays: ScenarioArrays, model: Model) -> NDArray[np.float64]:
    """(n,) seconds of one call of ``model`` on each node's hardware; ``inf`` where it cannot run.

    A node cannot run the model when its hardware class is not in ``model.service_s`` or its GPU memory
    is below ``model.min_gpu_memory_gb``.
    """
    table = model.service_s
    s = np.array([table.get(h, np.inf) for h in arrays.hardware], dtype=float)
    return np.where(arrays.gpu_memory_gb + 1e-9 >= model.min_gpu_memory_gb, s, np.inf)


def cold_start_s(
    arrays: ScenarioArrays,
    model: Model,
    rtt: RttModel,
    params: TimingParams | None = None,
    *,
    warm: NDArray[np.bool_] | None = None,
    up: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Cold-start seconds of ``model`` on every node and the storage node each would fetch from.

    Parameters
    ----------
    warm, up : optional (n,) overrides of the model's warm column and of node liveness (live state).

    Returns
    -------
    seconds : (n,) 0 where warm, ``inf`` where no live replica is reachable
    source : (n,) row of the storage node fetched from; -1 when warm, local or none
    """
    p = params or TimingParams()
    j = arrays.model_index(model.id)
    warm_j = arrays.warm[:, j] if warm is None else warm
    live = arrays.up if up is None else up
    stored_j = arrays.stored[:, j]
    size = float(model.size_bytes)
    n = arrays.n_nodes
    fixed = model.load_s + model.init_s
    local = np.where(stored_j, size / p.local_read_bytes_per_s + fixed, np.inf)
    replicas = np.flatnonzero(stored_j & live & arrays.role(Role.STORAGE))
    fetch = np.full(n, np.inf)
    source = np.full(n, -1, dtype=np.int64)
    if replicas.size:
        pcol = arrays.dim_index("provider")
        prov = arrays.dim_codes[:, pcol]
        same = (prov[:, None] == prov[None, replicas]) & (prov[:, None] >= 0)
        r = rtt.rtt_ms_named(
            arrays.node_ids,
            arrays.lat,
            arrays.lon,
            [arrays.node_ids[i] for i in replicas],
            arrays.lat[replicas],
            arrays.lon[replicas],
            same,
        )
        rate = transfer_rate_bytes_per_s(
            r, arrays.bandwidth_gbps[:, None], arrays.bandwidth_gbps[None, replicas], p
        )
        t = r / 1000.0 + size / rate
        # A replica reads its own copy from disk (the ``local`` path), never over the network from itself.
        t[replicas, np.arange(replicas.size)] = np.inf
        best = np.argmin(t, axis=1)
        fetch = t[np.arange(n), best] + fixed
        source = replicas[best]
    use_fetch = fetch < local
    seconds = np.where(use_fetch, fetch, local)
    source = np.where(use_fetch, source, -1)
    seconds = np.where(warm_j, 0.0, seconds)
    source = np.where(warm_j, -1, source)
    return seconds, source.astype(np.int64)


def executor_factor(model: Model, mode: VerificationMode) -> float:
    """Slowdown of the executor's service time under ``mode`` (TEE 2-3x, zkML 100-1000x; 1 otherwise).

    Re-execution does not slow the executor: a verifier re-runs the call.
    """
    if mode in (VerificationMode.NONE, VerificationMode.REEXEC):
        return 1.0
    return float(model.verification[mode])


def price_weighted_ms(
    time_ms: NDArray[np.float64], price_usd: NDArray[np.float64], weight_ms_per_usd: float
) -> NDArray[np.float64]:
    """The ``nodeplan`` cost of a node, ms: expected time + ``weight`` x price (``policy.price_weight_ms_per_usd``).

    The router's ``nodeplan`` policy ranks executors and verifiers by it, and the audit's serving check
    picks verifiers by it, so both choose the same set. Weight 0: the time alone (price breaks ties).

    >>> price_weighted_ms(np.array([10.0]), np.array([0.5]), 4.0).tolist()
    [12.0]
    """
    return time_ms if weight_ms_per_usd == 0 else time_ms + weight_ms_per_usd * price_usd


def verify_check_s(mode: VerificationMode, params: TimingParams | None = None) -> float:
    """Seconds a verifier spends checking a TEE attestation or a zkML proof (re-execution: see router)."""
    p = params or TimingParams()
    if mode is VerificationMode.TEE:
        return p.attestation_check_s
    if mode is VerificationMode.ZKML:
        return p.proof_verify_s
    return 0.0


@dataclass(frozen=True)
class TimeBreakdown:
    """Expected time of one request, ms, by part; ``total_ms`` is their sum."""

    network_ms: float
    queue_ms: float
    cold_start_ms: float
    service_ms: float
    verification_ms: float

    @property
    def total_ms(self) -> float:
        """Sum of the parts, ms."""
        return self.network_ms + self.queue_ms + self.cold_start_ms + self.service_ms + self.verification_ms
