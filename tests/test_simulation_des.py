"""Discrete-event request simulation: hand-computed queues, outages, seeds, trace replay, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.cli import main
from nodeplan.exceptions import SimulationError
from nodeplan.model.rtt import LinearRtt, RttModel
from nodeplan.routing import Request
from nodeplan.scenario import load_builtin
from nodeplan.scenario.model import Model, Node, Scenario
from nodeplan.simulation.des import DONE, LOST, NO_ROUTE, Outage, parse_outage, simulate_requests
from nodeplan.simulation.workload import fixed_workload, poisson_workload, trace_workload

from .datafiles import data_path

ZERO_RTT = RttModel(public=LinearRtt(0.0, 0.0), backbone=LinearRtt(0.0, 0.0))  # network time 0 ms


def one_node(service_s: float, capacity: int = 1) -> Scenario:
    """One warm node at (0, 0), model of size 0 taking ``service_s`` seconds."""
    return Scenario(
        name="one",
        nodes=[
            Node(
                id="a", lat=0, lon=0, roles={"execution"}, capacity=capacity, provider="p", warm_models=["m"]
            )
        ],
        models=[Model(id="m", size_bytes=0, service_s={"cpu": service_s})],
    )


def run_one(times: list[float], service_s: float, capacity: int = 1, outages: tuple[Outage, ...] = ()):
    wl = fixed_workload(times, Request("m", 0.0, 0.0))
    res = simulate_requests(one_node(service_s, capacity), wl, ["nodeplan"], outages, seed=0, rtt=ZERO_RTT)
    return res.runs[0], res.stats[0]


def test_single_slot_queue_by_hand() -> None:
    # One slot, 1 s service, user on the node (0 ms network). The router's expected wait with q requests
    # in flight on c slots is max(0, q - c + 1) * s / c: a full service time per request ahead.
    # t=0   : 0 in flight -> 1000 ms, done at 1.0 s
    # t=0.1 : 1 in flight -> wait 1 s -> 2000 ms, done at 2.1 s
    # t=0.2 : 2 in flight -> wait 2 s -> 3000 ms, done at 3.2 s
    # t=1.5 : the first has completed (1.0 s), 2 in flight -> 3000 ms, done at 4.5 s
    # t=5.0 : all done -> 1000 ms, done at 6.0 s
    run, stats = run_one([0.0, 0.1, 0.2, 1.5, 5.0], 1.0)
    assert run.latency_ms == pytest.approx([1000, 2000, 3000, 3000, 1000], abs=1e-6)
    assert run.completion_s == pytest.approx([1.0, 2.1, 3.2, 4.5, 6.0], abs=1e-9)
    assert (run.status == DONE).all()
    assert stats.completed == 5
    assert stats.failed == 0
    assert stats.cold_starts == 0
    # percentiles of {1000, 1000, 2000, 3000, 3000} (linear interpolation): p50 2000, p95 3000
    assert stats.p50_ms == pytest.approx(2000, abs=1e-6)
    assert stats.p95_ms == pytest.approx(3000, abs=1e-6)


def test_two_slots_queue_by_hand() -> None:
    # Two slots, 1 s service, three arrivals at t=0: the first two start at once; the third finds 2 in
    # flight, waits max(0, 2 - 2 + 1) = 1 departure at one every s / c = 0.5 s -> 1500 ms.
    run, _ = run_one([0.0, 0.0, 0.0], 1.0, capacity=2)
    assert run.latency_ms == pytest.approx([1000, 1000, 1500], abs=1e-6)


@settings(max_examples=40)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=25))
def test_queue_matches_naive_reference(ticks: list[int]) -> None:
    # Reference: each arrival waits one service (0.3 s) per earlier request still in flight (its
    # scheduled end > this arrival), on one slot; completions at equal times free the slot first.
    times = sorted(t * 0.1 for t in ticks)
    run, _ = run_one(times, 0.3)
    ends: list[float] = []
    expect = []
    for t in times:
        ahead = sum(e > t for e in ends)
        lat = 300.0 * (1 + ahead)
        expect.append(lat)
        ends.append(t + lat / 1000.0)
    assert run.latency_ms == pytest.approx(expect, abs=1e-6)


def test_outage_of_the_only_provider_fails_then_recovers() -> None:
    # Arrivals every second at 0..9 plus one at 3.45 s; service 0.1 s. Provider p is down 3.5-6.5 s:
    # the request of 3.45 s (due 3.55 s) is lost in flight, those at 4, 5, 6 s find no route, 7-9 s recover.
    times = [0, 1, 2, 3, 3.45, 4, 5, 6, 7, 8, 9]
    run, stats = run_one(times, 0.1, outages=(parse_outage("provider=p@3.5s+3s"),))
    expect = [DONE] * 4 + [LOST] + [NO_ROUTE] * 3 + [DONE] * 3
    assert run.status.tolist() == expect
    assert stats.completed == 7
    assert stats.failed == 4
    assert stats.no_route == 3
    assert stats.lost == 1
    assert run.latency_ms[-3:] == pytest.approx([100, 100, 100], abs=1e-6)
    assert stats.slo_share == pytest.approx(7 / 11)  # no SLO: every completed request meets it


def test_outage_naming_no_node_is_an_error() -> None:
    with pytest.raises(SimulationError, match=r"no node has provider='aws' \(known values: p\)"):
        run_one([0.0], 0.1, outages=(parse_outage("provider=aws@1+1"),))


@pytest.fixture(scope="module")
def og() -> Scenario:
    return load_builtin("opengradient")


def test_same_seed_same_numbers_other_seed_differs(og: Scenario) -> None:
    def stats(seed: int) -> list[dict[str, object]]:
        r = simulate_requests(og, poisson_workload(og, 3.0, seed), ["nodeplan", "random"], seed=seed)
        return r.to_dict()["policies"]

    a, b, c = stats(5), stats(5), stats(6)
    assert a == b
    assert a != c
    assert a[0]["arrivals"] != c[0]["arrivals"] or a[0]["p95_ms"] != c[0]["p95_ms"]


def test_poisson_counts_match_rates(og: Scenario) -> None:
    # 78.5 req/s x 200 s = 15,700 expected arrivals; Poisson sd 125 -> within 5 sd.
    w = poisson_workload(og, 200.0, seed=2)
    assert abs(w.n - 15_700) < 5 * 125.3
    rates = {d.model: 0.0 for d in og.demand}
    for d in og.demand:
        rates[d.model] += d.rate_rps
    counts = dict.fromkeys(rates, 0)
    for k in w.kind.tolist():
        counts[w.templates[k].model] += 1
    share = counts["credit-risk-onnx"] / w.n  # (40 + 5) / 78.5
    assert share == pytest.approx(45 / 78.5, abs=0.02)


def test_nodeplan_p95_no_worse_than_random_on_opengradient(og: Scenario) -> None:
    # The mission's claim, on ~30 s of simulated time.
    r = simulate_requests(og, poisson_workload(og, 30.0, seed=11), ["nodeplan", "random"], seed=11)
    ours, rnd = r.by_policy("nodeplan"), r.by_policy("random")
    assert ours.arrivals == rnd.arrivals > 2000
    assert ours.p95_ms is not None
    assert rnd.p95_ms is not None
    assert ours.p95_ms <= rnd.p95_ms
    assert ours.completed + ours.failed == ours.arrivals


def test_trace_replay_times_by_hand(tmp_path: Path, og: Scenario) -> None:
    p = tmp_path / "t.csv"
    p.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:47.0000000,1,1\n"
        "2023-11-16 18:15:46.5000000,1,1\n"
        "2023-11-16 18:15:48.7500000,1,1\n",
        encoding="utf-8",
    )
    w = trace_workload(og, p, seed=1)
    assert w.times_s.tolist() == pytest.approx([0.0, 0.5, 2.25])
    assert trace_workload(og, p, seed=1, speed=2.0).times_s.tolist() == pytest.approx([0.0, 0.25, 1.125])
    assert trace_workload(og, p, seed=1, duration_s=1.0).n == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("time,x\n1,2\n", encoding="utf-8")
    with pytest.raises(SimulationError, match=r"trace: .* has no TIMESTAMP column"):
        trace_workload(og, bad)


def test_real_azure_trace_rate(og: Scenario) -> None:
    path = data_path("traces/azure_llm_2023_conv.csv")
    w = trace_workload(og, path, seed=0, duration_s=600.0)
    # README: 19,366 requests over 58 min, 5.53 req/s on average, slow rise and fall over the hour
    assert 2.0 < w.n / 600.0 < 9.0
    assert np.all(np.diff(w.times_s) >= 0)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["simulate", "requests", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--duration", "2", "--seed", "3", "--policies", "nodeplan,cheapest", "--json")
    code, out1, _ = _cli(capsys, *args)
    assert code == 0
    _, out2, _ = _cli(capsys, *args)
    assert out1 == out2
    doc = json.loads(out1)
    assert doc["version"] == 1
    assert [p["policy"] for p in doc["policies"]] == ["nodeplan", "cheapest"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--outage", "aws@60"],
            "error: outage: expected DIM=VALUE@START+DURATION such as provider=aws@60s+120s",
        ),
        (["--policies", "nodeplan,bogus"], "error: policy: unknown policy 'bogus'"),
        (["--duration", "0"], "error: duration_s: must be a number of seconds in (0, 1e9) (got 0.0)"),
        (["--seed", "-1"], "error: --seed: must be an integer >= 0 (got -1)"),
    ],
)
def test_cli_bad_input_one_line(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = _cli(capsys, "--duration", "1", *args)
    assert code == 2
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert out == ""
