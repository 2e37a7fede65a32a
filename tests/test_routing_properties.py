"""Router invariants on random small scenarios (Hypothesis), checked against brute force."""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodeplan.exceptions import NoRouteError
from nodeplan.model.geo import great_circle_km
from nodeplan.model.independence import SelectionStatus
from nodeplan.model.rtt import default_rtt_model
from nodeplan.routing import POLICIES, Request, Route, RouterState, route, route_batch, select_independent
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
                verification={
                    "none": 1.0,
                    "tee": draw(st.sampled_from([2.0, 2.5])),
                    "reexec": 2.0,
                    "zkml": draw(st.sampled_from([100.0, 400.0])),
                },
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


# -- independent computation of the parts of a route (docs/routing.md, "The model behind a route") ------
# Constants of the time model as documented (TimingParams defaults), written out here on purpose.
WINDOW_BYTES = 64 * 2**20  # bytes in flight of a weight pull
LOCAL_READ_BYTES_PER_S = 2.0e9  # NVMe read of a model on the node's own disk
CHECK_MS = {VerificationMode.TEE: 5.0, VerificationMode.ZKML: 200.0}  # attestation / proof check


def _fit_rtt_ms(a: Node, b: Node) -> float:
    """The shipped fit at great-circle km (backbone when both share a known provider)."""
    fit = default_rtt_model()
    line = fit.backbone if a.provider is not None and a.provider == b.provider else fit.public
    return float(line.rtt_ms_km(great_circle_km(a.lat, a.lon, b.lat, b.lon)))


def _user_rtt_ms(req: Request, node: Node) -> float:
    return float(default_rtt_model().public.rtt_ms_km(great_circle_km(req.lat, req.lon, node.lat, node.lon)))


def _factor(model: Model, mode: VerificationMode) -> float:
    return float(model.verification[mode]) if mode in CHECK_MS else 1.0


def _cold_ms(sc: Scenario, node: Node, model: Model, state: RouterState) -> tuple[float, set[str | None]]:
    """Closed-form cold start, ms, and the set of sources that achieve it (``None`` = warm or own disk).

    Warm: 0. Otherwise the smaller of the own-disk read (``size / 2 GB/s + load + init``, when stored
    there) and, over live storage replicas other than the node, ``RTT + size / min(links, window / RTT)
    + load + init``.
    """
    if model.id in state.warm_models(node.id):
        return 0.0, {None}
    fixed_ms = (model.load_s + model.init_s) * 1000.0
    options: list[tuple[float, str | None]] = []
    if model.id in node.stored_models:
        options.append((model.size_bytes / LOCAL_READ_BYTES_PER_S * 1000.0 + fixed_ms, None))
    for s in sc.nodes:
        if s.id == node.id or not state.is_up(s.id) or Role.STORAGE not in s.roles:
            continue
        if model.id not in s.stored_models:
            continue
        rtt = _fit_rtt_ms(node, s)
        rate = min(
            min(node.bandwidth_gbps, s.bandwidth_gbps) * 1e9 / 8.0, WINDOW_BYTES / (max(rtt, 1e-3) / 1e3)
        )
        options.append((rtt + model.size_bytes / rate * 1000.0 + fixed_ms, s.id))
    if not options:
        return math.inf, set()
    best = min(t for t, _ in options)
    return best, {src for t, src in options if t <= best * (1 + 1e-12)}


def _queue_ms(node: Node, model: Model, state: RouterState) -> float:
    """``max(0, q - c + 1) x s / c`` for ``q`` requests in flight on ``c`` slots (no background load)."""
    q, c = state.in_flight_of(node.id), node.capacity
    return max(0, q - c + 1) * model.service_s[node.hardware] / c * 1000.0


def _verification_ms(
    sc: Scenario, ex: Node, v: Node, model: Model, mode: VerificationMode, state: RouterState
) -> float:
    hop = _fit_rtt_ms(ex, v)
    if mode in CHECK_MS:
        return hop + CHECK_MS[mode]
    # re-execution: the verifier re-runs the call (its queue, its cold start, its own service time)
    cold, _ = _cold_ms(sc, v, model, state)
    return hop + _queue_ms(v, model, state) + cold + model.service_s[v.hardware] * 1000.0


