"""The audit on small hand-made networks whose failure rows are computed by hand, plus JSON and errors."""

from __future__ import annotations

import json
import math

import pytest

from nodeplan.exceptions import ScenarioError
from nodeplan.metrics.audit import Weight, audit_scenario
from nodeplan.metrics.schema import AUDIT_JSON_SCHEMA, SCHEMA_VERSION
from nodeplan.model.rtt import LinearRtt, RttModel
from nodeplan.scenario.model import Scenario

# RTT = 10 ms at any distance, floored by light in fibre (km / 100): 10 ms next door, ~100 ms at 10,000 km.
FLAT_RTT = RttModel(public=LinearRtt(10.0, 0.0), backbone=LinearRtt(10.0, 0.0))


def _row(result, dim, value):
    return next(r for r in result.failure_rows if r.dimension == dim and r.value == value)


# --- network A: capacity, replicas, consensus (no demand) -------------------------------------------------

NET_A = {
    "name": "net-a",
    "models": [
        {"id": "m", "size_bytes": 0, "service_s": {"gpu": 0.1}},
        {"id": "m2", "size_bytes": 0, "service_s": {"gpu": 0.1}},
    ],
    "nodes": [
        {
            "id": "e1",
            "lat": 40,
            "lon": -74,
            "roles": ["execution"],
            "capacity": 2,
            "provider": "A",
            "asn": 1,
            "country": "US",
        },
        {
            "id": "e2",
            "lat": 50,
            "lon": 8,
            "roles": ["execution"],
            "capacity": 1,
            "provider": "A",
            "asn": 2,
            "country": "DE",
        },
        {
            "id": "e3",
            "lat": 50,
            "lon": 9,
            "roles": ["execution"],
            "capacity": 1,
            "provider": "B",
            "asn": 3,
            "country": "DE",
        },
        {"id": "s1", "lat": 0, "lon": 0, "roles": ["storage"], "provider": "A", "stored_models": ["m", "m2"]},
        {"id": "s2", "lat": 0, "lon": 0, "roles": ["storage"], "provider": "B", "stored_models": ["m"]},
        {"id": "c1", "lat": 0, "lon": 0, "roles": ["coordination"], "provider": "A", "stake": 40},
        {"id": "c2", "lat": 0, "lon": 0, "roles": ["coordination"], "provider": "B", "stake": 35},
        {"id": "c3", "lat": 0, "lon": 0, "roles": ["coordination"], "provider": "C", "stake": 25},
    ],
}


@pytest.fixture(scope="module")
def audit_a():
    return audit_scenario(Scenario.model_validate(NET_A), "count", rtt=FLAT_RTT)


def test_losing_provider_a_hand_computed(audit_a):
    r = _row(audit_a, "provider", "A")
    assert r.nodes == 4
    assert r.share_lost == pytest.approx(4 / 8)
    assert r.capacity_lost == pytest.approx(3 / 4)  # slots 2 + 1 of 4
    assert r.stake_lost == pytest.approx(0.40)
    assert r.alive_stake_share == pytest.approx(0.60)  # <= 2/3: consensus halts
    assert (r.halted, r.fragile) == (True, False)  # halted, so not "running but fragile"
    assert r.largest_surviving is not None
    assert (r.largest_surviving.dimension, r.largest_surviving.value) == ("provider", "B")
    assert r.largest_surviving.share == pytest.approx(35 / 60)
    assert r.models_unreplicated == ("m2",)  # m survives on s2
    # capacity 3/4 + 1 of 2 models newly without a replica + stake lost 0.40 + newly halted
    assert r.harm == pytest.approx(0.75 + 1 / 2 + 0.40 + 1.0)


def test_losing_provider_b_halts_at_exactly_65_percent_alive(audit_a):
    r = _row(audit_a, "provider", "B")
    assert (r.capacity_lost, r.stake_lost) == (pytest.approx(0.25), pytest.approx(0.35))
    assert (r.halted, r.fragile) == (True, False)  # 65% alive <= 2/3
    assert r.models_unreplicated == ()
    assert r.harm == pytest.approx(0.25 + 0.35 + 1.0)


