"""Monte Carlo failures against answers computed by hand (exact enumeration) and against the audit."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from nodeplan.exceptions import ScenarioError, SimulationError
from nodeplan.metrics.audit import audit_scenario
from nodeplan.model.rtt import LinearRtt, RttModel
from nodeplan.scenario.io import load_builtin, parse_scenario
from nodeplan.scenario.model import FailureSpec, Scenario
from nodeplan.simulation import SCHEMA_VERSION, monte_carlo_failures, run_trials, summarise

# RTT = 10 ms next door, 10 + 0.02 ms/km elsewhere: >= 190 ms between the three cities below.
RTT = RttModel(public=LinearRtt(10.0, 0.02), backbone=LinearRtt(10.0, 0.02))

P = {"A": 0.1, "B": 0.2, "C": 0.3}
CITY = {"A": (50.11, 8.68), "B": (35.68, 139.69), "C": (-23.55, -46.63)}  # Frankfurt, Tokyo, Sao Paulo
WEIGHT = {"A": 5.0, "B": 3.0, "C": 2.0}  # demand source next to each node
CAP = {"A": 4, "B": 2, "C": 2}
STAKE = {"A": 2.0, "B": 1.0, "C": 1.0}


def three_nodes(p: dict[str, float] = P) -> Scenario:
    """Nodes a, b, c on providers A, B, C; each serves only its own city within the 100 ms SLO (10 ms RTT +
    10 ms service there, >= 190 ms RTT to the other cities); model m is stored on a and b only."""
    nodes = []
    for k in "ABC":
        nodes.append(
            {
                "id": k.lower(),
                "lat": CITY[k][0],
                "lon": CITY[k][1],
                "roles": ["execution", "coordination"] + (["storage"] if k != "C" else []),
                "capacity": CAP[k],
                "stake": STAKE[k],
                "warm_models": ["m"],
                "stored_models": ["m"] if k != "C" else [],
                "gpu_memory_gb": 1,
                "disk_gb": 1,
                "provider": k,
            }
        )
    return parse_scenario(
        {
            "name": "three",
            "nodes": nodes,
            "models": [{"id": "m", "size_bytes": 0, "service_s": {"cpu": 0.01}}],
            "sources": [
                {"name": k, "lat": CITY[k][0], "lon": CITY[k][1], "weight": WEIGHT[k]} for k in "ABC"
            ],
            "demand": [{"model": "m", "rate_rps": 0.01, "slo_ms": 100.0}],
            "failures": {"provider": {"default": 0.0, "values": p}},
        }
    )


def _enumerate() -> dict[str, tuple[float, float]]:
    """Exact mean and variance of each outcome over the 8 up/down outcomes of providers A, B, C."""
    acc: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("served", "capacity", "stake_lost", "fragile", "halted", "unrep")
    }
    for down in itertools.product([False, True], repeat=3):
        d = dict(zip("ABC", down, strict=True))
        prob = math.prod(P[k] if d[k] else 1 - P[k] for k in "ABC")
        served = sum(WEIGHT[k] for k in "ABC" if not d[k]) / sum(WEIGHT.values())
        capacity = sum(CAP[k] for k in "ABC" if d[k]) / sum(CAP.values())
        alive = sum(STAKE[k] for k in "ABC" if not d[k]) / sum(STAKE.values())
        halted = alive <= 2 / 3
        # fragile: runs, and one surviving provider holds >= 1/3 of the surviving stake
        left = [STAKE[k] for k in "ABC" if not d[k]]
        fragile = not halted and max(left) / sum(left) >= 1 / 3
        unrep = d["A"] and d["B"]
        for k, x in (
            ("served", served),
            ("capacity", capacity),
            ("stake_lost", 1 - alive),
            ("fragile", float(fragile)),
            ("halted", float(halted)),
            ("unrep", float(unrep)),
        ):
            acc[k].append((prob, x))
    out = {}
    for k, pairs in acc.items():
        mean = sum(p * x for p, x in pairs)
        var = sum(p * x * x for p, x in pairs) - mean * mean
        out[k] = (mean, var)
    return out


def test_exact_enumeration_by_hand() -> None:
    # The enumeration itself, against closed forms: E[served] = sum w_k (1 - p_k); P(any down); A or (B and C).
    ex = _enumerate()
    assert ex["served"][0] == pytest.approx(0.5 * 0.9 + 0.3 * 0.8 + 0.2 * 0.7)  # 0.83
    # A holds half the stake: whenever consensus runs, A is up and holds >= 1/3 of what survives
    assert ex["halted"][0] == pytest.approx(0.1 + 0.9 * 0.2 * 0.3)  # 0.154
    assert ex["fragile"][0] == pytest.approx(1 - ex["halted"][0])  # 0.846
    assert ex["stake_lost"][0] == pytest.approx((2 * 0.1 + 1 * 0.2 + 1 * 0.3) / 4)  # 0.175
    assert ex["capacity"][0] == pytest.approx((4 * 0.1 + 2 * 0.2 + 2 * 0.3) / 8)  # 0.175
    assert ex["unrep"][0] == pytest.approx(0.1 * 0.2)


def test_audit_rows_of_the_three_node_network_match_the_hand_model() -> None:
    # The serving geometry the enumeration assumes: losing provider B leaves A's and C's cities served.
    rows = {
        r.value: r for r in audit_scenario(three_nodes(), rtt=RTT).failure_rows if r.dimension == "provider"
    }
    assert rows["B"].demand_served == pytest.approx(0.7)
    assert rows["A"].demand_served == pytest.approx(0.5)
    assert (rows["C"].halted, rows["C"].fragile) == (False, True)  # 3/4 alive, A holds 2/3 of it
    assert (rows["A"].halted, rows["A"].fragile) == (True, False)  # 1/2 alive


def test_monte_carlo_within_4_standard_errors_of_exact_enumeration() -> None:
    n = 200_000
    t = run_trials(three_nodes(), n, seed=20261126, rtt=RTT)
    ex = _enumerate()
    got = {
        "served": t.served,
        "capacity": t.capacity_lost,
        "stake_lost": t.stake_lost,
        "fragile": t.fragile.astype(float),
        "halted": t.halted.astype(float),
        "unrep": t.unreplicated[:, 0].astype(float),
    }
    for k, x in got.items():
        mean, var = ex[k]
        se = math.sqrt(var / n)
        assert abs(x.mean() - mean) < 4 * se, (k, x.mean(), mean, se)
    # Each provider's failure frequency, too.
    failed = t.failed()
    for j, k in enumerate("ABC"):
        assert abs(failed[:, j].mean() - P[k]) < 4 * math.sqrt(P[k] * (1 - P[k]) / n)
    r = summarise(t)
    assert r.p_fragile == pytest.approx(t.fragile.mean())
    assert r.p_halted == pytest.approx(t.halted.mean())
    assert r.p_any_unreplicated == pytest.approx(t.unreplicated.any(axis=1).mean())


def test_five_equal_validators_halt_only_when_two_fail() -> None:
    # 5 providers with stake 1 each: one down leaves 4/5 alive and 1/4 per survivor (runs, not fragile); two
    # down leave 3/5 <= 2/3 (halt). So P(halted) = P(at least two fail), by enumeration of 32 outcomes.
    p = {"A": 0.05, "B": 0.1, "C": 0.15, "D": 0.2, "E": 0.25}
    sc = parse_scenario(
        {
            "nodes": [
                {"id": k, "lat": 0, "lon": 0, "roles": ["coordination"], "stake": 1, "provider": k} for k in p
            ],
            "failures": {"provider": {"values": p}},
        }
    )
    exact = sum(
        math.prod(p[k] if x else 1 - p[k] for k, x in zip(p, down, strict=True))
        for down in itertools.product([False, True], repeat=5)
        if sum(down) >= 2
    )
    n = 100_000
    t = run_trials(sc, n, seed=5)
    se = math.sqrt(exact * (1 - exact) / n)
    assert abs(t.halted.mean() - exact) < 4 * se
    assert not t.fragile.any()  # no survivor ever holds a third while consensus runs
    assert np.array_equal(t.halted, t.failed().sum(axis=1) >= 2)


def test_same_seed_same_numbers_and_prefix_property() -> None:
    sc = three_nodes()
    a = run_trials(sc, 5000, seed=11, rtt=RTT)
    b = run_trials(sc, 5000, seed=11, rtt=RTT)
    c = run_trials(sc, 6000, seed=11, rtt=RTT)
    d = run_trials(sc, 5000, seed=12, rtt=RTT)
    assert np.array_equal(a.failed_bits, b.failed_bits)
    assert np.array_equal(a.served, b.served)
    # Chunks have a fixed size: a longer run with the same seed starts with the shorter one.
    assert np.array_equal(a.failed_bits, c.failed_bits[:5000])
    assert not np.array_equal(a.failed_bits, d.failed_bits)  # the seed matters
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    assert np.array_equal(run_trials(sc, 100, seed=g1).failed_bits, run_trials(sc, 100, seed=g2).failed_bits)
    fresh = run_trials(sc, 100)  # no seed: the entropy is recorded and repeats the run
    assert np.array_equal(run_trials(sc, 100, seed=fresh.seed_entropy).failed_bits, fresh.failed_bits)


def test_one_and_two_workers_give_identical_trials() -> None:
    sc = load_builtin("opengradient")
    n = 2048 + 300  # two chunks, the second one short: one per worker
    one = run_trials(sc, n, seed=7, workers=1)
    two = run_trials(sc, n, seed=7, workers=2)
    for f in ("failed_bits", "down", "capacity_lost", "stake_lost", "halted", "fragile", "unreplicated"):
        assert np.array_equal(getattr(one, f), getattr(two, f)), f
    for f in ("served", "verified", "stake_alive"):
        assert np.array_equal(getattr(one, f), getattr(two, f), equal_nan=True), f
    assert summarise(one).to_dict() | {"workers": 0} == summarise(two).to_dict() | {"workers": 0}


def _with_failures(sc: Scenario, failures: dict[str, FailureSpec]) -> Scenario:
    return parse_scenario(
        sc.model_dump(mode="json") | {"failures": {k: v.model_dump() for k, v in failures.items()}}
    )


@pytest.fixture(scope="module")
def builtin_audit():
    sc = load_builtin("opengradient")
    return sc, audit_scenario(sc)


def test_probability_zero_everywhere_is_the_audit_baseline(builtin_audit) -> None:
    sc, audit = builtin_audit
    zero = _with_failures(sc, {d: FailureSpec(default=0.0) for d in ("provider", "country", "operator")})
    t = run_trials(zero, 3000, seed=1)
    assert np.all(t.served == audit.baseline.demand_served)
    assert np.all(t.verified == audit.baseline.verified)
    assert not t.failed().any()
    assert np.all(t.capacity_lost == 0)
    assert np.all(t.down == 0)
    assert not t.halted.any()
    assert np.all(t.stake_lost == 0.0)
    assert np.all(t.stake_alive == 1.0)
    assert np.all(t.fragile == audit.baseline_consensus.fragile)


@pytest.mark.parametrize("provider", ["aws", "hetzner", "ovh"])
def test_probability_one_for_a_provider_is_its_audit_row(builtin_audit, provider: str) -> None:
    sc, audit = builtin_audit
    row = next(r for r in audit.failure_rows if r.dimension == "provider" and r.value == provider)
    one = _with_failures(sc, {"provider": FailureSpec(default=0.0, values={provider: 1.0})})
    t = run_trials(one, 500, seed=2)
    assert np.all(t.down == row.nodes)
    assert np.allclose(t.served, row.demand_served, rtol=0, atol=1e-12)
    assert np.allclose(t.verified, row.verified, rtol=0, atol=1e-12)
    assert np.allclose(t.capacity_lost, row.capacity_lost, rtol=0, atol=1e-12)
    assert np.allclose(t.stake_alive, row.alive_stake_share, rtol=0, atol=1e-12)
    assert np.allclose(t.stake_lost, row.stake_lost, rtol=0, atol=1e-12)
    assert np.all(t.halted == row.halted)
    assert np.all(t.fragile == row.fragile)
    assert np.allclose(t.harm(), row.harm, rtol=0, atol=1e-9)  # the audit's harm of the same failure
    lost = tuple(m for m, x in zip(t.model_ids, t.unreplicated[0], strict=True) if x)
    assert lost == row.models_unreplicated
    assert np.all(t.unreplicated == t.unreplicated[0])


def test_attribution_names_the_domain_that_causes_every_bad_trial() -> None:
    # Both executors sit on provider X (p = 0.03): when X fails nothing is served. The operator domains
    # (p = 0.2 each) hold only a storage node that serves nothing, so they do no harm. The tail (5%) then
    # holds exactly the trials where X failed (~3% < 5%): X's rate there is 1 and its lift 1 / base rate.
    sc = parse_scenario(
        {
            "nodes": [
                {
                    "id": "e1",
                    "lat": 0,
                    "lon": 0,
                    "roles": ["execution"],
                    "provider": "X",
                    "warm_models": ["m"],
                    "gpu_memory_gb": 1,
                },
                {
                    "id": "e2",
                    "lat": 0,
                    "lon": 1,
                    "roles": ["execution"],
                    "provider": "X",
                    "warm_models": ["m"],
                    "gpu_memory_gb": 1,
                },
                {"id": "s1", "lat": 0, "lon": 2, "roles": ["storage"], "provider": "Y", "operator": "o1"},
                {"id": "s2", "lat": 0, "lon": 3, "roles": ["storage"], "provider": "Y", "operator": "o2"},
            ],
            "models": [{"id": "m", "size_bytes": 0, "service_s": {"cpu": 0.01}}],
            "sources": [{"name": "s", "lat": 0, "lon": 0}],
            "demand": [{"model": "m", "rate_rps": 0.1, "slo_ms": 1000}],
            "failures": {"provider": {"values": {"X": 0.03}}, "operator": {"default": 0.2}},
        }
    )
    t = run_trials(sc, 20_000, seed=4)
    x_failed = t.failed()[:, 0]
    assert np.array_equal(t.served == 0, x_failed)
    r = summarise(t, tail=0.05)
    assert r.tail_trials == int(x_failed.sum())
    top = r.attribution[0]
    assert (top.dimension, top.value, top.tail_rate, top.tail_trials) == ("provider", "X", 1.0, r.tail_trials)
    assert top.lift == pytest.approx(1 / x_failed.mean())
    assert r.p_served_below_target == pytest.approx(x_failed.mean())
    assert r.served is not None
    assert r.served.mean == pytest.approx(1 - x_failed.mean())


def test_result_json_is_versioned_and_plain() -> None:
    r = monte_carlo_failures(three_nodes(), 3000, seed=1, rtt=RTT)
    d = json.loads(r.to_json())
    assert d["schema_version"] == SCHEMA_VERSION
    assert d["kind"] == "simulate-failures"
    assert d["trials"] == 3000
    assert d["seed"] == 1
    assert d["events"]["fragile"]["p"] == pytest.approx(r.p_fragile, abs=1e-6)
    assert d["events"]["halted"]["p"] == pytest.approx(r.p_halted, abs=1e-6)
    assert "quorum_lost" not in d["events"]
    assert set(d["served"]) == {"mean", "se", "p5", "p50", "p95"}
    assert d["baseline"]["dominant"] == [{"dimension": "provider", "value": "A", "share": 0.5}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trials": 0}, "trials: must be between 1 and"),
        ({"trials": 2.5}, "trials: expected an integer (got 2.5)"),
        ({"workers": 0}, "workers: must be between 1 and 256 (got 0)"),
        ({"seed": -1}, "seed: must be >= 0 (got -1)"),
        ({"seed": "x"}, "seed: expected an integer >= 0"),
        ({"slo_target": 1.5}, "slo_target: must be in [0, 1] (got 1.5)"),
        ({"tail": 0.0}, "tail: must be in (0, 1] (got 0.0)"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict, message: str) -> None:
    args = {"trials": 10} | kwargs
    with pytest.raises(SimulationError) as exc:
        monte_carlo_failures(three_nodes(), **args)
    assert message in str(exc.value)


def test_scenario_without_failures_says_what_to_add() -> None:
    sc = parse_scenario({"nodes": [{"id": "a", "lat": 0, "lon": 0, "roles": ["storage"]}]})
    with pytest.raises(
        ScenarioError, match=r"^failures: the scenario has no failure probabilities; add e\.g\."
    ):
        run_trials(sc, 10)


def test_node_attributes_are_never_sampled_as_failure_domains() -> None:
    # Each node gets a flag attribute (as the Solana preset imports doublezero): the trials are the same
    # bit for bit, and no domain comes from the attribute.
    plain = three_nodes()
    flagged = plain.model_copy(
        update={
            "nodes": tuple(
                n.model_copy(update={"attributes": {"doublezero": n.id != "c"}}) for n in plain.nodes
            )
        }
    )
    a = run_trials(plain, 2000, seed=5, rtt=RTT)
    b = run_trials(flagged, 2000, seed=5, rtt=RTT)
    assert b.domains.dimensions == ("provider",)
    assert b.domains.values == a.domains.values
    assert np.array_equal(a.failed_bits, b.failed_bits)
    assert np.array_equal(a.served, b.served)
