"""Routing policies on hand-made scenarios where each policy's answer is derived by hand.

Times use the shipped public-internet fit (4.5755 ms + 0.0286494 ms/km up to 1,000 km, then 0.016731
ms/km; fitted on WonderProxy pings) and, between two nodes of one provider, the backbone fit (0 ms +
0.0211144 ms/km up to 1,000 km, then 0.0153338 ms/km; AWS inter-region p50 net of the measuring method's
overhead). Great-circle km from :func:`great_circle_km`; :func:`public_ms` and :func:`backbone_ms` evaluate
the shipped fits.
"""

from __future__ import annotations

from collections import Counter

import pytest

from nodeplan.model.rtt import default_rtt_model
from nodeplan.routing import BASELINES, POLICIES, Request, RouterState, route, route_batch
from nodeplan.scenario.model import Model, Policy, Scenario

from .routing_builders import ASHBURN, FRANKFURT, PARIS, backbone_ms, node, public_ms

BRUSSELS = (50.8503, 4.3517)
A_MS = 4.5755  # the public fit at 0 km (its intercept): a user on the node's own site
LONDON = (51.5074, -0.1278)
SYDNEY = (-33.8688, 151.2093)

BIG = Model(
    id="llama-8b",
    size_bytes=16_000_000_000,
    load_s=8.0,
    init_s=12.0,
    service_s={"gpu": 0.5},
    verification={"none": 1.0, "tee": 2.5},
)
TINY = Model(id="tiny", size_bytes=10_000_000, load_s=0.01, service_s={"gpu": 0.02})


def test_fit_coefficients_are_the_shipped_ones() -> None:
    # the hand computations below read these; a refit must update the comments of this file
    fit = default_rtt_model()
    assert (fit.public.intercept_ms, fit.public.breaks_km, fit.public.ms_per_km) == (
        4.5755,
        (1000.0,),
        (0.0286494, 0.016731),
    )
    assert (fit.backbone.intercept_ms, fit.backbone.breaks_km, fit.backbone.ms_per_km) == (
        0.0,
        (1000.0,),
        (0.0211144, 0.0153338),
    )
    assert public_ms(PARIS, PARIS) == A_MS


# -- 3. every built-in policy gives its own answer -------------------------------------------------------
M = Model(id="m", size_bytes=100_000_000, service_s={"gpu": 0.05})
OTHER = Model(id="other", size_bytes=0, service_s={"gpu": 0.01})  # only used to put requests in flight


def five_answers() -> Scenario:
    """A user in Paris asks for ``m`` (100 MB, 0.05 s); one node per policy's answer.

    ========== ========= ===== ===== ===== ========= ==========================================
    node       where     warm  slots USD/h in flight why
    ========== ========= ===== ===== ===== ========= ==========================================
    near-cold  Paris     no    4     2     1         nearest (RTT at 0 km = 4.58 ms)
    warm-busy  Brussels  yes   1     2     1         latency-only: ignores its 50 ms queue
    london     London    yes   4     2     1         nodeplan: warm, no queue
    cheap-far  Sydney    yes   4     0.1   1         cheapest among warm nodes
    idle       Ashburn   yes   4     9     0         least-loaded (the only one with 0 in flight)
    store      Frankfurt storage only, holds ``m``
    ========== ========= ===== ===== ===== ========= ==========================================
    """
    warm = ("m", "other")
    return Scenario(
        nodes=(
            node("near-cold", PARIS, price_usd_per_hour=2.0, warm_models=("other",)),
            node("warm-busy", BRUSSELS, capacity=1, price_usd_per_hour=2.0, warm_models=warm),
            node("london", LONDON, price_usd_per_hour=2.0, warm_models=warm),
            node("cheap-far", SYDNEY, price_usd_per_hour=0.1, warm_models=warm),
            node("idle", ASHBURN, price_usd_per_hour=9.0, warm_models=warm),
            node("store", FRANKFURT, roles={"storage"}, stored_models=("m",)),
        ),
        models=(M, OTHER),
    )


def _occupied_state() -> RouterState:
    """One request of ``other`` in flight on every node but ``idle`` (each sent from the node's place)."""
    st = RouterState.from_scenario(five_answers())
    for nid, at in (("near-cold", PARIS), ("warm-busy", BRUSSELS), ("london", LONDON), ("cheap-far", SYDNEY)):
        assert route(Request("other", *at, policy="nearest"), st).executor == nid
    assert [st.in_flight_of(n) for n in ("near-cold", "warm-busy", "london", "cheap-far", "idle")] == [
        1,
        1,
        1,
        1,
        0,
    ]
    return st