def test_losing_provider_c_keeps_consensus_running_but_fragile(audit_a):
    r = _row(audit_a, "provider", "C")
    assert r.alive_stake_share == pytest.approx(0.75)  # > 2/3: runs
    assert r.largest_surviving is not None
    assert r.largest_surviving.value == "A"
    assert r.largest_surviving.share == pytest.approx(40 / 75)  # A holds >= 1/3 of what survives
    assert (r.halted, r.fragile) == (False, True)
    # no capacity, no replica: harm is the stake lost alone (fragile is not harm)
    assert r.harm == pytest.approx(0.25)


def test_rows_sorted_by_harm_then_share_then_dimension(audit_a):
    top = [(r.dimension, r.value) for r in audit_a.failure_rows[:6]]
    # harms: provider A 2.65, provider B 1.60; then 0.5 each: country DE (2 nodes), asn 1 and country US
    # (1 node each; asn comes first in dimension order); then 0.25 each: asn 2, asn 3 (capacity),
    # provider C (stake)
    assert top == [
        ("provider", "A"),
        ("provider", "B"),
        ("country", "DE"),
        ("asn", "1"),
        ("country", "US"),
        ("asn", "2"),
    ]
    assert all(a.harm >= b.harm for a, b in zip(audit_a.failure_rows, audit_a.failure_rows[1:], strict=False))


def test_country_rows_without_a_coordinator_lose_no_stake_and_never_halt(audit_a):
    r = _row(audit_a, "country", "US")
    assert (r.stake_lost, r.halted) == (0.0, False)
    assert r.alive_stake_share == pytest.approx(1.0)
    # fragile all the same: provider A holds 40% of the stake with or without this failure (any dimension
    # counts, not only the failed one's)
    assert r.fragile is True
    assert r.largest_surviving is not None
    assert (r.largest_surviving.dimension, r.largest_surviving.value) == ("provider", "A")
    assert r.harm == pytest.approx(0.5)  # capacity of e1 only: no consensus harm


def test_measures_and_summary_network_a(audit_a):
    m = audit_a.measure("provider", "execution")  # counts: A 2, B 1
    assert (m.entities, m.nakamoto_50, m.hhi) == (2, 1, pytest.approx(10000 * (4 + 1) / 9))
    s = next(x for x in audit_a.summary if x.role == "all")
    assert (s.nodes, s.countries) == (8, 2)
    assert "tee_vendor" in audit_a.empty_dimensions
    assert "8 live nodes in 2 countries" in audit_a.headline
    assert "losing provider A" in audit_a.headline


def test_stake_weight_measures_coordination():
    res = audit_scenario(Scenario.model_validate(NET_A), Weight.STAKE, rtt=FLAT_RTT)
    m = res.measure("provider", "coordination")
    assert m.hhi == pytest.approx(40**2 + 35**2 + 25**2)
    assert m.nakamoto_33 == 1
    assert m.nakamoto_50 == 2
    assert _row(res, "provider", "A").share_lost == pytest.approx(0.40)


# --- network B: demand within SLO and independent verification ------------------------------------------

NET_B = {
    "name": "net-b",
    "models": [
        {"id": "m", "size_bytes": 0, "service_s": {"gpu": 0.1}, "verification": {"none": 1, "tee": 2.0}}
    ],
    "sources": [{"name": "here", "lat": 0, "lon": 0}],
    # TEE doubles service: 200 ms; attestation check 5 ms; wait ~0.02 ms at 0.001 req/s.
    # e1 (next door): 10 + 200 + 5 = 215 ms <= 250; e2 (~10,000 km, RTT 100 ms): ~305 ms > 250.
    "demand": [{"model": "m", "rate_rps": 0.001, "slo_ms": 250, "verification": "tee", "verifiers": 1}],
    "nodes": [
        {
            "id": "e1",
            "lat": 0,
            "lon": 0,
            "roles": ["execution"],
            "provider": "A",
            "asn": 1,
            "hardware": "gpu",
            "warm_models": ["m"],
            "verification_modes": ["tee"],
        },
        {
            "id": "e2",
            "lat": 0,
            "lon": 90,
            "roles": ["execution"],
            "provider": "B",
            "asn": 2,
            "hardware": "gpu",
            "warm_models": ["m"],
            "verification_modes": ["tee"],
        },
        {
            "id": "v1",
            "lat": 0,
            "lon": 0,
            "roles": ["verification"],
            "provider": "A",
            "asn": 3,
            "verification_modes": ["tee"],
        },
        {
            "id": "v2",
            "lat": 0,
            "lon": 0,
            "roles": ["verification"],
            "provider": "C",
            "asn": 4,
            "verification_modes": ["tee"],
        },
    ],
}


