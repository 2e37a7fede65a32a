"""The HTTP service over real HTTP on loopback: uvicorn in a thread, a temp SQLite file, httpx.

Time is an injected clock the tests advance (no sleeping). Expected values come from the scenario
(node counts by provider and role, the models' published service times), not from the service.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nodeplan.cli import main
from nodeplan.scenario.io import load_builtin
from nodeplan.scenario.model import Role
from nodeplan.service import ServerThread, ServiceError, ServiceSettings, create_app

ADMIN = "admin-token-for-tests-0123456789"
T0 = 1_750_000_000.0  # an arbitrary epoch second
PARIS = {"lat": 48.86, "lon": 2.35}
NEW_NODE: dict[str, Any] = {
    "id": "paris-h100",
    **PARIS,
    "roles": ["execution"],
    "capacity": 4,
    "hardware": "h100",
    "gpu_memory_gb": 80,
    "warm_models": ["llama-3-8b-q4"],
    "provider": "scaleway",
    "country": "FR",
    "operator": "acme",
}


class Clock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def _settings(db: Path, clock: Clock, **kw: Any) -> ServiceSettings:
    return ServiceSettings(db_path=db, admin_token=ADMIN, clock=clock, stale_after_s=1800.0, **kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def server(db: Path, clock: Clock) -> Iterator[ServerThread]:
    with ServerThread(create_app(_settings(db, clock))) as srv:
        yield srv


@pytest.fixture
def client(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as c:
        yield c


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read through a separate connection."""
    with sqlite3.connect(db) as c:
        return {
            t: c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("meta", "nodes", "registrations", "events")
        }


def register(client: httpx.Client, node: dict[str, Any] | None = None) -> str:
    r = client.post("/v1/nodes", json=node or NEW_NODE, headers=admin())
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def route_paris(client: httpx.Client) -> dict[str, Any]:
    r = client.post("/v1/route", json={"model": "llama-3-8b-q4", "city": "Paris"})
    assert r.status_code == 200, r.text
    return dict(r.json())


# -- registration, heartbeat, routing ------------------------------------------------------------------
def test_register_then_heartbeat_makes_the_router_pick_the_node(client: httpx.Client, db: Path) -> None:
    before = route_paris(client)["executor"]
    tok = register(client)
    # registered but no heartbeat yet: pending, not routed to
    assert client.get("/v1/nodes/paris-h100").json()["liveness"] == "pending"
    assert route_paris(client)["executor"] == before
    r = client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tok))
    assert r.status_code == 200
    assert r.json()["liveness"] == "live"
    chosen = route_paris(client)
    # h100 is the fastest hardware for the model (0.88 s in the scenario) and the node is in Paris, so
    # no executor can beat it: same service time, and every other node is farther away.
    assert chosen["executor"] == "paris-h100"
    assert chosen["time_ms"]["service"] == pytest.approx(880.0)
    assert chosen["time_ms"]["cold_start"] == 0.0
    assert chosen["time_ms"]["network"] < 20.0
    assert before != "paris-h100"
    with sqlite3.connect(db) as c:
        hb = c.execute("SELECT last_heartbeat, heartbeats FROM nodes WHERE id = 'paris-h100'").fetchone()
    assert hb == (T0, 1)


def test_stale_heartbeat_takes_the_node_out_of_routing(client: httpx.Client, clock: Clock) -> None:
    tok = register(client)
    client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tok))
    clock.advance(1799.0)  # OpenGradient: active while the heartbeat is under 1800 s old
    assert route_paris(client)["executor"] == "paris-h100"
    clock.advance(2.0)  # 1801 s
    view = client.get("/v1/nodes/paris-h100").json()
    assert view["liveness"] == "stale"
    assert view["heartbeat_age_s"] == pytest.approx(1801.0)
    assert route_paris(client)["executor"] != "paris-h100"
    client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tok))
    assert route_paris(client)["executor"] == "paris-h100"


def test_admin_status_down_and_up(client: httpx.Client) -> None:
    first = route_paris(client)["executor"]
    r = client.put(f"/v1/nodes/{first}/status", json={"status": "down"}, headers=admin())
    assert r.status_code == 200
    assert r.json()["liveness"] == "down"
    assert route_paris(client)["executor"] != first
    client.put(f"/v1/nodes/{first}/status", json={"status": "up"}, headers=admin())
    assert route_paris(client)["executor"] == first