def test_each_builtin_policy_gives_its_own_hand_derived_answer() -> None:
    st = _occupied_state()
    got = {name: route(Request("m", *PARIS, policy=name), st, commit=False) for name in POLICIES}
    for name, r in got.items():
        assert r.policy == name
    expected = {
        "nearest": "near-cold",
        "cheapest": "cheap-far",
        "least-loaded": "idle",
        "latency-only": "warm-busy",
        "nodeplan": "london",
    }
    assert {name: got[name].executor for name in expected} == expected
    assert len(set(expected.values())) == 5
    assert got["random"].executor in {"near-cold", "warm-busy", "london", "cheap-far", "idle"}
    assert set(BASELINES) >= set(expected) - {"nodeplan"}

    # nearest: RTT Paris -> Paris = the fit at 0 km; it pays the pull from Frankfurt: RTT + 100 MB at
    # 10 Gbit/s (1.25 GB/s: the 64 MiB window allows 3.7 GB/s at 18.3 ms) = RTT + 80 ms
    near = got["nearest"].time
    assert near.network_ms == pytest.approx(A_MS, abs=1e-4)
    assert near.cold_start_ms == pytest.approx(public_ms(PARIS, FRANKFURT) + 80.0, rel=1e-9)
    assert got["nearest"].source == "store"
    # latency-only scores RTT + service only (warm-busy: 12.14 + 50 < london: 14.42 + 50) and so lands
    # behind the request in flight on warm-busy's single slot: a 50 ms queue it never looked at
    lo = got["latency-only"].time
    assert public_ms(PARIS, BRUSSELS) + 50.0 < public_ms(PARIS, LONDON) + 50.0
    assert lo.queue_ms == pytest.approx(50.0)
    assert lo.total_ms == pytest.approx(public_ms(PARIS, BRUSSELS) + 50.0 + 50.0, rel=1e-6)
    # nodeplan: london 14.42 + 50 beats warm-busy 12.14 + 50 + 50 and near-cold 4.58 + 98.27 + 50
    np_ = got["nodeplan"].time
    assert np_.total_ms == pytest.approx(public_ms(PARIS, LONDON) + 50.0, rel=1e-6)
    assert np_.total_ms < min(
        lo.total_ms, near.total_ms, got["least-loaded"].total_ms, got["cheapest"].total_ms
    )
    # cheapest: 0.1 USD/h over 4 slots for 0.05 s, at Sydney's RTT
    assert got["cheapest"].price_usd == pytest.approx(0.1 / 4 * 0.05 / 3600.0)
    assert got["cheapest"].time.network_ms == pytest.approx(public_ms(PARIS, SYDNEY), rel=1e-6)
    # least-loaded: Ashburn, idle, at its RTT
    assert got["least-loaded"].time.network_ms == pytest.approx(public_ms(PARIS, ASHBURN), rel=1e-6)
    # the batch router gives the same answers (nodeplan vectorised, the others one by one)
    batch = route_batch([Request("m", *PARIS, policy=name) for name in expected], st, commit=False)
    assert [b.executor for b in batch] == list(expected.values())


# -- 4. latency-only's fixed +10 s cache penalty (Petals) ---------------------------------------------------
def test_latency_only_cache_penalty_sends_a_tiny_model_to_a_far_warm_node() -> None:
    sc = Scenario(
        nodes=(
            node("near-cold", PARIS),
            node("far-warm", ASHBURN, warm_models=("tiny",)),
            node("store", PARIS, roles={"storage"}, stored_models=("tiny",)),
        ),
        models=(TINY,),
    )
    st = RouterState.from_scenario(sc)
    lo = route(Request("tiny", *PARIS, policy="latency-only"), st, commit=False)
    npl = route(Request("tiny", *PARIS), st, commit=False)
    # latency-only: near 4.58 + 20 + 10,000 (not cached) vs far 119.99 + 20: the penalty is larger than
    # the ~115.4 ms RTT gap, so it goes to Ashburn
    assert lo.executor == "far-warm"
    assert lo.time.cold_start_ms == 0.0
    far_total = public_ms(PARIS, ASHBURN) + 20.0
    assert lo.total_ms == pytest.approx(far_total, rel=1e-6)
    assert public_ms(PARIS, ASHBURN) - A_MS < 10_000.0  # the RTT gap the penalty outweighs
    # nodeplan: the real cold start of 10 MB from the Paris store is RTT 4.58 + 8 ms (1.25 GB/s) + 10 ms
    # load, so the near node finishes in 4.58 + 22.58 + 20 = 47.15 ms
    assert npl.executor == "near-cold"
    assert npl.source == "store"
    assert npl.time.cold_start_ms == pytest.approx(A_MS + 8.0 + 10.0, rel=1e-9)
    assert npl.total_ms == pytest.approx(A_MS + (A_MS + 18.0) + 20.0, abs=1e-3)
    assert far_total - npl.total_ms == pytest.approx(
        public_ms(PARIS, ASHBURN) - A_MS - (A_MS + 18.0), abs=1e-3
    )