@pytest.fixture(scope="module")
def audit_b():
    return audit_scenario(Scenario.model_validate(NET_B), rtt=FLAT_RTT)


def test_baseline_served_and_verified(audit_b):
    # best executor e1 (A): v1 shares provider A, v2 (C) is independent
    assert (audit_b.baseline.demand_served, audit_b.baseline.verified) == (1.0, 1.0)


def test_losing_the_only_independent_verifier(audit_b):
    r = _row(audit_b, "provider", "C")
    assert (r.demand_served, r.verified, r.capacity_lost) == (1.0, 0.0, 0.0)
    assert r.harm == pytest.approx(1.0)


def _mm1_wait_ms(rate_rps: float, service_s: float) -> float:
    """M/M/1 mean wait in queue, ms: rho / (mu - lambda) (textbook formula, not the package's)."""
    rho = rate_rps * service_s
    return 1000.0 * rho * service_s / (1.0 - rho)


# e1 best: RTT here->e1 10 ms (flat fit) + M/M/1 wait + TEE service 2.0 x 100 ms + hop e1->v2 10 ms (flat
# fit, v2 next door, independent) + attestation check 5 ms.
NET_B_TOTAL_MS = 10.0 + _mm1_wait_ms(0.001, 0.2) + 200.0 + 10.0 + 5.0  # 225.04 ms


@pytest.mark.parametrize(("slo_ms", "served"), [(NET_B_TOTAL_MS - 1.0, 0.0), (NET_B_TOTAL_MS + 1.0, 1.0)])
def test_net_b_total_pins_tee_factor_check_and_hop(slo_ms, served):
    # 1 ms either side of the hand total: a wrong TEE factor (x2.5 = +50 ms), a missing check (-5 ms) or
    # a missing executor->verifier hop (-10 ms) moves the total across the SLO. Far e2 (~305 ms) never
    # fits.
    data = json.loads(json.dumps(NET_B))
    data["demand"][0]["slo_ms"] = slo_ms
    res = audit_scenario(Scenario.model_validate(data), rtt=FLAT_RTT)
    assert res.baseline.demand_served == served


def test_losing_the_near_executor_misses_the_slo():
    # SLO 2 ms above the total through e1; e2 (0, 90): RTT here->e2 is the fibre floor of 10,007.5 km =
    # 100.08 ms, service 200 ms, hop e2->v2 also 100.08 ms, check 5 ms: ~405 ms, far over the SLO.
    data = json.loads(json.dumps(NET_B))
    data["demand"][0]["slo_ms"] = NET_B_TOTAL_MS + 2.0
    res = audit_scenario(Scenario.model_validate(data), rtt=FLAT_RTT)
    assert res.baseline.demand_served == 1.0
    r = _row(res, "provider", "A")
    # e2 is the only executor left; it still has v2 as an independent verifier, but the route misses the
    # SLO, so nothing is independently verified *within* the SLO either
    assert (r.demand_served, r.verified, r.capacity_lost) == (0.0, 0.0, 0.5)
    assert r.harm == pytest.approx(2.5)


def test_losing_the_near_executor_far_one_within_a_loose_slo():
    # with a 410 ms SLO the far executor still serves: 100.08 + 200 + 100.08 + 5 + wait = 405.2 ms
    data = json.loads(json.dumps(NET_B))
    data["demand"][0]["slo_ms"] = 410
    res = audit_scenario(Scenario.model_validate(data), rtt=FLAT_RTT)
    assert _row(res, "provider", "A").demand_served == 1.0
    data["demand"][0]["slo_ms"] = 404  # without the 100 ms hop back it would fit
    res = audit_scenario(Scenario.model_validate(data), rtt=FLAT_RTT)
    assert _row(res, "provider", "A").demand_served == 0.0


