"""Router: the mission's examples, state changes, errors, hand-computed times and prices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nodeplan.exceptions import NodeplanError, NoRouteError, RoutingError
from nodeplan.model.independence import SelectionStatus
from nodeplan.model.rtt import default_rtt_model
from nodeplan.routing import (
    POLICIES,
    Request,
    RouterState,
    complete,
    register_scorer,
    route,
    route_batch,
    select_independent,
    weighted_policy,
)
from nodeplan.routing.policies import register_policy
from nodeplan.routing.scorers import SCORERS
from nodeplan.scenario.model import Model, Policy, Scenario

from .routing_builders import ASHBURN, FRANKFURT, PARIS, node, public_ms

BIG = Model(
    id="llama-8b",
    size_bytes=16_000_000_000,
    load_s=8.0,
    init_s=12.0,
    service_s={"gpu": 0.5},
    verification={"none": 1.0, "tee": 2.5, "reexec": 2.0},
)
TINY = Model(id="tiny", size_bytes=10_000_000, load_s=0.01, service_s={"gpu": 0.02, "cpu": 0.05})


def warm_vs_cold() -> Scenario:
    """Paris node cold, Ashburn node warm for both models, a storage replica in Frankfurt."""
    return Scenario(
        nodes=(
            node("paris", PARIS, provider="ovh"),
            node("ashburn", ASHBURN, provider="aws", warm_models=("llama-8b", "tiny")),
            node(
                "frankfurt-store",
                FRANKFURT,
                roles={"storage"},
                provider="hetzner",
                stored_models=("llama-8b", "tiny"),
            ),
        ),
        models=(BIG, TINY),
    )


# -- the mission's examples ----------------------------------------------------------------------------
def test_warm_distant_node_beats_cold_nearby_node_for_large_model() -> None:
    st = RouterState.from_scenario(warm_vs_cold())
    r = route(Request("llama-8b", *PARIS), st, commit=False)
    assert r.executor == "ashburn"
    assert r.source is None
    assert r.time.cold_start_ms == 0.0
    assert r.time.network_ms == pytest.approx(public_ms(PARIS, ASHBURN), rel=1e-6)
    # the nearby node would need the 16 GB pull from Frankfurt: RTT + 16e9 B / 1.25e9 B/s (10 Gbit/s link,
    # the 64 MiB window allows 2.9 GB/s at 22.6 ms) + 8 s load + 12 s init = 32.82 s
    near = route(Request("llama-8b", *PARIS, policy="nearest"), st, commit=False)
    assert near.executor == "paris"
    assert near.source == "frankfurt-store"
    fetch_rtt = public_ms(PARIS, FRANKFURT)
    assert near.time.cold_start_ms == pytest.approx(fetch_rtt + 12_800.0 + 20_000.0, rel=1e-6)
    assert near.total_ms > r.total_ms + 30_000.0


def test_tiny_model_goes_to_the_nearby_node() -> None:
    st = RouterState.from_scenario(warm_vs_cold())
    r = route(Request("tiny", *PARIS), st, commit=False)
    assert r.executor == "paris"
    assert r.source == "frankfurt-store"
    # cold start: RTT to Frankfurt + 10 MB at 1.25 GB/s (8 ms) + 10 ms load
    assert r.time.cold_start_ms == pytest.approx(public_ms(PARIS, FRANKFURT) + 8.0 + 10.0, rel=1e-6)
    assert r.total_ms < public_ms(PARIS, ASHBURN) + 20.0


def verifier_scenario() -> Scenario:
    """Executor in Frankfurt on AWS; the nearest verifier is also AWS, the other one is GCP in Paris."""
    return Scenario(
        nodes=(
            node(
                "exec",
                FRANKFURT,
                provider="aws",
                asn=16509,
                operator="a",
                warm_models=("llama-8b",),
                verification_modes={"none", "tee"},
                tee_vendor="aws-nitro",
            ),
            node(
                "v-aws",
                (50.12, 8.70),
                roles={"verification"},
                provider="aws",
                asn=16509,
                operator="b",
                verification_modes={"tee"},
            ),
            node(
                "v-gcp",
                PARIS,
                roles={"verification"},
                provider="gcp",
                asn=15169,
                operator="c",
                verification_modes={"tee"},
            ),
        ),
        models=(BIG,),
    )


def test_fastest_verifier_rejected_when_it_shares_the_executors_provider() -> None:
    st = RouterState.from_scenario(verifier_scenario())
    r = route(Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1), st, commit=False)
    assert r.executor == "exec"
    assert r.verifiers == ("v-gcp",)
    assert not r.degraded
    assert r.independence.compliant
    # verification = RTT Frankfurt -> Paris + 5 ms attestation check; service = 0.5 s x TEE factor 2.5
    assert r.time.verification_ms == pytest.approx(public_ms(FRANKFURT, PARIS) + 5.0, rel=1e-6)
    assert r.time.service_ms == pytest.approx(1250.0)
    # a provider-blind baseline takes the nearby AWS verifier, and the route says so
    near = route(
        Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1, policy="nearest"), st, commit=False
    )
    assert near.verifiers == ("v-aws",)
    assert near.degraded
    assert "provider" in near.reason
    pair = near.independence.pairs[0]
    assert (pair.a, pair.b) == ("exec", "v-aws")
    assert set(pair.shared) == {"provider", "asn"}


def test_cheapest_node_loses_when_it_would_miss_the_slo() -> None:
    sc = Scenario(
        nodes=(
            node("cheap-sydney", (-33.87, 151.21), price_usd_per_hour=0.5, capacity=1, warm_models=("tiny",)),
            node("dear-paris", PARIS, price_usd_per_hour=50.0, capacity=1, warm_models=("tiny",)),
        ),
        models=(TINY,),
        policy=Policy(price_weight_ms_per_usd=1e9),  # 1 USD is worth 1e6 s: price dominates
    )
    st = RouterState.from_scenario(sc)
    free = route(Request("tiny", *PARIS), st, commit=False)
    assert free.executor == "cheap-sydney"  # without an SLO the price weight wins
    r = route(Request("tiny", *PARIS, slo_ms=200.0), st, commit=False)
    assert r.executor == "dear-paris"
    assert r.meets_slo
    baseline = route(Request("tiny", *PARIS, slo_ms=200.0, policy="cheapest"), st, commit=False)
    assert baseline.executor == "cheap-sydney"
    assert not baseline.meets_slo
    # price = 50 USD/h / 1 slot x 0.02 s / 3600 s
    assert r.price_usd == pytest.approx(50.0 * 0.02 / 3600.0)


# -- verifiers ------------------------------------------------------------------------------------------
def test_degraded_when_every_verifier_shares_a_dimension() -> None:
    sc = verifier_scenario()
    nodes = (sc.nodes[0], sc.nodes[1], sc.nodes[2].model_copy(update={"provider": "aws"}))
    st = RouterState.from_scenario(sc.model_copy(update={"nodes": nodes}))
    r = route(Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1), st, commit=False)
    assert r.degraded
    assert "share none of" in r.reason
    assert "provider" in r.reason
    # best available: v-gcp shares only the provider (v-aws also shares the ASN)
    assert r.verifiers == ("v-gcp",)
    assert r.independence.pairs[0].shared == ("provider",)


def test_too_few_verifiers_is_degraded_not_silent() -> None:
    st = RouterState.from_scenario(verifier_scenario())
    r = route(Request("llama-8b", *FRANKFURT, verification="tee", verifiers=3), st, commit=False)
    assert r.degraded
    assert r.reason.startswith("only 2 live node(s) can verify 'tee'")
    assert set(r.verifiers) == {"v-aws", "v-gcp"}


def test_greedy_blocked_set_is_found_by_the_exact_search() -> None:
    # dims (provider, operator); executor row 0. Row 1 is cheapest but conflicts with rows 2 and 3,
    # which are independent of each other: greedy takes row 1 and gets stuck, the answer is {2, 3}.
    codes = np.array([[0, 1, 1, 2], [0, 3, 4, 3]], dtype=np.int32)  # row 1~2 share provider, 1~3 operator
    sel = select_independent(codes, 0, np.array([np.inf, 1.0, 2.0, 3.0]), 2)
    assert sel.status is SelectionStatus.OK
    assert set(sel.rows) == {2, 3}


def test_unknown_dimension_never_counts_as_shared_but_is_reported() -> None:
    sc = verifier_scenario()
    nodes = (sc.nodes[0], sc.nodes[1].model_copy(update={"provider": None, "asn": None}), sc.nodes[2])
    st = RouterState.from_scenario(sc.model_copy(update={"nodes": nodes}))
    r = route(
        Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1, policy="nearest"), st, commit=False
    )
    assert r.verifiers == ("v-aws",)
    assert not r.degraded
    assert set(r.independence.pairs[0].unknown) == {"provider", "asn", "data_center", "tee_vendor"}


def test_reexec_verifier_reruns_the_call_including_its_cold_start() -> None:
    sc = Scenario(
        nodes=(
            node("exec", PARIS, provider="aws", warm_models=("llama-8b",)),
            node(
                "ver",
                FRANKFURT,
                roles={"verification"},
                provider="gcp",
                verification_modes={"reexec"},
                capacity=1,
                stored_models=("llama-8b",),
            ),
        ),
        models=(BIG,),
    )
    st = RouterState.from_scenario(sc)
    r = route(Request("llama-8b", *PARIS, verification="reexec", verifiers=1), st)
    # hop + cold start from its own disk (16e9 B / 2e9 B/s NVMe + 8 s + 12 s) + its service 0.5 s
    hop = public_ms(PARIS, FRANKFURT)
    assert r.time.verification_ms == pytest.approx(hop + 8_000.0 + 20_000.0 + 500.0, rel=1e-6)
    assert r.time.service_ms == pytest.approx(500.0)  # reexec does not slow the executor
    assert st.warm_models("ver") == ("llama-8b",)
    assert st.in_flight_of("ver") == 1
    complete(r, st)
    assert st.in_flight_of("ver") == 0
    assert st.in_flight_of("exec") == 0


# -- state changes ---------------------------------------------------------------------------------------
def test_cold_start_warms_the_model_on_the_executor() -> None:
    st = RouterState.from_scenario(warm_vs_cold())
    first = route(Request("tiny", *PARIS), st)
    assert first.executor == "paris"
    assert first.time.cold_start_ms > 0
    assert "tiny" in st.warm_models("paris")
    second = route(Request("tiny", *PARIS), st)
    assert second.executor == "paris"
    assert second.time.cold_start_ms == 0.0
    assert second.source is None


def test_lru_eviction_under_gpu_memory() -> None:
    models = tuple(Model(id=m, size_bytes=8_000_000_000, service_s={"gpu": 0.1}) for m in ("a", "b", "c"))
    sc = Scenario(
        nodes=(
            node("n", PARIS, gpu_memory_gb=20.0, warm_models=("a", "b")),
            node("store", PARIS, roles={"storage"}, stored_models=("a", "b", "c")),
        ),
        models=models,
    )
    st = RouterState.from_scenario(sc)
    route(Request("a", *PARIS), st)  # a is now the most recently used; b is least recently used
    r = route(Request("c", *PARIS), st)
    assert r.evicted == ("n:b",)
    assert st.warm_models("n") == ("a", "c")
    assert route(Request("b", *PARIS), st, commit=False).time.cold_start_ms > 0


def test_queue_counters_move_and_complete_frees_the_slot() -> None:
    sc = Scenario(nodes=(node("only", PARIS, capacity=1, warm_models=("tiny",)),), models=(TINY,))
    st = RouterState.from_scenario(sc)
    r1 = route(Request("tiny", *PARIS), st)
    assert r1.time.queue_ms == 0.0
    assert st.in_flight_of("only") == 1
    r2 = route(Request("tiny", *PARIS), st)
    assert r2.time.queue_ms == pytest.approx(20.0)  # one request ahead on one slot: its 0.02 s service
    assert st.in_flight_of("only") == 2
    complete(r1, st)
    complete(r2, st)
    assert st.in_flight_of("only") == 0
    assert route(Request("tiny", *PARIS), st, commit=False).time.queue_ms == 0.0
    with pytest.raises(RoutingError, match="has 0 requests in flight"):
        st.release("only")


def test_background_load_adds_the_mmc_wait() -> None:
    sc = Scenario(nodes=(node("only", PARIS, capacity=1, warm_models=("tiny",)),), models=(TINY,))
    st = RouterState.from_scenario(sc)
    st.set_load("only", 25.0)  # M/M/1, rho = 25 x 0.02 = 0.5: W_q = rho / (mu - lambda) = 0.5 / 25 s
    assert route(Request("tiny", *PARIS), st, commit=False).time.queue_ms == pytest.approx(20.0)


def test_down_nodes_are_never_chosen() -> None:
    st = RouterState.from_scenario(warm_vs_cold())
    st.set_down("ashburn")
    assert route(Request("llama-8b", *ASHBURN), st, commit=False).executor == "paris"
    st.set_down("frankfurt-store")  # paris can no longer fetch the model
    with pytest.raises(NoRouteError, match="able to fetch it from a live storage replica 0"):
        route(Request("llama-8b", *PARIS), st)
    st.set_up("ashburn")
    assert route(Request("llama-8b", *PARIS), st).executor == "ashburn"


def test_routes_carry_the_policy_and_every_builtin_policy_routes() -> None:
    # one executor here: this checks that every policy names itself and returns one TEE verifier; that
    # each policy makes its own choice is tested in test_routing_policies.py (five distinct answers)
    st = RouterState.from_scenario(verifier_scenario())
    for name in POLICIES:
        r = route(Request("llama-8b", *PARIS, verification="tee", verifiers=1, policy=name), st, commit=False)
        assert r.policy == name
        assert r.executor == "exec"
        assert len(r.verifiers) == 1


def test_random_policy_is_seeded() -> None:
    sc = Scenario(nodes=tuple(node(f"n{i}", PARIS, warm_models=("tiny",)) for i in range(10)), models=(TINY,))
    picks = []
    for _ in range(2):
        st = RouterState.from_scenario(sc, seed=3)
        picks.append([route(Request("tiny", *PARIS, policy="random"), st).executor for _ in range(20)])
    assert picks[0] == picks[1]
    assert len(set(picks[0])) > 3  # not stuck on one node


def test_least_loaded_spreads_and_latency_only_penalises_a_missing_model() -> None:
    sc = Scenario(
        nodes=(
            node("near", PARIS, capacity=1, warm_models=("tiny",)),
            node("far", ASHBURN, capacity=1, warm_models=("tiny",)),
            node("store", PARIS, roles={"storage"}, stored_models=("llama-8b",)),
        ),
        models=(TINY, BIG),
    )
    st = RouterState.from_scenario(sc)
    got = [route(Request("tiny", *PARIS, policy="least-loaded"), st).executor for _ in range(2)]
    assert got == ["near", "far"]
    # latency-only adds a fixed 10 s when the model is not loaded: the slow fetch is not modelled
    r = route(Request("llama-8b", *PARIS, policy="latency-only"), st, commit=False)
    assert r.executor == "near"


# -- pluggable scorers and policies ---------------------------------------------------------------------
def test_user_registered_scorer_drives_a_weighted_policy() -> None:
    sc = Scenario(
        nodes=(
            node("paris", PARIS, warm_models=("tiny",)),
            node("ashburn", ASHBURN, warm_models=("tiny",)),
        ),
        models=(TINY,),
    )
    register_scorer("west_of_greenwich", lambda ctx: ctx.state.arrays.lon, replace=True)
    try:
        register_policy(weighted_policy("westward", {"west_of_greenwich": 1.0}), replace=True)
        st = RouterState.from_scenario(sc)
        assert route(Request("tiny", *PARIS, policy="westward"), st).executor == "ashburn"
        with pytest.raises(RoutingError, match="already registered"):
            register_scorer("west_of_greenwich", lambda ctx: ctx.rtt_ms)
    finally:
        SCORERS.pop("west_of_greenwich", None)
        POLICIES.pop("westward", None)


def test_reliability_scorer_reads_failure_probabilities() -> None:
    sc = Scenario(
        nodes=(
            node("risky", PARIS, provider="hetzner", warm_models=("tiny",)),
            node("safe", (48.9, 2.4), provider="ovh", warm_models=("tiny",)),
        ),
        models=(TINY,),
        failures={"provider": {"default": 0.01, "values": {"hetzner": 0.2}}},
    )
    st = RouterState.from_scenario(sc)
    assert st.fail_prob.tolist() == pytest.approx([0.2, 0.01])
    policy = weighted_policy("reliable", {"time": 1.0, "reliability": 1e5})
    register_policy(policy, replace=True)
    try:
        assert route(Request("tiny", *PARIS, policy="reliable"), st, commit=False).executor == "safe"
        assert route(Request("tiny", *PARIS), st, commit=False).executor == "risky"
    finally:
        POLICIES.pop("reliable", None)


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lat": 91.0}, "lat: must be within [-90, 90] degrees (got 91.0)"),
        ({"lon": math.nan}, "lon: must be within [-180, 180] degrees (got nan)"),
        ({"verification": "magic"}, "verification: unknown mode 'magic'"),
        ({"verification": "tee"}, "verifiers: verification 'tee' needs at least 1 verifier (got 0)"),
        ({"verifiers": 2}, "verifiers: verification 'none' takes no verifiers (got 2)"),
        ({"slo_ms": -1.0}, "slo_ms: must be a positive number of ms or None (got -1.0)"),
    ],
)
def test_bad_request_fields_are_named(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"model": "tiny", "lat": 0.0, "lon": 0.0, **kwargs}
    with pytest.raises(RoutingError) as info:
        Request(**args)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert isinstance(info.value, NodeplanError)


def test_unknown_model_policy_and_mode_errors_name_the_value() -> None:
    st = RouterState.from_scenario(warm_vs_cold())
    with pytest.raises(RoutingError, match=r"model: unknown model 'llama8b' \(close matches: llama-8b"):
        route(Request("llama8b", *PARIS), st)
    with pytest.raises(RoutingError, match="policy: unknown policy 'fastest'"):
        route(Request("tiny", *PARIS, policy="fastest"), st)
    with pytest.raises(RoutingError, match="does not support 'zkml'"):
        route(Request("llama-8b", *PARIS, verification="zkml", verifiers=1), st)
    with pytest.raises(RoutingError, match="node: unknown node id 'nowhere'"):
        st.set_down("nowhere")


def test_batch_error_names_the_request_position() -> None:
    st = RouterState.from_scenario(warm_vs_cold())
    st.set_down("frankfurt-store")
    st.set_down("ashburn")
    with pytest.raises(NoRouteError, match=r"^requests\[0\]: no live node"):
        route_batch([Request("tiny", *PARIS)], st)


def test_to_dict_is_json_ready() -> None:
    import json

    st = RouterState.from_scenario(verifier_scenario())
    r = route(Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1), st)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["executor"] == "exec"
    assert d["verifiers"] == ["v-gcp"]
    parts = d["time_ms"]
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"))
    assert d["independence"]["compliant"] is True


def test_state_copy_is_independent_and_replays_the_same_random_draws() -> None:
    sc = Scenario(nodes=tuple(node(f"n{i}", PARIS, warm_models=("tiny",)) for i in range(6)), models=(TINY,))
    st = RouterState.from_scenario(sc, seed=11)
    twin = st.copy()
    a = [route(Request("tiny", *PARIS, policy="random"), st).executor for _ in range(5)]
    assert all(twin.in_flight_of(f"n{i}") == 0 for i in range(6))
    b = [route(Request("tiny", *PARIS, policy="random"), twin).executor for _ in range(5)]
    assert a == b


# -- batches: commits inside a batch change later answers exactly as one-by-one routing ------------------
def test_batch_sees_the_cold_start_of_an_earlier_request() -> None:
    reqs = [Request("tiny", *PARIS)] * 3
    got = list(route_batch(reqs, RouterState.from_scenario(warm_vs_cold())))
    assert [r.executor for r in got] == ["paris"] * 3
    # the first pays RTT to Frankfurt + 10 MB / 1.25 GB/s + 10 ms load; the next two find it warm
    assert got[0].time.cold_start_ms == pytest.approx(public_ms(PARIS, FRANKFURT) + 18.0, rel=1e-6)
    assert [r.time.cold_start_ms for r in got[1:]] == [0.0, 0.0]


def test_batch_sees_queues_form_on_a_full_executor() -> None:
    sc = Scenario(
        nodes=(
            node("near", PARIS, capacity=1, warm_models=("tiny",)),
            node("far", ASHBURN, capacity=1, warm_models=("tiny",)),
        ),
        models=(TINY,),
    )
    got = list(route_batch([Request("tiny", *PARIS)] * 3, RouterState.from_scenario(sc)))
    # each request routed to "near" adds one 0.02 s call ahead on its single slot; a wait of 20 or 40 ms
    # still beats the ~80 ms RTT to Ashburn, so all three go near, with growing queue waits
    assert [r.executor for r in got] == ["near", "near", "near"]
    assert [r.time.queue_ms for r in got] == pytest.approx([0.0, 20.0, 40.0])


def test_batch_reexec_verifiers_see_the_slots_taken_by_earlier_requests() -> None:
    m = Model(id="m0", size_bytes=100_000_000, service_s={"gpu": 0.5}, verification={"reexec": 2.0})
    sc = Scenario(
        nodes=(
            node("e", PARIS, provider="aws", warm_models=("m0",)),
            node(
                "v-paris",
                PARIS,
                roles={"verification"},
                capacity=1,
                provider="hetzner",
                warm_models=("m0",),
                verification_modes={"reexec"},
            ),
            node(
                "v-frankfurt",
                FRANKFURT,
                roles={"verification"},
                capacity=1,
                provider="ovh",
                warm_models=("m0",),
                verification_modes={"reexec"},
            ),
        ),
        models=(m,),
    )
    got = list(route_batch([Request("m0", *PARIS, "reexec", 1)] * 3, RouterState.from_scenario(sc)))
    # v-paris is nearest; once its single slot is taken, a re-run there waits 0.5 s, so the 2nd goes to
    # Frankfurt (~8 ms further); the 3rd finds both busy and takes Paris again with one call ahead
    assert [r.verifiers for r in got] == [("v-paris",), ("v-frankfurt",), ("v-paris",)]
    assert got[2].time.verification_ms == pytest.approx(got[0].time.verification_ms + 500.0)


# -- measured RTT matrix ----------------------------------------------------------------------------------
def test_measured_hop_rtt_changes_the_verifier() -> None:
    from nodeplan.model.rtt import MeasuredRtt

    sc = verifier_scenario()
    sydney = node(
        "v-sydney",
        (-33.87, 151.21),
        roles={"verification"},
        provider="azure",
        asn=8075,
        operator="d",
        verification_modes={"tee"},
    )
    sc = sc.model_copy(update={"nodes": (*sc.nodes, sydney)})
    req = Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1)
    fitted = route(req, RouterState.from_scenario(sc), commit=False)
    assert fitted.verifiers == ("v-gcp",)  # Paris is ~480 km away by the fit, Sydney ~16,500 km
    rtt = default_rtt_model().with_measured(MeasuredRtt.from_pairs({("exec", "v-sydney"): 2.0}))
    measured = route(req, RouterState.from_scenario(sc, rtt=rtt), commit=False)
    assert measured.verifiers == ("v-sydney",)
    assert measured.time.verification_ms == pytest.approx(2.0 + 5.0)  # measured hop + attestation check


def test_measured_user_rtt_applies_to_a_named_origin_in_single_and_batch_routes() -> None:
    from nodeplan.model.rtt import MeasuredRtt

    rtt = default_rtt_model().with_measured(MeasuredRtt.from_pairs({("Paris", "ashburn"): 1.5}))
    st = RouterState.from_scenario(warm_vs_cold(), rtt=rtt)
    named = Request("tiny", *PARIS, policy="nearest", origin="Paris")
    assert route(named, st, commit=False).executor == "ashburn"
    assert route(named, st, commit=False).time.network_ms == 1.5
    unnamed = Request("tiny", *PARIS, policy="nearest")
    assert route(unnamed, st, commit=False).executor == "paris"
    # nodeplan: tiny is warm in Ashburn; at 1.5 ms it now beats the cold start in Paris
    batch = route_batch([Request("tiny", *PARIS, origin="Paris"), Request("tiny", *PARIS)], st, commit=False)
    assert [r.executor for r in batch] == ["ashburn", "paris"]


# -- executors beyond the first 4 --------------------------------------------------------------------------
def only_sixth_has_an_independent_verifier() -> Scenario:
    """Six warm TEE executors at growing distance from Paris; five on AWS like the only verifier."""
    spots = [PARIS, (50.85, 4.35), FRANKFURT, (51.51, -0.13), (52.23, 21.01), ASHBURN]
    execs = tuple(
        node(
            f"e{k + 1}",
            at,
            provider="gcp" if k == 5 else "aws",
            warm_models=("llama-8b",),
            verification_modes={"none", "tee"},
        )
        for k, at in enumerate(spots)
    )
    verifier = node("v", (48.0, 11.0), roles={"verification"}, provider="aws", verification_modes={"tee"})
    return Scenario(nodes=(*execs, verifier), models=(BIG,))


def test_nodeplan_scans_past_the_four_best_executors_for_an_independent_verifier() -> None:
    import dataclasses

    sc = only_sixth_has_an_independent_verifier()
    req = Request("llama-8b", *PARIS, verification="tee", verifiers=1)
    r = route(req, RouterState.from_scenario(sc), commit=False)
    # e1..e5 share the provider with v (degraded); the 4 best are e1..e4, the next block e5, e6
    assert r.executor == "e6"
    assert r.verifiers == ("v",)
    assert not r.degraded
    assert r.independence.compliant
    # with the scan capped at 5 executors the compliant route is out of reach, and the route says so
    capped = dataclasses.replace(POLICIES["nodeplan"], name="nodeplan-5", executor_scan_limit=5)
    register_policy(capped, replace=True)
    try:
        r5 = route(Request("llama-8b", *PARIS, "tee", 1, policy="nodeplan-5"), RouterState.from_scenario(sc))
    finally:
        POLICIES.pop("nodeplan-5", None)
    assert r5.executor == "e1"
    assert r5.degraded
    assert r5.reason.endswith("(tried 5 executor(s) in cost order)")
    # exact equality, floats included: batch and route() read the same state arrays through the same
    # functions, and RTT rows are bit-identical alone or together (test_routing_properties.py)
    assert route_batch([req, req], RouterState.from_scenario(sc), commit=False)[1] == r
