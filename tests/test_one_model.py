"""One model of the network: the router, the audit's serving check and the failure table agree.

Hypothesis draws small scenarios with demand; the checks compare parts of nodeplan that used to keep
their own copies of the time model, the verifier rule and the dependency codes:

* for the healthy network, the audit's "served within SLO" and "independently verified within SLO" for
  every source and demand class equal what ``route()`` reports for that request (``meets_slo``, and
  ``meets_slo`` with a non-degraded route), with the audit's planning load set on the router's state;
* removing nodes never raises served or verified, per source and in total;
* the router calls an executor-verifier pair independent exactly when no failure-table row of an
  independence dimension takes down both (codes completed once, provider from ASN included);
* the verifier rule picks the compliant set with the smallest bottleneck, checked against brute force.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nodeplan import audit_scenario
from nodeplan.exceptions import NoRouteError, ScenarioError
from nodeplan.metrics.serving import ServingModel
from nodeplan.model.codes import compile_network
from nodeplan.model.independence import SelectionStatus, independence_report, select_independent
from nodeplan.model.rtt import default_rtt_model
from nodeplan.routing import Request, RouterState, route
from nodeplan.scenario.model import (
    DemandClass,
    DemandSource,
    Model,
    Node,
    NodeStatus,
    Policy,
    Role,
    Scenario,
    VerificationMode,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POINTS = ((48.86, 2.35), (50.11, 8.68), (39.04, -77.49), (35.68, 139.69), (-33.87, 151.21), (1.35, 103.82))
RTT = default_rtt_model()


@st.composite
def scenarios(draw: st.DrawFn, price_weight: float | None = None) -> Scenario:
    """Small networks with sources and demand; every part of the time model can matter."""
    models = []
    for j in range(draw(st.integers(1, 2))):
        models.append(
            Model(
                id=f"m{j}",
                size_bytes=draw(st.sampled_from([0, 2_000_000_000, 16_000_000_000])),
                load_s=draw(st.sampled_from([0.0, 2.0])),
                service_s={"gpu": draw(st.sampled_from([0.05, 0.3])), "cpu": 0.4},
                verification={"none": 1.0, "tee": 2.0, "reexec": 2.0, "zkml": 100.0},
            )
        )
    nodes = []
    for i in range(draw(st.integers(2, 8))):
        lat, lon = draw(st.sampled_from(POINTS))
        nodes.append(
            Node(
                id=f"n{i}",
                lat=lat,
                lon=lon,
                roles=draw(st.sets(st.sampled_from(list(Role)[:3]), min_size=1)),
                capacity=draw(st.integers(0, 4)),
                hardware=draw(st.sampled_from(["gpu", "cpu"])),
                gpu_memory_gb=40.0,
                price_usd_per_hour=draw(st.sampled_from([0.0, 1.0, 4.0])),
                warm_models=tuple(m.id for m in models if draw(st.booleans())),
                stored_models=tuple(m.id for m in models if draw(st.booleans())),
                verification_modes=draw(st.sets(st.sampled_from(list(VerificationMode)), min_size=1)),
                status=draw(st.sampled_from([NodeStatus.UP, NodeStatus.UP, NodeStatus.UP, NodeStatus.DOWN])),
                provider=draw(st.sampled_from([None, "aws", "hetzner", "ovh"])),
                asn=draw(st.sampled_from([None, 16509, 24940, 64512])),
                operator=draw(st.sampled_from([None, "a", "b", "c"])),
                data_center=draw(st.sampled_from([None, "dc1", "dc2"])),
            )
        )
    sources = tuple(
        DemandSource(name=f"s{k}", lat=p[0], lon=p[1], weight=draw(st.sampled_from([0.5, 1.0, 3.0])))
        for k, p in enumerate(draw(st.lists(st.sampled_from(POINTS), min_size=1, max_size=3)))
    )
    demand = []
    for _ in range(draw(st.integers(1, 3))):
        mode = draw(st.sampled_from(list(VerificationMode)))
        demand.append(
            DemandClass(
                model=draw(st.sampled_from([m.id for m in models])),
                rate_rps=draw(st.sampled_from([0.0, 0.5, 2.0, 6.0])),
                slo_ms=draw(st.sampled_from([150.0, 400.0, 1_000.0, 5_000.0, 60_000.0])),
                verification=mode,
                verifiers=0 if mode is VerificationMode.NONE else draw(st.integers(1, 2)),
            )
        )
    w = draw(st.sampled_from([0.0, 200.0])) if price_weight is None else price_weight
    try:
        return Scenario(
            nodes=tuple(nodes),
            models=tuple(models),
            sources=sources,
            demand=tuple(demand),
            policy=Policy(price_weight_ms_per_usd=w),
        )
    except ScenarioError:
        assume(False)
        raise


@st.composite
def contested(draw: st.DrawFn, price_weight: float | None = None) -> Scenario:
    """Networks where the independent verifier is often far and a same-provider one near, with SLOs
    between the two routes' times: the cases where "served" and "verified" part ways."""
    model = Model(
        id="m",
        size_bytes=0,
        service_s={"gpu": 0.05, "cpu": 0.1},
        verification={"none": 1.0, "tee": 2.0, "reexec": 2.0, "zkml": 3.0},
    )
    nodes = []
    for i in range(draw(st.integers(2, 7))):
        lat, lon = draw(st.sampled_from(POINTS[:2] + POINTS[3:4]))
        nodes.append(
            Node(
                id=f"n{i}",
                lat=lat,
                lon=lon,
                roles=draw(st.sampled_from([{"execution"}, {"verification"}, {"execution", "verification"}])),
                capacity=draw(st.integers(1, 3)),
                hardware=draw(st.sampled_from(["gpu", "cpu"])),
                price_usd_per_hour=draw(st.sampled_from([0.0, 2.0])),
                warm_models=("m",),
                verification_modes={"tee", "zkml", "reexec", "none"},
                status=draw(st.sampled_from([NodeStatus.UP, NodeStatus.UP, NodeStatus.UP, NodeStatus.DOWN])),
                provider=draw(st.sampled_from(["aws", "ovh"])),
            )
        )
    demand = []
    for _ in range(draw(st.integers(1, 2))):
        mode = draw(st.sampled_from([VerificationMode.TEE, VerificationMode.REEXEC, VerificationMode.ZKML]))
        demand.append(
            DemandClass(
                model="m",
                rate_rps=draw(st.sampled_from([1.0, 8.0, 20.0])),
                slo_ms=draw(st.sampled_from([140.0, 180.0, 260.0, 400.0, 700.0])),
                verification=mode,
                verifiers=draw(st.integers(1, 2)),
            )
        )
    w = draw(st.sampled_from([0.0, 5_000.0])) if price_weight is None else price_weight
    try:
        return Scenario(
            nodes=tuple(nodes),
            models=(model,),
            sources=(DemandSource(name="paris", lat=48.86, lon=2.35),),
            demand=tuple(demand),
            policy=Policy(price_weight_ms_per_usd=w),
        )
    except ScenarioError:
        assume(False)
        raise


