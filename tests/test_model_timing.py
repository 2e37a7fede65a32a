"""Cold start, transfer rate and service time on hand-made scenarios whose answers are computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.model.geo import great_circle_km
from nodeplan.model.rtt import LinearRtt, MeasuredRtt, RttModel
from nodeplan.model.timing import (
    TimingParams,
    cold_start_s,
    executor_factor,
    service_s_by_node,
    transfer_rate_bytes_per_s,
    verify_check_s,
)
from nodeplan.scenario.arrays import compile_scenario
from nodeplan.scenario.model import Model, Node, Role, Scenario, VerificationMode

WINDOW = 64 * 2**20  # TimingParams default, bytes
SIZE = 10e9  # bytes
FIXED = 20.0 + 30.0  # load_s + init_s

MODEL = Model(
    id="m",
    size_bytes=int(SIZE),
    load_s=20.0,
    init_s=30.0,
    service_s={"gpu": 1.5},
    verification={VerificationMode.NONE: 1.0, VerificationMode.TEE: 2.5},
    min_gpu_memory_gb=16.0,
)


def _scenario(**exec_kw) -> Scenario:
    """exec (no copy) + near replica (10 Gbit/s) + far replica (100 Gbit/s)."""
    return Scenario(
        nodes=(
            Node(
                id="exec",
                lat=0.0,
                lon=0.0,
                roles={Role.EXECUTION},
                hardware="gpu",
                gpu_memory_gb=80,
                **exec_kw,
            ),
            Node(id="near", lat=0.0, lon=1.0, roles={Role.STORAGE}, stored_models=("m",), bandwidth_gbps=10),
            Node(id="far", lat=0.0, lon=50.0, roles={Role.STORAGE}, stored_models=("m",), bandwidth_gbps=100),
        ),
        models=(MODEL,),
    )


# RTTs pinned by a measured matrix so the answer does not depend on the fit: exec-near 20 ms,
# exec-far 200 ms, near-far 150 ms. Self-pairs fall back to the fit.
RTT = RttModel(LinearRtt(15.0, 0.017), LinearRtt(10.0, 0.016)).with_measured(
    MeasuredRtt.from_pairs({("exec", "near"): 20.0, ("exec", "far"): 200.0, ("near", "far"): 150.0})
)

# By hand (10 Gbit/s = 1.25e9 B/s):
#  exec <- near: rate min(1.25e9, 1.25e9, W/0.020 = 3.36e9) = 1.25e9; 0.020 + 10e9/1.25e9 = 8.020 s
#  exec <- far : rate min(1.25e9, 12.5e9, W/0.200 = 3.36e8) = W/0.2;  0.200 + 10e9*0.2/W = 30.002 s
EXEC_FROM_NEAR = 0.020 + SIZE / 1.25e9 + FIXED
EXEC_FROM_FAR = 0.200 + SIZE * 0.200 / WINDOW + FIXED
LOCAL = SIZE / 2e9 + FIXED  # NVMe 2 GB/s default


def test_cold_start_fetches_from_the_replica_that_delivers_soonest():
    arr = compile_scenario(_scenario())
    sec, src = cold_start_s(arr, MODEL, RTT)
    assert sec[0] == pytest.approx(EXEC_FROM_NEAR, rel=1e-12)
    assert arr.node_ids[src[0]] == "near"


def test_replicas_read_their_own_copy_from_disk():
    # 'far' has a 100 Gbit/s link: W / (fit self-RTT 15 ms) = 4.5 GB/s > 2 GB/s disk, yet a node never fetches
    # from itself. 'near' would need 0.15 + 10e9*0.15/W + 50 = 72.5 s from 'far' > 55 s locally.
    arr = compile_scenario(_scenario())
    sec, src = cold_start_s(arr, MODEL, RTT)
    assert sec[1] == pytest.approx(LOCAL)
    assert sec[2] == pytest.approx(LOCAL)
    assert src[1] == src[2] == -1


def test_warm_node_has_no_cold_start():
    arr = compile_scenario(_scenario(warm_models=("m",)))
    sec, src = cold_start_s(arr, MODEL, RTT)
    assert sec[0] == 0.0
    assert src[0] == -1
    warm = np.array([False, False, True])
    sec2, _ = cold_start_s(compile_scenario(_scenario()), MODEL, RTT, warm=warm)
    assert sec2[2] == 0.0
    assert sec2[0] == pytest.approx(EXEC_FROM_NEAR)


def test_down_replica_is_not_used():
    arr = compile_scenario(_scenario())
    up = np.array([True, False, True])
    sec, src = cold_start_s(arr, MODEL, RTT, up=up)
    assert sec[0] == pytest.approx(EXEC_FROM_FAR, rel=1e-12)
    assert arr.node_ids[src[0]] == "far"


def test_no_live_replica_means_infinite_cold_start():
    arr = compile_scenario(_scenario())
    sec, src = cold_start_s(arr, MODEL, RTT, up=np.array([True, False, False]))
    assert sec[0] == math.inf
    assert src[0] == -1
    assert sec[1] == pytest.approx(LOCAL)  # a down node still has its disk (it just cannot serve)


def test_backbone_fit_used_between_nodes_of_one_provider():
    # 10 degrees of longitude on the equator = 1,111.95 km; 1 GB over a link-bound 10 Gbit/s = 0.8 s.
    model = MODEL.model_copy(update={"size_bytes": 10**9, "load_s": 0.0, "init_s": 0.0})
    fit = RttModel(LinearRtt(10.0, 0.02), LinearRtt(5.0, 0.015))
    km = float(great_circle_km(0, 0, 0, 10))

    def one(provider_b: str) -> float:
        sc = Scenario(
            nodes=(
                Node(id="x", lat=0, lon=0, roles={Role.EXECUTION}, provider="aws"),
                Node(id="y", lat=0, lon=10, roles={Role.STORAGE}, stored_models=("m",), provider=provider_b),
            ),
            models=(model,),
        )
        return float(cold_start_s(compile_scenario(sc), model, fit)[0][0])

    assert one("aws") == pytest.approx((5.0 + 0.015 * km) / 1000 + 0.8, rel=1e-12)
    assert one("gcp") == pytest.approx((10.0 + 0.02 * km) / 1000 + 0.8, rel=1e-12)


def test_transfer_rate_known_values():
    p = TimingParams()
    assert float(transfer_rate_bytes_per_s(200.0, 10.0, 100.0, p)) == pytest.approx(WINDOW / 0.2)
    assert float(transfer_rate_bytes_per_s(5.0, 10.0, 100.0, p)) == pytest.approx(
        1.25e9
    )  # slower link caps it
    assert float(transfer_rate_bytes_per_s(5.0, 100.0, 1.0, p)) == pytest.approx(0.125e9)


@settings(max_examples=100, deadline=None)
@given(r1=st.floats(0.1, 1000.0), more=st.floats(0.1, 1000.0), gbps=st.floats(0.1, 400.0))
def test_transfer_rate_falls_with_rtt(r1, more, gbps):
    p = TimingParams()
    a = float(transfer_rate_bytes_per_s(r1, gbps, gbps, p))
    b = float(transfer_rate_bytes_per_s(r1 + more, gbps, gbps, p))
    assert b <= a
    if WINDOW / ((r1 + more) / 1000) < gbps * 1e9 / 8:  # window-bound at the longer RTT: strictly slower
        assert b < a


def test_service_time_by_hardware_and_memory():
    sc = Scenario(
        nodes=(
            Node(id="g", lat=0, lon=0, roles={Role.EXECUTION}, hardware="gpu", gpu_memory_gb=24),
            Node(id="small", lat=0, lon=0, roles={Role.EXECUTION}, hardware="gpu", gpu_memory_gb=8),
            Node(id="cpu", lat=0, lon=0, roles={Role.EXECUTION}, hardware="cpu", gpu_memory_gb=64),
        ),
        models=(MODEL,),
    )
    assert service_s_by_node(compile_scenario(sc), MODEL).tolist() == [1.5, math.inf, math.inf]


def test_verification_factors_and_check_times():
    assert executor_factor(MODEL, VerificationMode.TEE) == 2.5
    assert executor_factor(MODEL, VerificationMode.REEXEC) == 1.0  # the verifier re-runs, not the executor
    assert executor_factor(MODEL, VerificationMode.NONE) == 1.0
    p = TimingParams(attestation_check_s=0.01, proof_verify_s=0.3)
    assert verify_check_s(VerificationMode.TEE, p) == 0.01
    assert verify_check_s(VerificationMode.ZKML, p) == 0.3
    assert verify_check_s(VerificationMode.NONE, p) == 0.0
