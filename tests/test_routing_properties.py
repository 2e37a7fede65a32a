"""Router invariants on random small scenarios (Hypothesis), checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodeplan.exceptions import NoRouteError
from nodeplan.latency.geo import great_circle_km
from nodeplan.latency.rtt import default_rtt_model
from nodeplan.latency.timing import cold_start_s, executor_factor
from nodeplan.routing import POLICIES, Request, RouterState, route, route_batch, select_independent
from nodeplan.routing.independence import SelectionStatus
from nodeplan.scenario.arrays import compile_scenario
from nodeplan.scenario.model import Model, Node, NodeStatus, Role, Scenario, VerificationMode

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POINTS = ((48.86, 2.35), (50.11, 8.68), (39.04, -77.49), (35.68, 139.69), (-33.87, 151.21), (48.86, 2.35))
BUILTIN = ("nodeplan", "random", "nearest", "cheapest", "least-loaded", "latency-only")
DIMS = ("provider", "asn", "operator", "data_center", "tee_vendor")


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    models = []
    for j in range(draw(st.integers(1, 2))):
        size = draw(st.sampled_from([0, 100_000_000, 8_000_000_000, 30_000_000_000]))
        models.append(
            Model(
                id=f"m{j}",
                size_bytes=size,
                load_s=draw(st.sampled_from([0.0, 2.0])),
                service_s={"gpu": draw(st.sampled_from([0.05, 0.5])), "cpu": 0.4},
                verification={"none": 1.0, "tee": 2.5, "reexec": 2.0},
            )
        )
    nodes = []
    for i in range(draw(st.integers(2, 7))):
        roles = draw(st.sets(st.sampled_from(list(Role)[:3]), min_size=1))
        gpu = draw(st.sampled_from([0.0, 10.0, 40.0]))
        warm = [m.id for m in models if draw(st.booleans())]
        while sum(next(m for m in models if m.id == w).size_bytes for w in warm) / 1e9 > gpu:
            warm.pop()
        lat, lon = draw(st.sampled_from(POINTS))
        nodes.append(
            Node(
                id=f"n{i}",
                lat=lat,
                lon=lon,
                roles=roles,
                capacity=draw(st.integers(0, 3)),
                hardware=draw(st.sampled_from(["gpu", "cpu", "tpu"])),
                gpu_memory_gb=gpu,
                price_usd_per_hour=draw(st.sampled_from([0.0, 1.0, 3.0])),
                warm_models=tuple(warm),
                stored_models=tuple(m.id for m in models if draw(st.booleans())),
                verification_modes=draw(st.sets(st.sampled_from(list(VerificationMode)), min_size=1)),
                status=draw(st.sampled_from([NodeStatus.UP, NodeStatus.UP, NodeStatus.DOWN])),
                provider=draw(st.sampled_from([None, "aws", "gcp", "ovh"])),
                asn=draw(st.sampled_from([None, 1, 2, 3])),
                operator=draw(st.sampled_from([None, "a", "b", "c", "d"])),
                tee_vendor=draw(st.sampled_from([None, "nitro", "tdx"])),
            )
        )
    return Scenario(nodes=tuple(nodes), models=tuple(models))


@st.composite
def requests(draw: st.DrawFn, sc: Scenario, policies: tuple[str, ...] = BUILTIN) -> Request:
    model = draw(st.sampled_from([m.id for m in sc.models]))
    mode = draw(st.sampled_from(list(sc.model(model).verification)))
    k = 0 if mode is VerificationMode.NONE else draw(st.integers(1, 3))
    lat, lon = draw(st.sampled_from(POINTS))
    slo = draw(st.sampled_from([None, 300.0, 5000.0]))
    return Request(model, lat, lon, mode, k, slo_ms=slo, policy=draw(st.sampled_from(policies)))


def _can_get(sc: Scenario, node: Node, model: str, warm: tuple[str, ...], up: dict[str, bool]) -> bool:
    if model in warm or model in node.stored_models:
        return True
    return any(up[s.id] and Role.STORAGE in s.roles and model in s.stored_models for s in sc.nodes)


def _can_run(node: Node, model: Model) -> bool:
    return node.hardware in model.service_s and node.gpu_memory_gb >= model.min_gpu_memory_gb


def _executor_ok(sc: Scenario, node: Node, req: Request, state: RouterState) -> bool:
    model = sc.model(req.model)
    return (
        state.is_up(node.id)
        and Role.EXECUTION in node.roles
        and node.capacity > 0
        and _can_run(node, model)
        and _can_get(
            sc, node, model.id, state.warm_models(node.id), {n.id: state.is_up(n.id) for n in sc.nodes}
        )
        and (
            req.verification not in (VerificationMode.TEE, VerificationMode.ZKML)
            or req.verification in node.verification_modes
        )
    )


def _shares(a: Node, b: Node) -> bool:
    return any(a.dim(d) is not None and a.dim(d) == b.dim(d) for d in DIMS)


@SETTINGS
@given(data=st.data())
def test_executor_is_live_and_holds_or_can_fetch_the_model(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    state = RouterState.from_scenario(sc, seed=1)
    for _ in range(4):
        req = data.draw(requests(sc))
        ok = [n.id for n in sc.nodes if _executor_ok(sc, n, req, state)]
        try:
            r = route(req, state)
        except NoRouteError:
            assert ok == []
            continue
        assert r.executor in ok
        node = sc.node(r.executor)
        assert (r.source is None) == (r.time.cold_start_ms == 0.0 or req.model in node.stored_models)


@SETTINGS
@given(data=st.data())
def test_nodeplan_verifiers_are_independent_whenever_a_compliant_set_exists(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    state = RouterState.from_scenario(sc, seed=1)
    req = data.draw(requests(sc, ("nodeplan",)))
    try:
        r = route(req, state, commit=False)
    except NoRouteError:
        return
    if req.verifiers == 0:
        assert r.verifiers == ()
        assert not r.degraded
        return
    ex = sc.node(r.executor)
    model = sc.model(req.model)
    up = {n.id: state.is_up(n.id) for n in sc.nodes}
    cands = [
        n
        for n in sc.nodes
        if n.id != ex.id
        and up[n.id]
        and Role.VERIFICATION in n.roles
        and req.verification in n.verification_modes
        and (
            req.verification is not VerificationMode.REEXEC
            or (n.capacity > 0 and _can_run(n, model) and _can_get(sc, n, model.id, n.warm_models, up))
        )
    ]
    exists = any(
        all(not _shares(ex, v) for v in combo)
        and all(not _shares(a, b) for a, b in itertools.combinations(combo, 2))
        for combo in itertools.combinations([c for c in cands if not _shares(ex, c)], req.verifiers)
    )
    assert set(r.verifiers) <= {c.id for c in cands}
    if exists:
        assert not r.degraded
        assert r.independence.compliant
        assert len(r.verifiers) == req.verifiers
    else:
        assert r.degraded
        assert r.reason
    # the report says exactly which dimensions each pair shares
    for p in r.independence.pairs:
        a, b = sc.node(p.a), sc.node(p.b)
        assert set(p.shared) == {d for d in DIMS if a.dim(d) is not None and a.dim(d) == b.dim(d)}
        assert set(p.unknown) == {d for d in DIMS if a.dim(d) is None or b.dim(d) is None}


@SETTINGS
@given(
    codes=st.lists(st.lists(st.integers(-1, 2), min_size=3, max_size=3), min_size=2, max_size=8),
    k=st.integers(1, 3),
    data=st.data(),
)
def test_selection_finds_a_compliant_set_iff_one_exists(
    codes: list[list[int]], k: int, data: st.DataObject
) -> None:
    c = np.array(codes, dtype=np.int32).T  # (d, n)
    n = c.shape[1]
    cost = np.array(data.draw(st.lists(st.sampled_from([1.0, 2.0, 3.0, np.inf]), min_size=n, max_size=n)))

    def share(i: int, j: int) -> bool:
        return bool(((c[:, i] == c[:, j]) & (c[:, i] >= 0)).any())

    ok = [i for i in range(1, n) if np.isfinite(cost[i]) and not share(0, i)]
    exists = any(
        all(not share(a, b) for a, b in itertools.combinations(s, 2)) for s in itertools.combinations(ok, k)
    )
    sel = select_independent(c, 0, cost, k)
    assert (sel.status is SelectionStatus.OK) == exists
    if exists:
        rows = sel.rows
        assert len(rows) == k
        assert all(r in ok for r in rows)
        assert all(not share(a, b) for a, b in itertools.combinations(rows, 2))


@SETTINGS
@given(data=st.data())
def test_expected_time_is_the_sum_of_its_independently_computed_parts(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    state = RouterState.from_scenario(sc, seed=1)
    req = data.draw(requests(sc))
    arrays = compile_scenario(sc)
    try:
        r = route(req, state, commit=False)
    except NoRouteError:
        return
    t = r.time
    assert t.total_ms == t.network_ms + t.queue_ms + t.cold_start_ms + t.service_ms + t.verification_ms
    e = arrays.node_ids.index(r.executor)
    model = sc.model(req.model)
    km = float(great_circle_km(req.lat, req.lon, arrays.lat[e], arrays.lon[e]))
    fit = default_rtt_model().public
    # the router takes the angle from arccos(dot product): within 0.1 km, i.e. 0.002 ms, of haversine
    assert t.network_ms == pytest.approx(
        max(fit.a_ms + fit.b_ms_per_km * km, km / 100.0), rel=1e-9, abs=0.002
    )
    cold, _ = cold_start_s(
        arrays, model, default_rtt_model(), warm=arrays.warm[:, arrays.model_index(model.id)]
    )
    assert t.cold_start_ms == pytest.approx(cold[e] * 1000.0, rel=1e-9)
    factor = executor_factor(model, req.verification)
    assert t.service_ms == pytest.approx(model.service_s[arrays.hardware[e]] * factor * 1000.0, rel=1e-12)
    assert t.queue_ms == 0.0  # fresh state, no load
    if req.verification is VerificationMode.TEE and r.verifiers:
        hops = []
        for v in r.verifiers:
            i = arrays.node_ids.index(v)
            same = sc.nodes[e].provider is not None and sc.nodes[e].provider == sc.nodes[i].provider
            hops.append(
                float(
                    default_rtt_model().rtt_ms(
                        arrays.lat[e], arrays.lon[e], arrays.lat[i], arrays.lon[i], same
                    )
                )
                + 5.0
            )
        assert t.verification_ms == pytest.approx(max(hops), rel=1e-9, abs=0.002)
    if not r.verifiers:
        assert t.verification_ms == 0.0
    assert r.meets_slo == (req.slo_ms is None or t.total_ms <= req.slo_ms)


@SETTINGS
@given(data=st.data())
def test_batch_routing_equals_one_by_one_routing(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    reqs = data.draw(st.lists(requests(sc), min_size=1, max_size=12))
    one, many = RouterState.from_scenario(sc, seed=5), RouterState.from_scenario(sc, seed=5)
    expected: list[object] = []
    for r in reqs:
        try:
            expected.append(route(r, one))
        except NoRouteError:
            expected.append(None)
            break
    n_ok = sum(x is not None for x in expected)
    if n_ok < len(reqs):
        with pytest.raises(NoRouteError, match=rf"^requests\[{n_ok}\]"):
            route_batch(reqs, many)
    else:
        assert list(route_batch(reqs, many)) == expected
    assert np.array_equal(one.in_flight, many.in_flight)
    assert np.array_equal(one.warm, many.warm)


def test_policies_registry_lists_the_builtins_in_order() -> None:
    assert tuple(POLICIES)[: len(BUILTIN)] == BUILTIN


@st.composite
def busy_scenarios(draw: st.DrawFn) -> Scenario:
    """Every node can execute: few slots (queues form), small GPU memory (cold starts evict), one replica."""
    models = tuple(
        Model(
            id=f"m{j}",
            size_bytes=draw(st.sampled_from([100_000_000, 8_000_000_000, 16_000_000_000])),
            load_s=draw(st.sampled_from([0.0, 2.0])),
            service_s={"gpu": draw(st.sampled_from([0.05, 0.5, 2.0]))},
            verification={"none": 1.0, "tee": 2.5, "reexec": 2.0},
        )
        for j in range(draw(st.integers(1, 3)))
    )
    nodes = [
        Node(id="store", lat=50.11, lon=8.68, roles={"storage"}, stored_models=tuple(m.id for m in models))
    ]
    for i in range(draw(st.integers(2, 6))):
        lat, lon = draw(st.sampled_from(POINTS))
        nodes.append(
            Node(
                id=f"n{i}",
                lat=lat,
                lon=lon,
                roles={"execution", "verification"},
                capacity=draw(st.integers(1, 2)),
                hardware="gpu",
                gpu_memory_gb=draw(st.sampled_from([20.0, 40.0])),
                price_usd_per_hour=draw(st.sampled_from([1.0, 3.0])),
                warm_models=tuple(m.id for m in models[:1] if draw(st.booleans())),
                verification_modes={"none", "tee", "reexec"},
                provider=draw(st.sampled_from(["aws", "gcp", "ovh"])),
                operator=f"op{i}",
            )
        )
    for i in range(draw(st.integers(0, 2))):  # verifiers only: re-execution fills their single slot
        lat, lon = draw(st.sampled_from(POINTS))
        nodes.append(
            Node(
                id=f"v{i}",
                lat=lat,
                lon=lon,
                roles={"verification"},
                capacity=1,
                hardware="gpu",
                gpu_memory_gb=40.0,
                warm_models=tuple(m.id for m in models[:1]),
                verification_modes={"tee", "reexec"},
                provider="hetzner",
                operator=f"vop{i}",
            )
        )
    return Scenario(nodes=tuple(nodes), models=models)


@SETTINGS
@given(data=st.data(), chunk=st.sampled_from([1, 3, 256]), plan_max=st.sampled_from([0, 5000]))
def test_batch_equals_one_by_one_with_commits_queues_cold_starts_and_small_chunks(
    data: st.DataObject, chunk: int, plan_max: int
) -> None:
    # nodeplan requests take the vectorised path; 1-2 slots per node fill up (queue waits), cold starts
    # warm models and evict others, re-executing verifiers take slots too; chunks of 1 or 3 requests
    # exercise planning across chunk boundaries and the switch to one-by-one routing; plan_max=0 is the
    # one-by-one path of large networks
    from nodeplan.routing import batch

    sc = data.draw(busy_scenarios())
    policies = data.draw(st.sampled_from([("nodeplan",), ("nodeplan", "random", "least-loaded")]))
    reqs = data.draw(st.lists(requests(sc, policies), min_size=2, max_size=30))
    one, many = RouterState.from_scenario(sc, seed=5), RouterState.from_scenario(sc, seed=5)
    expected: list[object] = []
    for r in reqs:
        try:
            expected.append(route(r, one))
        except NoRouteError:
            break
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "_COMMIT_CHUNK", chunk)
        mp.setattr(batch, "_PLAN_MAX_NODES", plan_max)
        if len(expected) < len(reqs):
            with pytest.raises(NoRouteError, match=rf"^requests\[{len(expected)}\]"):
                route_batch(reqs, many)
        else:
            assert list(route_batch(reqs, many)) == expected
    assert np.array_equal(one.in_flight, many.in_flight)
    assert np.array_equal(one.warm, many.warm)
    assert np.array_equal(one.last_used, many.last_used)


@SETTINGS
@given(data=st.data())
def test_dry_run_batch_equals_dry_run_routes_and_leaves_the_state(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    reqs = data.draw(st.lists(requests(sc, ("nodeplan",)), min_size=1, max_size=20))
    state = RouterState.from_scenario(sc, seed=5)
    expected: list[object] = []
    for r in reqs:
        try:
            expected.append(route(r, state, commit=False))
        except NoRouteError:
            return
    warm, flight = state.warm.copy(), state.in_flight.copy()
    assert list(route_batch(reqs, state, commit=False)) == expected
    assert np.array_equal(state.warm, warm)
    assert np.array_equal(state.in_flight, flight)