def test_no_live_node_is_503_naming_the_model(client: httpx.Client) -> None:
    sc = load_builtin()
    # take down every node with the hardware the 70B fp16 model needs
    hw = {"l40s", "a100", "h100"}
    for n in sc.nodes:
        if n.hardware in hw:
            client.put(f"/v1/nodes/{n.id}/status", json={"status": "down"}, headers=admin())
    r = client.post("/v1/route", json={"model": "llama-3-70b-fp16", "lat": 0, "lon": 0})
    assert r.status_code == 503
    assert "llama-3-70b-fp16" in r.json()["error"]


def test_restart_with_the_same_db_keeps_the_state(db: Path, clock: Clock) -> None:
    with ServerThread(create_app(_settings(db, clock))) as srv, httpx.Client(base_url=srv.url) as c:
        tok = register(c)
        c.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tok))
        c.put("/v1/nodes/tee-aws-use1-1/status", json={"status": "down"}, headers=admin())
        c.delete("/v1/nodes/cpu-hetzner-fsn-1", headers=admin())
        before = c.get("/v1/nodes").json()
    clock.advance(60.0)
    with ServerThread(create_app(_settings(db, clock))) as srv, httpx.Client(base_url=srv.url) as c:
        after = c.get("/v1/nodes").json()
        by_id = {n["id"]: n for n in after["nodes"]}
        assert "cpu-hetzner-fsn-1" not in by_id
        assert by_id["tee-aws-use1-1"]["liveness"] == "down"
        assert by_id["paris-h100"]["last_heartbeat"] == T0
        assert by_id["paris-h100"]["heartbeat_age_s"] == pytest.approx(60.0)
        assert [n["id"] for n in after["nodes"]] == [n["id"] for n in before["nodes"]]
        assert route_paris(c)["executor"] == "paris-h100"
        # the token issued before the restart still works (its hash was persisted)
        assert c.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tok)).status_code == 200


def test_db_seeded_from_another_scenario_is_refused(db: Path, clock: Clock, tmp_path: Path) -> None:
    create_app(_settings(db, clock))  # seeds with the built-in opengradient scenario
    other = load_builtin().model_copy(update={"name": "other"})
    with pytest.raises(ServiceError, match="seeded from scenario 'opengradient', not 'other'"):
        create_app(_settings(db, clock, scenario=other))


def test_db_is_sqlite_in_wal_mode(server: ServerThread, db: Path) -> None:
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = c.execute("SELECT COUNT(*) FROM nodes WHERE origin = 'scenario'").fetchone()[0]
    assert n == len(load_builtin().nodes)


# -- authentication --------------------------------------------------------------------------------------
def test_auth_errors_are_401_and_403_and_change_nothing(client: httpx.Client, db: Path) -> None:
    tok = register(client)
    other_tok = client.post("/v1/nodes/tee-aws-use1-1/token", headers=admin()).json()["token"]
    snap = snapshot(db)
    r = client.post("/v1/nodes", json={**NEW_NODE, "id": "x"})
    assert r.status_code == 401
    assert "missing" in r.json()["error"]
    r = client.post("/v1/nodes", json={**NEW_NODE, "id": "x"}, headers=bearer("not-a-token"))
    assert r.status_code == 401
    assert "invalid token" in r.json()["error"]
    r = client.post("/v1/nodes", json={**NEW_NODE, "id": "x"}, headers={"Authorization": f"Basic {ADMIN}"})
    assert r.status_code == 401
    # a right-shaped node token with a wrong secret
    tid = tok.split(".")[0]
    assert client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tid + ".wrong")).status_code == 401
    r = client.post("/v1/nodes", json={**NEW_NODE, "id": "x"}, headers=bearer(tok))
    assert r.status_code == 403
    assert "paris-h100" in r.json()["error"]
    r = client.post("/v1/nodes/tee-aws-use1-1/heartbeat", headers=bearer(tok))
    assert r.status_code == 403
    assert "'paris-h100' cannot heartbeat for 'tee-aws-use1-1'" in r.json()["error"]
    r = client.post("/v1/nodes/paris-h100/heartbeat", headers=admin())
    assert r.status_code == 403
    assert client.delete("/v1/nodes/paris-h100", headers=bearer(tok)).status_code == 403
    # authentication comes before validation: no hint about the body to a caller without the token
    r = client.post("/v1/nodes", json={"id": "x", "capacity": -1})
    assert r.status_code == 401
    r = client.post("/v1/nodes", json={"id": "x", "capacity": -1}, headers=bearer(tok))
    assert r.status_code == 403
    assert snapshot(db) == snap
    # the other node's token works for itself only
    assert client.post("/v1/nodes/tee-aws-use1-1/heartbeat", headers=bearer(other_tok)).status_code == 200