def _serving(sc: Scenario) -> ServingModel:
    a = compile_network(sc)
    return ServingModel(sc, a, a.dim_codes, RTT)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=st.one_of(scenarios(), contested()))
def test_audit_served_and_verified_equal_the_routers_answer_for_every_source(sc: Scenario) -> None:
    sm = _serving(sc)
    none = np.zeros(sm.net.n_nodes, dtype=bool)
    outs = sm.class_outcomes(none)
    lam, s_eff = sm.planning_load(sm.live)
    state = RouterState.from_scenario(sc, rtt=RTT)
    for i in np.flatnonzero(lam > 0):
        state.set_load(state.arrays.node_ids[i], float(lam[i]), float(s_eff[i]))
    for co in outs:
        d = co.demand
        for k, src in enumerate(sc.sources):
            req = Request(
                d.model, src.lat, src.lon, d.verification, d.verifiers, d.slo_ms, "nodeplan", src.name
            )
            try:
                r = route(req, state, commit=False)
            except NoRouteError:
                assert not co.served[k]
                continue
            assert bool(co.served[k]) == r.meets_slo, (d, src, r)
            if co.verified is not None:
                assert bool(co.verified[k]) == (r.meets_slo and not r.degraded), (d, src, r)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=st.one_of(scenarios(price_weight=0.0), contested(price_weight=0.0)), data=st.data())