def test_verifier_sharing_only_an_unrelated_asn_is_independent(audit_b):
    r = _row(audit_b, "asn", "1")  # e1 down; best e2 (B, asn 2): both v1 (A, asn 3) and v2 independent
    assert (r.demand_served, r.verified) == (0.0, 0.0)  # verified counts within the SLO only
    r3 = _row(audit_b, "asn", "3")  # v1 down: e1 still has v2
    assert (r3.demand_served, r3.verified, r3.harm) == (1.0, 1.0, 0.0)


def test_order_network_b(audit_b):
    top = [(r.dimension, r.value) for r in audit_b.failure_rows[:6]]
    assert top == [
        ("provider", "A"),
        ("asn", "1"),
        ("provider", "C"),
        ("asn", "4"),
        ("provider", "B"),
        ("asn", "2"),
    ]


def test_two_verifiers_required_and_only_one_independent():
    data = json.loads(json.dumps(NET_B))
    data["demand"][0]["verifiers"] = 2
    res = audit_scenario(Scenario.model_validate(data), rtt=FLAT_RTT)
    assert res.baseline.verified == 0.0


# --- network H: executor -> verifier hop on the shipped RTT fit, computed by hand -------------------------


def _net_h(mode: str, slo_ms: float) -> dict:
    """Source and executor at (0, 0); the only verifier at (0, 30), on another provider and ASN."""
    return {
        "name": "net-h",
        "models": [
            {
                "id": "m",
                "size_bytes": 0,
                "service_s": {"gpu": 0.1},
                "verification": {"none": 1, "tee": 2.0, "zkml": 50.0, "reexec": 1},
            }
        ],
        "sources": [{"name": "here", "lat": 0, "lon": 0}],
        "demand": [{"model": "m", "rate_rps": 0.001, "slo_ms": slo_ms, "verification": mode, "verifiers": 1}],
        "nodes": [
            {
                "id": "e",
                "lat": 0,
                "lon": 0,
                "roles": ["execution"],
                "provider": "A",
                "asn": 1,
                "hardware": "gpu",
                "warm_models": ["m"],
                "verification_modes": [mode],
            },
            {
                "id": "v",
                "lat": 0,
                "lon": 30,
                "roles": ["verification"],
                "provider": "B",
                "asn": 2,
                "hardware": "gpu",
                "warm_models": ["m"],
                "verification_modes": [mode],
            },
        ],
    }


def _hand_total_ms(mode: str) -> float:
    from nodeplan.model.geo import great_circle_km
    from nodeplan.model.rtt import default_rtt_model

    fit = default_rtt_model().public
    km = float(great_circle_km(0.0, 0.0, 0.0, 30.0))
    assert km == pytest.approx(6371.0 * math.pi / 6, rel=1e-3)  # 30 degrees of the equator
    hop = float(fit.rtt_ms_km(km))
    assert hop > km / 100.0  # above the fibre floor
    source_rtt = float(fit.rtt_ms_km(0.0))  # the user sits on the executor: 0 km
    # executor slowdown x 100 ms service; check: attestation 5 ms, proof 200 ms, or re-running the call on
    # the idle, warm verifier (no wait, no cold start, its own 100 ms service)
    factor, check = {"tee": (2.0, 5.0), "zkml": (50.0, 200.0), "reexec": (1.0, 100.0)}[mode]
    service_s = 0.1 * factor
    return source_rtt + _mm1_wait_ms(0.001, service_s) + 1000.0 * service_s + hop + check


@pytest.mark.parametrize("mode", ["tee", "zkml", "reexec"])
@pytest.mark.parametrize(("delta_ms", "served"), [(-0.5, 0.0), (0.5, 1.0)])
def test_verifier_hop_and_check_on_the_shipped_fit(mode, delta_ms, served):
    # tee: 4.58 + 200.04 + 5 + (4.58 + 0.0286494 x 1000 + 0.016731 x 2335.8 = 72.31) = 281.9 ms
    total = _hand_total_ms(mode)
    res = audit_scenario(Scenario.model_validate(_net_h(mode, total + delta_ms)))
    assert res.baseline.demand_served == served
    assert res.baseline.verified == served  # the verifier is independent: verified whenever served