# -- 5. random: uniform over live nodes, seeded ---------------------------------------------------------
def _random_picks(seed: int, picks: int) -> list[str]:
    sc = Scenario(nodes=tuple(node(f"n{i}", PARIS, warm_models=("tiny",)) for i in range(11)), models=(TINY,))
    st = RouterState.from_scenario(sc, seed=seed)
    st.set_down("n5")
    req = Request("tiny", *PARIS, policy="random")
    return [route(req, st, commit=False).executor for _ in range(picks)]


def test_random_policy_is_uniform_over_live_nodes_and_seeded() -> None:
    picks = _random_picks(3, 2_000)
    counts = Counter(picks)
    assert "n5" not in counts  # down: never picked
    live = [f"n{i}" for i in range(11) if i != 5]
    # Binomial(2000, 0.1): mean 200, sd 13.4; [150, 250] is +-3.7 sd
    assert {n: 150 <= counts[n] <= 250 for n in live} == dict.fromkeys(live, True)
    assert sum(counts.values()) == 2_000
    assert _random_picks(3, 2_000) == picks  # same seed, same sequence
    assert _random_picks(4, 2_000) != picks  # another seed, another sequence


# -- 6. price: tie-breaker, then weighted ----------------------------------------------------------------
def test_price_breaks_a_tie_between_identical_warm_nodes() -> None:
    sc = Scenario(
        nodes=(  # the dearer node is listed first, so a row-order tie-break would pick it
            node("dear", PARIS, capacity=1, price_usd_per_hour=3.0, warm_models=("tiny",)),
            node("cheap", PARIS, capacity=1, price_usd_per_hour=1.0, warm_models=("tiny",)),
        ),
        models=(TINY,),
    )
    st = RouterState.from_scenario(sc)
    r = route(Request("tiny", *PARIS), st, commit=False)
    assert r.executor == "cheap"
    assert r.price_usd == pytest.approx(1.0 * 0.02 / 3600.0)
    assert [b.executor for b in route_batch([Request("tiny", *PARIS)] * 2, st, commit=False)] == ["cheap"] * 2


FAST_SLOW = Model(id="m", size_bytes=0, service_s={"a100": 0.050, "l4": 0.060})
# fast: 10 USD/h x 0.05 s / 3600 = 1.3889e-4 USD; slow: 1 USD/h x 0.06 s / 3600 = 1.6667e-5 USD.
# slow is 10 ms slower and 0.44 / 3600 USD cheaper: it wins once 1 USD is worth more than
# 10 ms / (0.44 / 3600 USD) = 81,818.18 ms.
THRESHOLD_MS_PER_USD = 10.0 / (0.44 / 3600.0)


@pytest.mark.parametrize(
    ("weight", "winner"),
    [(0.0, "fast"), (0.99 * THRESHOLD_MS_PER_USD, "fast"), (1.01 * THRESHOLD_MS_PER_USD, "slow")],
)
def test_price_weight_lets_a_slightly_slower_much_cheaper_node_win(weight: float, winner: str) -> None:
    assert round(THRESHOLD_MS_PER_USD, 2) == 81_818.18
    sc = Scenario(
        nodes=(
            node("fast", PARIS, capacity=1, hardware="a100", price_usd_per_hour=10.0, warm_models=("m",)),
            node("slow", PARIS, capacity=1, hardware="l4", price_usd_per_hour=1.0, warm_models=("m",)),
        ),
        models=(FAST_SLOW,),
        policy=Policy(price_weight_ms_per_usd=weight),
    )
    st = RouterState.from_scenario(sc)
    r = route(Request("m", *PARIS), st, commit=False)
    assert r.executor == winner
    service = {"fast": 50.0, "slow": 60.0}[winner]
    price = {"fast": 10.0 * 0.05 / 3600.0, "slow": 1.0 * 0.06 / 3600.0}[winner]
    assert r.time.service_ms == pytest.approx(service)
    assert r.price_usd == pytest.approx(price)
    assert route_batch([Request("m", *PARIS)], st, commit=False)[0].executor == winner


# -- 7. configurable independence dimensions (issue 5.3) ------------------------------------------------
V_AWS2 = (50.12, 8.70)  # 1.6 km from the Frankfurt executor