def test_removing_nodes_never_raises_served_or_verified(sc: Scenario, data: st.DataObject) -> None:
    sm = _serving(sc)
    n = sm.net.n_nodes
    first = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    more = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    steps = [np.zeros(n, dtype=bool), first, first | more]
    before = None
    for down in steps:
        outs = sm.class_outcomes(down)
        total = sm.outcome(down)
        if before is not None:
            prev_outs, prev_total = before
            for a, b in zip(prev_outs, outs, strict=True):
                assert not np.any(b.served & ~a.served)
                if a.verified is not None and b.verified is not None:
                    assert not np.any(b.verified & ~a.verified)
            for x, y in (
                (prev_total.demand_served, total.demand_served),
                (prev_total.verified, total.verified),
            ):
                if x is not None and y is not None:
                    assert y <= x + 1e-12
        before = (outs, total)


def _pair_scenario(data: st.DataObject) -> Scenario:
    nodes = []
    for i in range(data.draw(st.integers(2, 6))):
        nodes.append(
            Node(
                id=f"n{i}",
                lat=0.0,
                lon=float(i),
                roles={"execution", "verification"},
                verification_modes={"tee", "none"},
                provider=data.draw(st.sampled_from([None, "hetzner", "aws", "ovh"])),
                asn=data.draw(st.sampled_from([None, 24940, 16509, 64512, 65000])),
                data_center=data.draw(st.sampled_from([None, "fsn1", "us-east-1a", "gra"])),
                operator=data.draw(st.sampled_from([None, "x", "y"])),
            )
        )
    try:
        return Scenario(nodes=tuple(nodes), models=(Model(id="m", size_bytes=0, service_s={"cpu": 0.1}),))
    except ScenarioError:
        assume(False)
        raise


@SETTINGS
@given(data=st.data())
def test_router_independence_iff_no_failure_row_takes_down_both(data: st.DataObject) -> None:
    sc = _pair_scenario(data)
    state = RouterState.from_scenario(sc)
    res = audit_scenario(sc, fail_dims=tuple(d for d in sc.policy.independence if d in sc.dimensions()))
    a = compile_network(sc)
    ids = a.node_ids
    members = []
    for row in res.failure_rows:
        k = a.dim_index(row.dimension)
        code = a.dim_values[k].index(row.value)
        members.append(set(np.flatnonzero(a.dim_codes[:, k] == code).tolist()))
    for e, v in itertools.permutations(range(len(ids)), 2):
        report = independence_report(state.indep_codes, state.indep_dims, ids, e, (v,))
        both_down = any(e in m and v in m for m in members)
        assert report.compliant == (not both_down), (ids[e], ids[v], report)


def test_executor_on_hetzner_and_verifier_on_a_hetzner_asn_share_a_provider() -> None:
    # The reproduction: the executor names provider hetzner, the verifier only ASN 24940.
    nodes = (
        Node(
            id="exe",
            lat=50.1,
            lon=8.7,
            roles={"execution"},
            provider="hetzner",
            warm_models=("m",),
            verification_modes={"tee"},
        ),
        Node(id="ver", lat=50.1, lon=8.7, roles={"verification"}, asn=24940, verification_modes={"tee"}),
    )
    sc = Scenario(
        nodes=nodes,
        models=(Model(id="m", size_bytes=0, service_s={"cpu": 0.1}, verification={"none": 1.0, "tee": 2.0}),),
    )
    r = route(Request("m", 50.0, 8.0, "tee", 1), RouterState.from_scenario(sc), commit=False)
    assert r.degraded
    assert "provider" in r.reason
    res = audit_scenario(sc)
    row = next(x for x in res.failure_rows if (x.dimension, x.value) == ("provider", "hetzner"))
    assert row.nodes == 2


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_select_independent_minimises_the_bottleneck(data: st.DataObject) -> None:
    n = data.draw(st.integers(3, 9))
    d = data.draw(st.integers(1, 3))
    codes = np.array([[data.draw(st.integers(-1, 3)) for _ in range(n)] for _ in range(d)], dtype=np.int32)
    cost = np.array([data.draw(st.sampled_from([1.0, 2.0, 3.0, 5.0, 8.0, np.inf])) for _ in range(n)])
    k = data.draw(st.integers(1, 3))
    cost[0] = np.inf  # the executor
    sel = select_independent(codes, 0, cost, k)

    def compliant(rows: tuple[int, ...]) -> bool:
        members = (0, *rows)
        return all(
            not np.any((codes[:, a] >= 0) & (codes[:, a] == codes[:, b]))
            for a, b in itertools.combinations(members, 2)
        )

    cands = [i for i in range(1, n) if np.isfinite(cost[i])]
    best = min((max(cost[list(s)]) for s in itertools.combinations(cands, k) if compliant(s)), default=None)
    if best is None:
        assert sel.status is not SelectionStatus.OK
    else:
        assert sel.status is SelectionStatus.OK
        assert compliant(sel.rows)
        assert len(sel.rows) == k
        assert max(cost[list(sel.rows)]) == best