def test_verifier_hop_hand_total_tee_value():
    # the number written in the comment above, so the hand formula itself is pinned
    assert _hand_total_ms("tee") == pytest.approx(281.9, abs=0.1)


# --- network C: cold start depends on which storage replica survives ------------------------------------

NET_C = {
    "name": "net-c",
    "models": [{"id": "m", "size_bytes": 1_000_000_000, "load_s": 1.0, "service_s": {"gpu": 0.1}}],
    "sources": [{"name": "here", "lat": 0, "lon": 0}],
    # Cold start from s1 next door: 0.01 s RTT + 1e9 B / 1.25e9 B/s (10 Gbit/s) + 1 s load = 1.81 s;
    # total ~1.92 s <= 2.5 s. From s2 at ~10,000 km: the 64 MiB window over 100 ms caps the rate at
    # 0.67 GB/s: 0.1 + 1.49 + 1 = 2.59 s -> ~2.70 s > 2.5 s.
    "demand": [{"model": "m", "rate_rps": 0.001, "slo_ms": 2500}],
    "nodes": [
        {"id": "e1", "lat": 0, "lon": 0, "roles": ["execution"], "provider": "A", "hardware": "gpu"},
        {
            "id": "s1",
            "lat": 0,
            "lon": 0,
            "roles": ["storage"],
            "provider": "S",
            "asn": 9,
            "stored_models": ["m"],
        },
        {
            "id": "s2",
            "lat": 0,
            "lon": 90,
            "roles": ["storage"],
            "provider": "T",
            "asn": 9,
            "stored_models": ["m"],
        },
    ],
}


def test_cold_start_uses_the_surviving_replica():
    res = audit_scenario(Scenario.model_validate(NET_C), rtt=FLAT_RTT)
    assert res.baseline.demand_served == 1.0
    assert _row(res, "provider", "S").demand_served == 0.0  # fetch from far s2: over the SLO
    assert _row(res, "provider", "T").demand_served == 1.0  # s1 still serves the fetch
    both = _row(res, "asn", "9")
    assert both.models_unreplicated == ("m",)
    assert both.demand_served == 0.0
    assert both.harm == pytest.approx(1.0 + 1.0)  # demand lost + the only model without a replica


# --- JSON, options, errors -------------------------------------------------------------------------------


def test_json_follows_the_versioned_schema(audit_b):
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(audit_b.to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(data, AUDIT_JSON_SCHEMA)
    assert data["failure_rows"][0]["dimension"] == "provider"
    assert data["failure_rows"][0]["value"] == "A"


def test_json_with_stake_follows_the_versioned_schema(audit_a):
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(audit_a.to_json())
    jsonschema.validate(data, AUDIT_JSON_SCHEMA)
    row = next(r for r in data["failure_rows"] if (r["dimension"], r["value"]) == ("provider", "C"))
    assert (row["halted"], row["fragile"]) == (False, True)
    assert row["largest_surviving"] == {
        "dimension": "provider",
        "value": "A",
        "share": pytest.approx(40 / 75),
    }
    assert "quorum" not in row


def test_json_without_stake_has_null_consensus(audit_b):
    data = json.loads(audit_b.to_json())
    row = data["failure_rows"][0]
    assert (row["halted"], row["fragile"], row["alive_stake_share"], row["largest_surviving"]) == (None,) * 4
    assert data["baseline"]["halted"] is None


def test_first_word_clustering_merges_organisations():
    data = json.loads(json.dumps(NET_A))
    for node, op in zip(data["nodes"][:3], ["Hetzner Online GmbH", "hetzner", "OVH SAS"], strict=True):
        node["operator"] = op
    res = audit_scenario(Scenario.model_validate(data), cluster=("operator",), roles=("execution",))
    assert dict(res.measure("operator", "execution").top) == {
        "hetzner": pytest.approx(2 / 3),
        "ovh": pytest.approx(1 / 3),
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": "votes"}, "weight: expected one of count, capacity, stake (got 'votes')"),
        ({"roles": ("miner",)}, "role: unknown role 'miner'"),
        ({"unknown": "drop"}, "unknown: expected one of entity, exclude, singletons (got 'drop')"),
        ({"cluster": ("org",)}, "cluster: unknown dimension 'org'"),
        ({"fail_dims": ("planet",)}, "fail_dims: unknown dimension 'planet'"),
    ],
)
def test_bad_options_raise_one_line_errors(kwargs, message):
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        audit_scenario(Scenario.model_validate(NET_A), **kwargs)