def _asn_scenario(dims: tuple[str, ...] | None, with_gcp: bool) -> Scenario:
    """Executor on AWS (ASN 16509) in Frankfurt; v-aws2 on AWS too but another ASN (14618) and operator."""
    nodes = [
        node(
            "exec",
            FRANKFURT,
            provider="aws",
            asn=16509,
            operator="a",
            warm_models=("llama-8b",),
            verification_modes={"none", "tee"},
        ),
        node(
            "v-aws2",
            V_AWS2,
            roles={"verification"},
            provider="aws",
            asn=14618,
            operator="b",
            verification_modes={"tee"},
        ),
    ]
    if with_gcp:
        nodes.append(
            node(
                "v-gcp",
                PARIS,
                roles={"verification"},
                provider="gcp",
                asn=15169,
                operator="c",
                verification_modes={"tee"},
            )
        )
    policy = Policy() if dims is None else Policy(independence=dims)
    return Scenario(nodes=tuple(nodes), models=(BIG,), policy=policy)


@pytest.mark.parametrize("with_gcp", [True, False])
def test_asn_only_independence_accepts_a_verifier_that_shares_only_the_provider(with_gcp: bool) -> None:
    req = Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1)
    r = route(req, RouterState.from_scenario(_asn_scenario(("asn",), with_gcp)), commit=False)
    assert r.verifiers == ("v-aws2",)  # the nearest verifier, now acceptable
    assert not r.degraded
    assert r.reason == ""
    assert r.independence.dims == ("asn",)
    assert r.independence.compliant
    assert r.independence.pairs[0].shared == ()
    # both on AWS: the hop takes the backbone fit, 0 + 0.0211144 x 1.6 km, + 5 ms attestation check
    # (the router's arccos puts a 1.6 km hop within 0.002 ms of haversine)
    assert r.time.verification_ms == pytest.approx(backbone_ms(FRANKFURT, V_AWS2) + 5.0, abs=0.002)


@pytest.mark.parametrize("with_gcp", [True, False])
def test_default_dimensions_reject_a_verifier_that_shares_the_provider(with_gcp: bool) -> None:
    req = Request("llama-8b", *FRANKFURT, verification="tee", verifiers=1)
    r = route(req, RouterState.from_scenario(_asn_scenario(None, with_gcp)), commit=False)
    assert r.independence.dims == ("provider", "asn", "operator", "data_center", "tee_vendor")
    if with_gcp:
        assert r.verifiers == ("v-gcp",)
        assert not r.degraded
        assert r.time.verification_ms == pytest.approx(public_ms(FRANKFURT, PARIS) + 5.0, rel=1e-6)
    else:  # the only verifier shares the provider: degraded, said so, best available kept
        assert r.verifiers == ("v-aws2",)
        assert r.degraded
        assert "provider (exec~v-aws2)" in r.reason
        assert r.independence.pairs[0].shared == ("provider",)


# -- 8. zkML ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [100.0, 1000.0])
def test_zkml_multiplies_service_by_the_models_factor_and_adds_the_proof_check(factor: float) -> None:
    zk = Model(
        id="zk",
        size_bytes=100_000_000,
        service_s={"gpu": 0.01},
        verification={"none": 1.0, "zkml": factor},
    )
    sc = Scenario(
        nodes=(
            # nearest and warm, but it cannot produce a proof
            node("near-nozk", PARIS, provider="ovh", warm_models=("zk",), verification_modes={"none"}),
            node(
                "exec",
                FRANKFURT,
                capacity=2,
                price_usd_per_hour=4.0,
                provider="aws",
                warm_models=("zk",),
                verification_modes={"none", "zkml"},
            ),
            # next to the executor, but checks TEE attestations only
            node("v-tee", FRANKFURT, roles={"verification"}, provider="hetzner", verification_modes={"tee"}),
            node(
                "v-zk",
                PARIS,
                roles={"verification"},
                capacity=1,
                price_usd_per_hour=1.8,
                provider="gcp",
                verification_modes={"zkml"},
            ),
        ),
        models=(zk,),
    )
    st = RouterState.from_scenario(sc)
    assert route(Request("zk", *PARIS), st, commit=False).executor == "near-nozk"
    req = Request("zk", *PARIS, verification="zkml", verifiers=1)
    r = route(req, st, commit=False)
    assert r.executor == "exec"
    assert r.verifiers == ("v-zk",)
    assert not r.degraded
    t = r.time
    assert t.network_ms == pytest.approx(public_ms(PARIS, FRANKFURT), rel=1e-6)
    assert t.service_ms == pytest.approx(10.0 * factor)  # 0.01 s x the model's zkML factor
    assert t.cold_start_ms == 0.0
    # executor -> verifier over the public internet (aws vs gcp) + 200 ms proof check
    assert t.verification_ms == pytest.approx(public_ms(FRANKFURT, PARIS) + 200.0, rel=1e-6)
    # executor: 4 USD/h / 2 slots x 0.01 s x factor; verifier: 1.8 USD/h / 1 slot x 0.2 s
    assert r.price_usd == pytest.approx((4.0 / 2 * 0.01 * factor + 1.8 * 0.2) / 3600.0)
    assert route_batch([req], st, commit=False)[0] == r  # exact: same arrays, same functions as route()