def test_tiny_docs_example_is_monotone() -> None:
    """docs/scenario.md's tiny example: losing a provider never raises served (it once went 0% -> 100%)."""
    from pathlib import Path

    import yaml

    text = Path(__file__).resolve().parents[1].joinpath("docs", "scenario.md").read_text(encoding="utf-8")
    block = text.split("```yaml", 1)[1].split("```", 1)[0]
    sc = Scenario.model_validate(yaml.safe_load(block))
    res = audit_scenario(sc)
    base = res.baseline
    for row in res.failure_rows:
        if base.demand_served is not None and row.demand_served is not None:
            assert row.demand_served <= base.demand_served + 1e-12, row
        if base.verified is not None and row.verified is not None:
            assert row.verified <= base.verified + 1e-12, row


@pytest.mark.parametrize("k", [1, 2])
def test_fewer_live_verifiers_than_asked_never_meet_the_slo(k: int) -> None:
    nodes = (
        Node(
            id="e",
            lat=0,
            lon=0,
            roles={"execution"},
            warm_models=("m",),
            verification_modes={"tee"},
            provider="a",
        ),
        Node(id="v", lat=0, lon=0, roles={"verification"}, verification_modes={"tee"}, provider="b"),
    )
    sc = Scenario(
        nodes=nodes,
        models=(Model(id="m", size_bytes=0, service_s={"cpu": 0.1}, verification={"none": 1.0, "tee": 2.0}),),
        sources=(DemandSource(name="here", lat=0, lon=0),),
        demand=(DemandClass(model="m", rate_rps=1.0, slo_ms=60_000, verification="tee", verifiers=k),),
    )
    r = route(Request("m", 0, 0, "tee", k, 60_000.0), RouterState.from_scenario(sc), commit=False)
    res = audit_scenario(sc)
    assert r.meets_slo == (k == 1)
    assert res.baseline.demand_served == (1.0 if k == 1 else 0.0)
    row = next(x for x in res.failure_rows if (x.dimension, x.value) == ("provider", "b"))
    assert row.demand_served == 0.0  # the only verifier lost: the check cannot happen