# --- weights chosen by the user, baseline dominance, providers derived from the ASN ---------------------


def test_capacity_weight_hand_computed():
    # execution slots: e1 2 (A), e2 1 (A), e3 1 (B); storage and coordination nodes have 1 slot each by
    # default but are not executors, so the execution cut sees A 3/4, B 1/4.
    res = audit_scenario(Scenario.model_validate(NET_A), "capacity", roles=("execution",), rtt=FLAT_RTT)
    m = res.measure("provider", "execution")
    assert dict(m.top) == {"A": pytest.approx(0.75), "B": pytest.approx(0.25)}
    assert m.hhi == pytest.approx(75**2 + 25**2)
    assert m.total_weight == pytest.approx(4.0)


def test_baseline_dominant_domains_make_consensus_fragile_before_any_failure(audit_a):
    # live stake A 40, B 35, C 25: A and B each hold a third or more with nothing failed
    dom = [(d.dimension, d.value, round(d.share, 6)) for d in audit_a.baseline_dominant]
    assert dom == [("provider", "A", 0.4), ("provider", "B", 0.35)]
    base = audit_a.to_dict()["baseline"]
    assert base["dominant"][0] == {"dimension": "provider", "value": "A", "share": 0.4}
    assert (base["halted"], base["fragile"], base["alive_stake_share"]) == (False, True, 1.0)
    assert base["largest_surviving"] == {"dimension": "provider", "value": "A", "share": 0.4}


NET_D = {
    "name": "net-d",
    "nodes": [
        {"id": "h1", "lat": 50, "lon": 12, "roles": ["execution"], "asn": 24940},  # Hetzner's ASN
        {"id": "h2", "lat": 60, "lon": 25, "roles": ["execution"], "asn": 24940},
        {"id": "a1", "lat": 39, "lon": -77, "roles": ["execution"], "asn": 16509},  # AWS
        {"id": "x1", "lat": 0, "lon": 0, "roles": ["execution"], "asn": 64512},  # private ASN: no provider
        # given provider wins over the ASN table
        {"id": "c1", "lat": 0, "lon": 0, "roles": ["execution"], "asn": 24940, "provider": "my-colo"},
        # provider implied by the data center (seen as OVH's on o1) wins over the ASN
        {"id": "o1", "lat": 48, "lon": 2, "roles": ["execution"], "data_center": "dc9", "provider": "ovh"},
        {"id": "o2", "lat": 48, "lon": 2, "roles": ["execution"], "data_center": "dc9", "asn": 16509},
    ],
}


def test_scenario_provider_derived_from_asn_and_reported(capsys):
    from nodeplan.report.tables import print_audit

    res = audit_scenario(Scenario.model_validate(NET_D), rtt=FLAT_RTT)
    assert res.derived_providers == (("hetzner", 2), ("aws", 1))
    m = res.measure("provider")
    assert dict(m.top) == {
        "hetzner": pytest.approx(2 / 7),
        "aws": pytest.approx(1 / 7),
        "my-colo": pytest.approx(1 / 7),
        "ovh": pytest.approx(2 / 7),
        "unknown": pytest.approx(1 / 7),
    }
    assert _row(res, "provider", "hetzner").nodes == 2
    assert res.to_dict()["derived_providers"] == [
        {"provider": "hetzner", "nodes": 2},
        {"provider": "aws", "nodes": 1},
    ]
    from rich.console import Console

    console = Console(width=100, record=True)
    print_audit(res, console)
    assert "provider derived from ASN for 3 nodes (hetzner 2, aws 1)" in " ".join(
        console.export_text().split()
    )