def test_only_token_hashes_are_stored(client: httpx.Client, db: Path) -> None:
    tok = register(client)
    tid, secret = tok.split(".")
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT token_id, salt, digest FROM registrations").fetchall()
        dump = "\n".join(c.iterdump())
    assert [r[0] for r in rows] == [tid]
    assert secret not in dump
    assert ADMIN not in dump
    assert len(rows[0][1]) == 16
    assert len(rows[0][2]) == 32


def test_replacing_a_token_revokes_the_old_one(client: httpx.Client) -> None:
    old = register(client)
    new = client.post("/v1/nodes/paris-h100/token", headers=admin()).json()["token"]
    assert client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(old)).status_code == 401
    assert client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(new)).status_code == 200


def test_no_admin_token_refuses_to_start(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    with pytest.raises(ServiceError, match="no admin token"):
        ServiceSettings(db_path=db)
    monkeypatch.delenv("NODEPLAN_ADMIN_TOKEN", raising=False)
    assert main(["serve", "--db", str(db)]) == 2
    assert "no admin token" in capsys.readouterr().err
    assert main(["serve", "--db", str(db), "--insecure-dev", "--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert not db.exists()


def test_insecure_dev_admin_needs_no_token(tmp_path: Path, clock: Clock) -> None:
    st = ServiceSettings(db_path=tmp_path / "dev.db", insecure_dev=True, clock=clock)
    with ServerThread(create_app(st)) as srv, httpx.Client(base_url=srv.url) as c:
        r = c.post("/v1/nodes", json=NEW_NODE)
        assert r.status_code == 201
        tok = r.json()["token"]
        # heartbeats still need the node's own token
        assert c.post("/v1/nodes/tee-aws-use1-1/heartbeat", headers=bearer(tok)).status_code == 403


# -- bad input: 4xx naming the field, nothing written -------------------------------------------------
BAD_REGISTRATIONS = [
    pytest.param(b'{"id": "x", "lat": 1', 400, ["malformed JSON"], id="malformed-json"),
    pytest.param(
        b'{"id": "x", "lat": NaN, "lon": 0, "roles": ["execution"]}', 422, ["lat", "nan"], id="nan-lat"
    ),
    pytest.param({**NEW_NODE, "id": "x", "capacity": -1}, 422, ["capacity", "-1"], id="negative-capacity"),
    pytest.param({**NEW_NODE, "id": "x", "lat": 91}, 422, ["lat", "91"], id="lat-out-of-range"),
    pytest.param(
        {**NEW_NODE, "id": "x", "warm_models": ["gpt-9"]}, 422, ["warm_models", "gpt-9"], id="unknown-model"
    ),
    pytest.param({**NEW_NODE, "id": "x", "roles": ["miner"]}, 422, ["roles", "miner"], id="unknown-role"),
    pytest.param({**NEW_NODE, "id": "x", "colour": "red"}, 422, ["colour"], id="extra-field"),
    pytest.param(
        {k: v for k, v in NEW_NODE.items() if k != "lat"}, 422, ["lat", "missing"], id="missing-lat"
    ),
    pytest.param(
        {**NEW_NODE, "id": "x", "gpu_memory_gb": 1}, 422, ["warm_models", "gpu_memory_gb"], id="memory"
    ),
    pytest.param({**NEW_NODE, "id": "tee-aws-use1-1"}, 409, ["tee-aws-use1-1", "already"], id="duplicate-id"),
    pytest.param(b"[1, 2]", 422, ["body"], id="not-an-object"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_REGISTRATIONS)
def test_bad_registration_is_named_and_writes_nothing(
    client: httpx.Client, db: Path, body: Any, status: int, words: list[str]
) -> None:
    snap = snapshot(db)
    h = {**admin(), "content-type": "application/json"}
    r = (
        client.post("/v1/nodes", content=body, headers=h)
        if isinstance(body, bytes)
        else client.post("/v1/nodes", json=body, headers=admin())
    )
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert "\n" not in err
    for w in words:
        assert w in err, err
    assert snapshot(db) == snap


BAD_ROUTES = [
    pytest.param(
        {"model": "llama-3-8b-q5", "city": "Paris"}, 404, ["model", "llama-3-8b-q4"], id="unknown-model"
    ),
    pytest.param({"model": "llama-3-8b-q4", "city": "Pariss"}, 404, ["city", "Paris"], id="unknown-city"),
    pytest.param({"model": "llama-3-8b-q4", "lat": 100, "lon": 0}, 422, ["lat", "100"], id="lat"),
    pytest.param({"model": "llama-3-8b-q4", "lat": 1}, 422, ["lat and lon"], id="no-lon"),
    pytest.param(
        {"model": "llama-3-8b-q4", "city": "Paris", "lat": 1, "lon": 1}, 422, ["not both"], id="both"
    ),
    pytest.param(
        {"model": "llama-3-8b-q4", "city": "Paris", "policy": "fastest"},
        422,
        ["policy", "fastest"],
        id="policy",
    ),
    pytest.param(
        {"model": "llama-3-8b-q4", "city": "Paris", "verification": "zkml"}, 422, ["zkml"], id="mode"
    ),
    pytest.param(
        {"model": "llama-3-8b-q4", "city": "Paris", "verifiers": -1}, 422, ["verifiers", "-1"], id="k"
    ),
    pytest.param({"model": "llama-3-8b-q4", "city": "Paris", "slo_ms": 0}, 422, ["slo_ms"], id="slo"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_ROUTES)
def test_bad_route_query_is_named(client: httpx.Client, body: Any, status: int, words: list[str]) -> None:
    r = client.post("/v1/route", json=body)
    assert r.status_code == status, r.text
    for w in words:
        assert w in r.json()["error"]


def test_route_nan_latitude_is_422(client: httpx.Client) -> None:
    r = client.post(
        "/v1/route",
        content=b'{"model": "llama-3-8b-q4", "lat": NaN, "lon": 0}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"].startswith("lat:")


def test_unknown_node_is_404_with_close_matches(client: httpx.Client) -> None:
    r = client.delete("/v1/nodes/tee-aws-use1-9", headers=admin())
    assert r.status_code == 404
    assert "tee-aws-use1-1" in r.json()["error"]


# -- concurrency -------------------------------------------------------------------------------------
def test_concurrent_heartbeats_leave_a_consistent_db(
    client: httpx.Client, server: ServerThread, db: Path
) -> None:
    threads_n, per_thread, nodes_n = 8, 50, 4
    tokens = [register(client, {**NEW_NODE, "id": f"n{i}"}) for i in range(nodes_n)]
    failures: list[str] = []

    def beat(k: int) -> None:
        node = k % nodes_n
        with httpx.Client(base_url=server.url, timeout=10.0) as c:
            for _ in range(per_thread):
                r = c.post(f"/v1/nodes/n{node}/heartbeat", headers=bearer(tokens[node]))
                if r.status_code != 200:
                    failures.append(r.text)

    threads = [threading.Thread(target=beat, args=(k,)) for k in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30.0)
    assert not any(t.is_alive() for t in threads), "heartbeat threads did not finish in 30 s"
    assert failures == []
    per_node = threads_n // nodes_n * per_thread
    with sqlite3.connect(db) as c:
        counts = dict(c.execute("SELECT id, heartbeats FROM nodes WHERE id LIKE 'n_'").fetchall())
        events = dict(
            c.execute(
                "SELECT node_id, COUNT(*) FROM events WHERE kind = 'heartbeat' GROUP BY node_id"
            ).fetchall()
        )
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert counts == {f"n{i}": per_node for i in range(nodes_n)}
    assert events == counts
    views = {n["id"]: n for n in client.get("/v1/nodes").json()["nodes"]}
    assert all(views[f"n{i}"]["heartbeats"] == per_node for i in range(nodes_n))


# -- audit, what-if, metrics, health -------------------------------------------------------------------
def test_whatif_row_matches_the_audit_and_the_node_count(client: httpx.Client) -> None:
    sc = load_builtin()
    n_aws = sum(n.provider == "aws" for n in sc.nodes)
    r = client.get("/v1/whatif", params={"dimension": "provider", "value": "aws"})
    assert r.status_code == 200
    row = r.json()["row"]
    assert row["nodes"] == n_aws
    assert row["share_lost"] == pytest.approx(n_aws / len(sc.nodes), abs=1e-6)  # audit weight: node count
    audit = client.get("/v1/audit").json()
    assert row in audit["failure_rows"]
    assert audit["live_nodes"] == len(sc.nodes)
    bad = client.get("/v1/whatif", params={"dimension": "provider", "value": "awss"})
    assert bad.status_code == 404
    assert "aws" in bad.json()["error"]


def test_audit_follows_liveness(client: httpx.Client) -> None:
    n = len(load_builtin().nodes)
    client.put("/v1/nodes/tee-aws-use1-1/status", json={"status": "down"}, headers=admin())
    assert client.get("/v1/audit").json()["live_nodes"] == n - 1


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_start}")


def test_metrics_count_requests_roles_and_heartbeat_age(client: httpx.Client, clock: Clock) -> None:
    sc = load_builtin()
    for _ in range(3):
        route_paris(client)
    client.post("/v1/route", json={"model": "nope", "city": "Paris"})
    tok = register(client)
    client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tok))
    clock.advance(120.0)
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert _metric(text, 'nodeplan_http_requests_total{endpoint="/v1/route",method="POST",status="200"}') == 3
    assert _metric(text, 'nodeplan_http_requests_total{endpoint="/v1/route",method="POST",status="404"}') == 1
    assert _metric(text, 'nodeplan_http_requests_total{endpoint="/v1/nodes",method="POST",status="201"}') == 1
    assert _metric(text, "nodeplan_route_seconds_count") == 3  # the 404 was refused before routing
    assert _metric(text, 'nodeplan_route_seconds_bucket{le="+Inf"}') == 3
    n_exec = sum(Role.EXECUTION in n.roles for n in sc.nodes) + 1  # + paris-h100
    n_coord = sum(Role.COORDINATION in n.roles for n in sc.nodes)
    assert _metric(text, 'nodeplan_live_nodes{role="execution"}') == n_exec
    assert _metric(text, 'nodeplan_live_nodes{role="coordination"}') == n_coord
    assert _metric(text, 'nodeplan_heartbeat_age_seconds{node="paris-h100"}') == 120
    assert _metric(text, 'nodeplan_nodes{liveness="live"}') == 1
    assert _metric(text, 'nodeplan_nodes{liveness="static"}') == len(sc.nodes)


def test_healthz_and_unknown_path(client: httpx.Client) -> None:
    h = client.get("/healthz").json()
    assert h == {
        "status": "ok",
        "nodes": len(load_builtin().nodes),
        "live": len(load_builtin().nodes),
        "journal_mode": "wal",
    }
    r = client.get("/v2/nothing")
    assert r.status_code == 404
    assert "/v2/nothing" in r.json()["error"]


def test_route_json_has_the_route_fields(client: httpx.Client) -> None:
    r = client.post(
        "/v1/route", json={"model": "llama-3-8b-q4", "city": "Paris", "verification": "tee", "slo_ms": 5000}
    )
    body = r.json()
    assert r.status_code == 200
    assert body["verification"] == "tee"
    assert len(body["verifiers"]) == 1  # default K = 1 for a verified request
    parts = body["time_ms"]
    total = parts["network"] + parts["queue"] + parts["cold_start"] + parts["service"] + parts["verification"]
    assert math.isclose(parts["total"], total)
    assert body["meets_slo"] == (parts["total"] <= 5000)
    assert body["live_nodes"] == len(load_builtin().nodes)


# -- regressions: removal, empty network, --db, ids with "/", auth before body ------------------------
def _zone_scenario(key: str) -> Any:
    """The built-in scenario plus node ``z``, the only node with the user dimension ``zone``."""
    from nodeplan.scenario.io import dump_scenario, parse_scenario

    data = dump_scenario(load_builtin())
    data["nodes"].append({**NEW_NODE, "id": "z", "dims": {"zone": "a"}})
    if key == "failures":
        data["failures"]["zone"] = {"default": 0.1}
    else:
        data["policy"] = {**data.get("policy", {}), "independence": ["provider", "zone"]}
    return parse_scenario(data)


@pytest.mark.parametrize("key", ["failures", "policy"])
def test_removing_the_last_node_of_a_named_dimension_is_409(db: Path, clock: Clock, key: str) -> None:
    settings = _settings(db, clock, scenario=_zone_scenario(key))
    with ServerThread(create_app(settings)) as srv, httpx.Client(base_url=srv.url) as c:
        snap = snapshot(db)
        r = c.delete("/v1/nodes/z", headers=admin())
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err.startswith("node: cannot remove 'z'")
        assert "zone" in err
        assert "\n" not in err
        assert snapshot(db) == snap
        # the service is still whole: route, audit and registration work, and z is still there
        assert c.get("/v1/nodes/z").status_code == 200
        assert route_paris(c)["executor"]
        assert c.get("/v1/audit").status_code == 200
        assert c.post("/v1/nodes", json={**NEW_NODE, "id": "y"}, headers=admin()).status_code == 201


def test_invalid_stored_scenario_is_503_json_not_500(db: Path, clock: Clock) -> None:
    # a database left invalid (z removed behind the service's back, e.g. by a version without the 409)
    create_app(_settings(db, clock, scenario=_zone_scenario("failures")))
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM nodes WHERE id = 'z'")
    with ServerThread(create_app(_settings(db, clock))) as srv, httpx.Client(base_url=srv.url) as c:
        for r in (c.post("/v1/route", json={"model": "llama-3-8b-q4", "city": "Paris"}), c.get("/v1/audit")):
            assert r.status_code == 503, r.text
            assert "failures.zone" in r.json()["error"]
        # registering a node that brings the dimension back repairs it
        r = c.post("/v1/nodes", json={**NEW_NODE, "id": "z2", "dims": {"zone": "b"}}, headers=admin())
        assert r.status_code == 201, r.text
        assert c.get("/v1/audit").status_code == 200


def test_route_and_audit_with_no_node_left_are_503(client: httpx.Client) -> None:
    for n in load_builtin().nodes:
        assert client.delete(f"/v1/nodes/{n.id}", headers=admin()).status_code == 200
    assert client.get("/v1/nodes").json()["nodes"] == []
    for r in (
        client.post("/v1/route", json={"model": "llama-3-8b-q4", "city": "Paris"}),
        client.get("/v1/audit"),
    ):
        assert r.status_code == 503, r.text
        assert r.json()["error"].startswith("nodes: the network has no nodes")
    # and a node can be registered again
    tok = register(client)
    assert client.post("/v1/nodes/paris-h100/heartbeat", headers=bearer(tok)).status_code == 200
    assert route_paris(client)["executor"] == "paris-h100"


@pytest.mark.parametrize("kind", ["missing-dir", "directory", "not-sqlite"])
def test_unusable_db_path_is_one_line_exit_2(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    if kind == "missing-dir":
        path = tmp_path / "nonexist" / "dir" / "x.db"
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "notes.db"
        path.write_text("these are not the pages of an SQLite database\n" * 100)
    monkeypatch.setenv("NODEPLAN_ADMIN_TOKEN", ADMIN)
    assert main(["serve", "--db", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"--db: cannot open {path}" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_node_id_with_a_slash_is_reachable(client: httpx.Client) -> None:
    from urllib.parse import quote

    nid = "10.0.0.0/24#1"  # the shape of ids imported from Ethereum node lists
    tok = register(client, {**NEW_NODE, "id": nid})
    url = "/v1/nodes/" + quote(nid, safe="")
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == nid
    r = client.post(url + "/heartbeat", headers=bearer(tok))
    assert r.status_code == 200, r.text
    assert r.json()["liveness"] == "live"
    assert route_paris(client)["executor"] == nid
    assert client.put(url + "/status", json={"status": "down"}, headers=admin()).json()["liveness"] == "down"
    assert client.post(url + "/token", headers=admin()).status_code == 200
    r = client.delete(url, headers=admin())
    assert r.status_code == 200, r.text
    assert r.json() == {"removed": nid}
    assert client.get(url).status_code == 404
    label = (
        'nodeplan_http_requests_total{endpoint="/v1/nodes/{node_id}/heartbeat",method="POST",status="200"}'
    )
    assert _metric(client.get("/metrics").text, label) == 1


def test_auth_comes_before_parsing_the_body(client: httpx.Client, db: Path) -> None:
    snap = snapshot(db)
    bad = b'{"id": "x", "lat": 1'
    h = {"content-type": "application/json"}
    r = client.post("/v1/nodes", content=bad, headers=h)
    assert r.status_code == 401, r.text
    r = client.post("/v1/nodes", content=bad, headers={**h, **bearer("not-a-token")})
    assert r.status_code == 401, r.text
    # with the admin token the same body is named as malformed JSON
    r = client.post("/v1/nodes", content=bad, headers={**h, **admin()})
    assert r.status_code == 400
    assert r.json()["error"].startswith("body: malformed JSON at character 20")
    assert snapshot(db) == snap