def test_a_route_within_the_slo_beats_an_independent_one_that_misses_it() -> None:
    # e1 (aws, Paris, fast): its only independent verifier is in Tokyo (~300 ms route), a same-provider
    # verifier next door gives ~135 ms. e2 (ovh, Frankfurt, slower): independent verifier next door, but
    # ~221 ms in all. SLO 200 ms: only e1 with the degraded verifier meets it.
    m = Model(
        id="m", size_bytes=0, service_s={"gpu": 0.05, "cpu": 0.085}, verification={"none": 1.0, "tee": 2.0}
    )
    tee = {"tee"}
    nodes = (
        Node(
            id="e1",
            lat=48.86,
            lon=2.35,
            roles={"execution"},
            hardware="gpu",
            warm_models=("m",),
            verification_modes=tee,
            provider="aws",
        ),
        Node(
            id="e2",
            lat=50.11,
            lon=8.68,
            roles={"execution"},
            hardware="cpu",
            warm_models=("m",),
            verification_modes=tee,
            provider="ovh",
        ),
        Node(
            id="v_near", lat=48.86, lon=2.35, roles={"verification"}, verification_modes=tee, provider="aws"
        ),
        Node(
            id="v_far", lat=35.68, lon=139.69, roles={"verification"}, verification_modes=tee, provider="ovh"
        ),
    )
    demand = (DemandClass(model="m", rate_rps=0.0, slo_ms=200.0, verification="tee", verifiers=1),)
    src = (DemandSource(name="paris", lat=48.86, lon=2.35),)
    sc = Scenario(nodes=nodes, models=(m,), sources=src, demand=demand)
    r = route(Request("m", 48.86, 2.35, "tee", 1, 200.0, origin="paris"), RouterState.from_scenario(sc))
    assert (r.executor, r.verifiers, r.meets_slo, r.degraded) == ("e1", ("v_near",), True, True)
    assert "would miss the SLO" in r.reason
    outs = _serving(sc).class_outcomes(np.zeros(4, dtype=bool))
    assert outs[0].served.tolist() == [True]
    assert outs[0].verified is not None
    assert outs[0].verified.tolist() == [False]


def test_placement_plan_times_equal_the_routers_on_that_plan() -> None:
    """Placement's expected time of a plan (queue wait at the plan's load and verifier hop included) is
    what route() answers on that plan: the placed models warm where the plan puts them, every node loaded
    with its assigned requests, each request sent to its assigned executor."""
    from nodeplan import PlacementSpec, RoutingPolicy, get_policy, load_builtin, place
    from nodeplan.model.queueing import mixed_load
    from nodeplan.placement.problem import build_problem, plan_time_ms

    sc = load_builtin()
    spec = PlacementSpec(models=("llama-3-8b-q4", "credit-risk-onnx"), max_utilisation=0.8)
    sp = place(sc, spec)
    p = build_problem(sc, spec)
    n = p.arrays.n_nodes
    open_ = np.zeros(p.candidate.size, dtype=bool)
    open_[list(sp.result.chosen)] = True
    open_ = open_.reshape(p.candidate.shape)
    x = sp.result.assignment
    t = plan_time_ms(p, open_, x)
    assert sp.expected_ms == pytest.approx(
        float((p.rate_rps[:, None] * x * np.where(x > 0, t, 0)).sum()) / p.total_rps
    )
    # the plan as a scenario: placed models warm exactly on their chosen nodes
    placed = dict(zip(p.models, open_, strict=True))
    nodes = []
    for i, node in enumerate(sc.nodes):
        warm = [m for m in node.warm_models if m not in placed] + [m for m, o in placed.items() if o[i]]
        nodes.append(node.model_copy(update={"warm_models": tuple(warm)}))
    state = RouterState.from_scenario(sc.model_copy(update={"nodes": tuple(nodes)}))
    rate = np.where(x > 0, p.rate_rps[:, None] * x, 0.0)
    lam, s_eff = mixed_load(rate, np.where(x > 0, p.busy_s, 0.0), axis=0)
    for i in np.flatnonzero(lam > 0):
        state.set_load(state.arrays.node_ids[i], float(lam[i]), float(s_eff[i]))
    nodeplan = get_policy("nodeplan")
    checked = 0
    for c, i in zip(*np.nonzero(x > 1e-9), strict=True):
        d = sc.demand[int(p.client_demand[c])]
        src = sc.sources[int(p.client_source[c])]
        only = RoutingPolicy(
            "only",
            lambda ctx, i=i: np.where(np.arange(n) == i, ctx.time_ms, np.inf),
            nodeplan.verifier_cost,
        )
        req = Request(d.model, src.lat, src.lon, d.verification, d.verifiers, d.slo_ms, "nodeplan", src.name)
        r = route(req, state, commit=False, policy=only)
        assert r.executor == sc.nodes[i].id
        assert r.time.total_ms == pytest.approx(float(t[c, i]), rel=1e-12), (p.client_label(int(c)), r)
        checked += 1
    assert checked > 50