def test_provider_derivation_can_be_turned_off():
    res = audit_scenario(Scenario.model_validate(NET_D), rtt=FLAT_RTT, derive_providers=False)
    assert res.derived_providers == ()
    assert res.measure("provider").unknown_share == pytest.approx(4 / 7)


# --- measured RTT matrix (--rtt-matrix) overrides the fit in the serving check ---------------------------

NET_E = {
    "name": "net-e",
    "models": [{"id": "m", "size_bytes": 0, "service_s": {"gpu": 0.1}}],
    # both cities next door to the only executor: ~10 ms RTT with the flat model, 110 ms total <= 250 ms
    "sources": [{"name": "Alpha", "lat": 0, "lon": 0, "weight": 3}, {"name": "Beta", "lat": 0, "lon": 0.1}],
    "demand": [{"model": "m", "rate_rps": 0.001, "slo_ms": 250}],
    "nodes": [
        {"id": "e1", "lat": 0, "lon": 0, "roles": ["execution"], "hardware": "gpu", "warm_models": ["m"]},
    ],
}


def _matrix(tmp_path, text):
    from nodeplan.model.matrix_io import load_rtt_matrix

    path = tmp_path / "rtt.csv"
    path.write_text(text, encoding="utf-8")
    return path, load_rtt_matrix(path)


def test_measured_rtt_makes_the_only_executor_unreachable_in_time(tmp_path):
    scn = Scenario.model_validate(NET_E)
    assert audit_scenario(scn, rtt=FLAT_RTT).baseline.demand_served == 1.0
    # Beta (weight 1 of 4) measures 5 s to e1: its requests miss the 250 ms SLO; Alpha keeps the fit
    _, measured = _matrix(tmp_path, "from,to,rtt_ms\nBeta,e1,5000\n")
    res = audit_scenario(scn, rtt=FLAT_RTT.with_measured(measured))
    assert res.baseline.demand_served == pytest.approx(0.75)
    assert res.measured_rtt_pairs == 1
    assert res.to_dict()["measured_rtt_pairs"] == 1


def test_measured_rtt_can_also_be_faster_than_the_fit(tmp_path):
    # the fit puts Alpha ~100 ms from a far executor; a measured 20 ms brings it inside a 150 ms SLO
    data = json.loads(json.dumps(NET_E))
    data["nodes"][0].update(lat=0, lon=90)
    data["demand"][0]["slo_ms"] = 150
    scn = Scenario.model_validate(data)
    assert audit_scenario(scn, rtt=FLAT_RTT).baseline.demand_served == 0.0
    _, measured = _matrix(tmp_path, "from,to,rtt_ms\nAlpha,e1,20\ne1,Alpha,20\n")
    assert audit_scenario(scn, rtt=FLAT_RTT.with_measured(measured)).baseline.demand_served == 0.75


