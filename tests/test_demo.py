"""The demo's four claims hold on the built-in scenario, and are not invented where they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodeplan.cli import main
from nodeplan.demo import DemoFindings, demo_findings
from nodeplan.model.geo import great_circle_km
from nodeplan.model.rtt import default_rtt_model
from nodeplan.model.timing import TimingParams
from nodeplan.scenario.io import load_builtin, parse_scenario


@pytest.fixture(scope="module")
def findings() -> DemoFindings:
    return demo_findings(load_builtin("opengradient"))


def test_warm_far_beats_cold_near_for_the_large_model(findings: DemoFindings) -> None:
    wf = findings.warm_far
    assert wf is not None
    assert wf.model.size_bytes > 100e9  # the 70B fp16 model
    assert wf.other.time.cold_start_ms > 0
    assert wf.winner.time.cold_start_ms == 0
    assert wf.winner_km > 10 * wf.other_km  # far away ...
    assert wf.winner.time.total_ms < wf.other.time.total_ms  # ... and still sooner
    assert wf.winner.time.network_ms > wf.other.time.network_ms


def test_cold_start_of_the_near_node_matches_the_hand_formula(findings: DemoFindings) -> None:
    # Cold start = RTT + size / min(link, window / RTT) + load + init (docs/latency.md), recomputed
    # here from the scenario's own numbers, independently of the router.
    wf = findings.warm_far
    assert wf is not None
    sc = load_builtin("opengradient")
    node, store = sc.node(wf.other.executor), sc.node(wf.other.source or "")
    rtt = default_rtt_model()
    same = node.provider is not None and node.provider == store.provider
    fit = rtt.backbone if same else rtt.public
    rtt_ms = float(fit.rtt_ms_km(great_circle_km(node.lat, node.lon, store.lat, store.lon)))
    p = TimingParams()
    rate = min(min(node.bandwidth_gbps, store.bandwidth_gbps) * 1e9 / 8, p.window_bytes / (rtt_ms / 1000))
    expected_s = rtt_ms / 1000 + wf.model.size_bytes / rate + wf.model.load_s + wf.model.init_s
    assert wf.other.time.cold_start_ms == pytest.approx(expected_s * 1000, rel=1e-3)


def test_tiny_model_goes_to_the_near_cold_node(findings: DemoFindings) -> None:
    cn = findings.cold_near
    assert cn is not None
    assert cn.model.size_bytes < 100e6
    assert cn.winner.time.cold_start_ms > 0
    assert cn.other.time.cold_start_ms == 0  # the Petals-style choice is warm
    assert cn.winner_km < cn.other_km
    assert cn.winner.time.total_ms < cn.other.time.total_ms


def test_dominant_provider_failure(findings: DemoFindings) -> None:
    row = findings.dominant
    assert row is not None
    assert (row.dimension, row.value) == ("provider", "aws")
    sc = load_builtin("opengradient")
    stake = {n.id: n.stake for n in sc.nodes}
    aws_stake = sum(stake[n.id] for n in sc.nodes if n.provider == "aws")
    assert row.stake_lost == pytest.approx(aws_stake / sum(stake.values()))
    assert row.stake_lost > 1 / 3
    assert row.halted is True  # CometBFT halts when 1/3 or more of the voting power is gone
    assert row.fragile is False  # halted, so not "running but fragile"
    # ... and AWS already holds 3 of 8 equal votes (37.5% >= 1/3) before anything fails: fragile already
    dom = [(d.dimension, d.value, d.share) for d in findings.audit.baseline_dominant]
    assert ("provider", "aws", 0.375) in dom
    bc = findings.audit.baseline_consensus
    assert bc is not None
    assert (bc.halted, bc.fragile) == (False, True)
    base = findings.audit.baseline
    assert row.demand_served is not None
    assert base.demand_served is not None
    assert row.demand_served < base.demand_served
    assert row.verified is not None
    assert base.verified is not None
    assert row.verified < base.verified


def test_apparent_versus_effective(findings: DemoFindings) -> None:
    allrole = next(s for s in findings.audit.summary if s.role == "all")
    assert allrole.countries >= 10
    assert allrole.effective_domains is not None
    assert allrole.effective_domains < allrole.countries / 2


def test_objectives_pull_apart(findings: DemoFindings) -> None:
    by = {c.label: c for c in findings.choices}
    assert set(by) == {"fastest", "nodeplan", "most independent", "cheapest"}
    times = {k: c.route.time.total_ms for k, c in by.items()}
    assert times["fastest"] == min(times.values())
    prices = {k: c.route.price_usd for k, c in by.items()}
    assert prices["cheapest"] == min(prices.values())
    assert by["fastest"].shared_dims  # the fastest verifier is on the executor's provider
    assert "provider" in by["fastest"].shared_dims
    assert not by["nodeplan"].shared_dims
    assert not by["most independent"].shared_dims
    assert by["nodeplan"].route.executor != by["cheapest"].route.executor


def test_no_claims_are_invented_on_a_flat_network() -> None:
    sc = parse_scenario(
        {
            "name": "flat",
            "nodes": [
                {
                    "id": "a",
                    "lat": 0,
                    "lon": 0,
                    "roles": ["execution"],
                    "capacity": 2,
                    "warm_models": ["m"],
                    "gpu_memory_gb": 1,
                }
            ],
            "models": [{"id": "m", "size_bytes": 1000, "service_s": {"cpu": 0.1}}],
            "sources": [{"name": "X", "lat": 1, "lon": 1}],
        }
    )
    f = demo_findings(sc)
    assert f.warm_far is None
    assert f.cold_near is None
    assert f.dominant is None  # no provider known
    assert f.choices == ()


def test_demo_command(findings: DemoFindings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for heading in (
        "1. A warm distant node",
        "2. Apparent vs effective",
        "3. When the dominant provider fails",
        "4. Fastest, most independent, cheapest",
    ):
        assert heading in out
    # The printed numbers are the findings' numbers: executors and rounded totals of claim 1 ...
    wf, cn = findings.warm_far, findings.cold_near
    assert wf is not None
    assert cn is not None
    for r in (wf.winner, wf.other, cn.winner, cn.other):
        assert r.executor in out
        assert f"{r.time.total_ms:,.0f}" in out
    # ... the dominant provider's row of claim 3 ...
    assert findings.dominant is not None
    assert f"without {findings.dominant.value}" in out
    assert "HALTED" in out
    assert "fragile" in out
    assert "quorum" not in out  # two facts, halted and fragile, never one "quorum" flag
    # ... and each of the four choices of claim 4.
    for ch in findings.choices:
        assert ch.route.executor in out
        assert f"{ch.route.price_usd:.6f}" in out


def test_demo_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("nodes: []\n", encoding="utf-8")
    assert main(["demo", "-s", str(p)]) == 2
    assert capsys.readouterr().err.startswith("error: nodes: ")