def _price_usd(ex: Node, verifiers: list[Node], model: Model, mode: VerificationMode) -> float:
    def rate(n: Node) -> float:  # USD per slot-second
        return n.price_usd_per_hour / max(n.capacity, 1) / 3600.0

    price = rate(ex) * model.service_s[ex.hardware] * _factor(model, mode)
    for v in verifiers:
        price += rate(v) * (CHECK_MS[mode] / 1000.0 if mode in CHECK_MS else model.service_s[v.hardware])
    return price


def _commit_some(data: st.DataObject, sc: Scenario, state: RouterState, most: int = 3) -> None:
    """Route and commit up to ``most`` requests first, so queues, warm sets and evictions are not the
    fresh ones."""
    for _ in range(data.draw(st.integers(0, most))):
        req = data.draw(requests(sc))
        with contextlib.suppress(NoRouteError):
            route(req, state)


@SETTINGS
@given(data=st.data())
def test_expected_time_is_the_sum_of_its_independently_computed_parts(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    state = RouterState.from_scenario(sc, seed=1)
    _commit_some(data, sc, state)
    req = data.draw(requests(sc))
    try:
        r = route(req, state, commit=False)
    except NoRouteError:
        return
    t = r.time
    assert t.total_ms == t.network_ms + t.queue_ms + t.cold_start_ms + t.service_ms + t.verification_ms
    ex = sc.node(r.executor)
    model = sc.model(req.model)
    mode = req.verification
    # the router's rows and the fit share one great-circle function (model/geo.py); tolerance kept loose
    assert t.network_ms == pytest.approx(_user_rtt_ms(req, ex), rel=1e-9, abs=0.002)
    assert t.queue_ms == pytest.approx(_queue_ms(ex, model, state), rel=1e-12, abs=1e-9)
    cold, sources = _cold_ms(sc, ex, model, state)
    assert t.cold_start_ms == pytest.approx(cold, rel=1e-9)
    assert r.source in sources
    assert t.service_ms == pytest.approx(
        model.service_s[ex.hardware] * _factor(model, mode) * 1000.0, rel=1e-12
    )
    vs = [sc.node(v) for v in r.verifiers]
    verif = max((_verification_ms(sc, ex, v, model, mode, state) for v in vs), default=0.0)
    assert t.verification_ms == pytest.approx(verif, rel=1e-9, abs=0.002)
    if not r.verifiers:
        assert t.verification_ms == 0.0
    expected_total = _user_rtt_ms(req, ex) + _queue_ms(ex, model, state) + cold
    expected_total += model.service_s[ex.hardware] * _factor(model, mode) * 1000.0 + verif
    assert t.total_ms == pytest.approx(expected_total, rel=1e-9, abs=0.004)
    assert r.price_usd == pytest.approx(_price_usd(ex, vs, model, mode), rel=1e-9)
    # within the SLO and checked by as many verifiers as asked (fewer never meet it)
    full = len(r.verifiers) >= req.verifiers
    assert r.meets_slo == ((req.slo_ms is None or t.total_ms <= req.slo_ms) and full)


@SETTINGS
@given(data=st.data())
def test_nodeplan_minimises_expected_time_over_every_live_capable_executor(data: st.DataObject) -> None:
    # verification none, no SLO, price weight 0 (the scenarios' default): nodeplan = argmin of time
    # busy scenarios: every node can execute, so there is a real choice (and commits form queues)
    sc = data.draw(st.one_of(busy_scenarios(), scenarios()))
    assert sc.policy.price_weight_ms_per_usd == 0.0
    state = RouterState.from_scenario(sc, seed=2)
    _commit_some(data, sc, state, 6)
    model_id = data.draw(st.sampled_from([m.id for m in sc.models]))
    lat, lon = data.draw(st.sampled_from(POINTS))
    req = Request(model_id, lat, lon)
    model = sc.model(model_id)
    # network from the router's own RTT row (checked against the fit in the test above: arccos puts a
    # co-located pair up to 2e-5 ms off haversine, more than the 1e-6 asked here); the rest by hand
    rtt_row = state.rtt_rows_ms([lat], [lon])[0]
    totals = {}
    for i, n in enumerate(sc.nodes):
        if _executor_ok(sc, n, req, state):
            cold, _ = _cold_ms(sc, n, model, state)
            totals[n.id] = (
                float(rtt_row[i]) + _queue_ms(n, model, state) + cold + model.service_s[n.hardware] * 1e3
            )
    try:
        r = route(req, state, commit=False)
    except NoRouteError:
        assert totals == {}
        return
    best = min(totals.values())
    assert r.time.total_ms <= best + 1e-6
    assert r.time.total_ms == pytest.approx(totals[r.executor], rel=1e-9)


def _route_one_by_one(reqs: list[Request], state: RouterState, *, commit: bool = True) -> list[Route]:
    """The reference answers: route() on each request in turn, up to the first NoRouteError."""
    out: list[Route] = []
    for r in reqs:
        try:
            out.append(route(r, state, commit=commit))
        except NoRouteError:
            break
    return out


def _assert_same_routes(got: Sequence[Route], expected: Sequence[Route]) -> None:
    """Batch routes equal one-by-one routes: node ids first (a readable failure), then whole routes.

    The whole-route comparison is exact, floats included, on purpose: both paths take every part of a
    route from the same state arrays through the same function (``router._parts``), ties are broken by
    the same (price, row) rule, and RTT rows are computed element by element, so a row is bit-identical
    whether computed alone or with other positions (checked by
    ``test_rtt_rows_are_bit_identical_alone_or_together``). A rounding difference would be a bug here.
    """

    def ids(rs: Sequence[Route]) -> list[tuple[object, ...]]:
        return [(r.executor, r.verifiers, r.source, r.degraded, r.evicted, r.meets_slo) for r in rs]

    assert ids(got) == ids(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.total_ms == pytest.approx(b.total_ms, rel=1e-12)
    assert list(got) == list(expected)


@SETTINGS
@given(
    pts=st.lists(
        st.tuples(st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)),
        min_size=1,
        max_size=6,
    )
)
def test_rtt_rows_are_bit_identical_alone_or_together(pts: list[tuple[float, float]]) -> None:
    sc = Scenario(
        nodes=tuple(
            Node(id=f"n{i}", lat=la, lon=lo, roles={"execution"}) for i, (la, lo) in enumerate(POINTS[:5])
        )
    )
    state = RouterState.from_scenario(sc)
    together = state.rtt_rows_ms([p[0] for p in pts], [p[1] for p in pts])
    for k, (la, lo) in enumerate(pts):
        alone = state.rtt_rows_ms([la], [lo])[0]
        assert np.array_equal(together[k], alone)  # exact, not approx: the batch relies on it


@SETTINGS
@given(data=st.data())
def test_batch_routing_equals_one_by_one_routing(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    reqs = data.draw(st.lists(requests(sc), min_size=1, max_size=12))
    one, many = RouterState.from_scenario(sc, seed=5), RouterState.from_scenario(sc, seed=5)
    expected = _route_one_by_one(reqs, one)
    n_ok = len(expected)
    if n_ok < len(reqs):
        with pytest.raises(NoRouteError, match=rf"^requests\[{n_ok}\]"):
            route_batch(reqs, many)
    else:
        batch = route_batch(reqs, many)
        _assert_same_routes(batch, expected)
        assert batch.total_ms.tolist() == [r.total_ms for r in expected]
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
    expected = _route_one_by_one(reqs, one)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "_COMMIT_CHUNK", chunk)
        mp.setattr(batch, "_PLAN_MAX_NODES", plan_max)
        if len(expected) < len(reqs):
            with pytest.raises(NoRouteError, match=rf"^requests\[{len(expected)}\]"):
                route_batch(reqs, many)
        else:
            _assert_same_routes(route_batch(reqs, many), expected)
    assert np.array_equal(one.in_flight, many.in_flight)
    assert np.array_equal(one.warm, many.warm)
    assert np.array_equal(one.last_used, many.last_used)


@SETTINGS
@given(data=st.data())
def test_dry_run_batch_equals_dry_run_routes_and_leaves_the_state(data: st.DataObject) -> None:
    sc = data.draw(scenarios())
    reqs = data.draw(st.lists(requests(sc, ("nodeplan",)), min_size=1, max_size=20))
    state = RouterState.from_scenario(sc, seed=5)
    expected = _route_one_by_one(reqs, state, commit=False)
    if len(expected) < len(reqs):
        return
    warm, flight = state.warm.copy(), state.in_flight.copy()
    _assert_same_routes(route_batch(reqs, state, commit=False), expected)
    assert np.array_equal(state.warm, warm)
    assert np.array_equal(state.in_flight, flight)