def test_cli_rtt_matrix_lowers_demand_served(tmp_path, capsys):
    from nodeplan.cli import main
    from nodeplan.scenario.io import save_scenario

    scn_path = tmp_path / "e.yaml"
    save_scenario(Scenario.model_validate(NET_E), scn_path)
    assert main(["audit", str(scn_path), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    csv_path, _ = _matrix(tmp_path, "from,to,rtt_ms\nAlpha,e1,9000\nBeta,e1,9000\n")
    assert main(["audit", str(scn_path), "--json", "--rtt-matrix", str(csv_path)]) == 0
    after = json.loads(capsys.readouterr().out)
    assert before["baseline"]["demand_served"] == 1.0  # default fit: next door, ~0.14 s in all
    assert after["baseline"]["demand_served"] == 0.0
    assert after["measured_rtt_pairs"] == 2
    assert main(["audit", str(scn_path), "--rtt-matrix", str(csv_path)]) == 0
    assert "serving check uses 2 measured source-node RTTs" in " ".join(capsys.readouterr().out.split())


def test_cli_rtt_matrix_bad_input_is_one_line(tmp_path, capsys):
    from nodeplan.cli import main
    from nodeplan.scenario.io import save_scenario

    scn_path = tmp_path / "e.yaml"
    save_scenario(Scenario.model_validate(NET_E), scn_path)
    csv_path, _ = _matrix(tmp_path, "from,to,rtt_ms\nGamma,x9,10\n")
    assert main(["audit", str(scn_path), "--rtt-matrix", str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert "--rtt-matrix" in err
    assert "none of its 2 names ('Gamma', 'x9', ...) is a demand source or node id" in err
    assert err.count("\n") == 1
    assert main(["audit", str(scn_path), "--rtt-matrix", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: cannot read RTT matrix" in capsys.readouterr().err


# --- headline wording -------------------------------------------------------------------------------------


def test_headline_singular_for_one_node_in_one_country():
    one = {
        "name": "one",
        "nodes": [{"id": "n", "lat": 0, "lon": 0, "roles": ["execution"], "country": "US", "provider": "A"}],
    }
    res = audit_scenario(Scenario.model_validate(one), rtt=FLAT_RTT)
    assert res.headline.startswith("1 live node in 1 country, but ")
    assert "nodes" not in res.headline.split(",")[0]


def test_headline_plural_and_singular_model(audit_a):
    # 8 nodes in 2 countries; losing provider A leaves m2 (one model) with no replica
    assert audit_a.headline.startswith("8 live nodes in 2 countries, but ")
    assert "1 model with no storage replica" in audit_a.headline


# --- attributes: shown, never failure domains ------------------------------------------------------------


def _with_attributes() -> dict:
    data = json.loads(json.dumps(NET_A))
    by_id = {n["id"]: n for n in data["nodes"]}
    by_id["c1"]["attributes"] = {"dz": True, "tier": "gold"}
    by_id["c2"]["attributes"] = {"dz": False}
    by_id["c3"]["attributes"] = {"dz": True}
    by_id["e1"]["attributes"] = {"dz": True}
    by_id["c3"]["status"] = "down"
    return data


def test_attributes_shown_hand_computed():
    res = audit_scenario(Scenario.model_validate(_with_attributes()), "count", rtt=FLAT_RTT)
    dz, tier = res.attributes
    # live: 7 nodes (c3 is down); live stake 40 (c1) + 35 (c2) = 75
    assert (dz.name, dz.flag, dz.distinct, dz.unknown_nodes) == ("dz", True, 2, 4)
    assert dz.unknown_share == pytest.approx(4 / 7)
    (t, f) = dz.values
    assert (t.value, t.nodes, t.node_share, t.stake_share) == (
        True,
        2,
        pytest.approx(2 / 7),
        pytest.approx(40 / 75),
    )
    assert (f.value, f.nodes, f.node_share, f.stake_share) == (
        False,
        1,
        pytest.approx(1 / 7),
        pytest.approx(35 / 75),
    )
    assert (tier.flag, [(v.value, v.nodes) for v in tier.values]) == (False, [("gold", 1)])


def test_attributes_change_no_measure_and_no_failure_row():
    data = _with_attributes()
    with_attrs = audit_scenario(Scenario.model_validate(data), "stake", rtt=FLAT_RTT)
    for node in data["nodes"]:
        node.pop("attributes", None)
    plain = audit_scenario(Scenario.model_validate(data), "stake", rtt=FLAT_RTT)
    assert with_attrs.failure_rows == plain.failure_rows
    assert with_attrs.measures == plain.measures
    assert with_attrs.summary == plain.summary
    assert with_attrs.headline == plain.headline
    assert plain.attributes == ()


def test_attributes_in_json_follow_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    res = audit_scenario(Scenario.model_validate(_with_attributes()), "count", rtt=FLAT_RTT)
    data = json.loads(res.to_json())
    jsonschema.validate(data, AUDIT_JSON_SCHEMA)
    assert data["attributes"][0]["values"][0] == {
        "value": True,
        "nodes": 2,
        "node_share": round(2 / 7, 6),
        "stake_share": round(40 / 75, 6),
    }
    assert data["attributes"][1]["values"][0]["value"] == "gold"
