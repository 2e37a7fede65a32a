"""Benchmark: the HTTP service against in-process calls, and WAL heartbeats against naive autocommit.

1. **Route queries/s.** ``POST /v1/route`` through uvicorn on loopback with one keep-alive httpx client
   (sequential requests: the latency of one query, HTTP + JSON + validation + routing) vs calling
   ``route(..., commit=False)`` in-process on the same live state (the same 52-node opengradient
   network, the same requests: users at seeded random positions, model llama-3-8b-q4). Both must pick the
   same executors; the script raises if they do not.
2. **Heartbeat writes/s to SQLite.** The service's store (WAL, ``synchronous=NORMAL``, one
   ``BEGIN IMMEDIATE`` transaction per heartbeat: update + event) vs a naive variant: the default
   rollback journal, ``synchronous=FULL``, autocommit after each statement (update, then event: two
   commits, each an fsync of the journal and the file). Same number of heartbeats, same rows written.

Run: ``python bench/bench_service.py`` (about 20 s; ``--queries`` and ``--beats`` change the counts).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from nodeplan.routing import Request, route
from nodeplan.scenario.io import load_builtin
from nodeplan.service import ServerThread, ServiceSettings, create_app
from nodeplan.service.store import Store

ADMIN = "bench-admin-token-0123456789"
MODEL = "llama-3-8b-q4"


def bench_route(n: int, seed: int, tmp: Path) -> None:
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(-60, 70, n), rng.uniform(-180, 180, n)])
    app = create_app(ServiceSettings(db_path=tmp / "route.db", admin_token=ADMIN))
    net = app.state.network
    state = net.router_state()
    # in-process: the same state object the service routes on
    t0 = time.perf_counter()
    direct = [route(Request(MODEL, float(a), float(b)), state, commit=False).executor for a, b in pts]
    t_direct = time.perf_counter() - t0
    with ServerThread(app) as srv, httpx.Client(base_url=srv.url, timeout=30.0) as c:
        c.post("/v1/route", json={"model": MODEL, "lat": 0.0, "lon": 0.0})  # warm-up (connection)
        t0 = time.perf_counter()
        via_http = []
        for a, b in pts:
            r = c.post("/v1/route", json={"model": MODEL, "lat": float(a), "lon": float(b)})
            via_http.append(r.json()["executor"])
        t_http = time.perf_counter() - t0
    if via_http != direct:
        bad = sum(x != y for x, y in zip(via_http, direct, strict=True))
        raise SystemExit(f"error: HTTP and in-process routes differ for {bad} of {n} queries")
    qps_http, qps_direct = n / t_http, n / t_direct
    print(f"route queries ({n}, {len(state.arrays.node_ids)} nodes, same executors: yes)")
    print(
        f"  HTTP service (loopback, keep-alive, sequential) {qps_http:10,.0f} queries/s  {1e3 / qps_http:7.3f} ms each"
    )
    print(
        f"  in-process route(commit=False)                  {qps_direct:10,.0f} queries/s  {1e3 / qps_direct:7.3f} ms each"
    )
    print(f"  ratio in-process / HTTP                         {qps_direct / qps_http:10.1f}x")


def _naive(path: Path, node_ids: list[str], beats: int, t0: float) -> float:
    conn = sqlite3.connect(path, isolation_level=None)  # autocommit: every statement commits
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE nodes (id TEXT PRIMARY KEY, last_heartbeat REAL, heartbeats INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL, kind TEXT, node_id TEXT, detail TEXT)"
    )
    conn.executemany("INSERT INTO nodes (id) VALUES (?)", [(i,) for i in node_ids])
    start = time.perf_counter()
    for k in range(beats):
        nid, now = node_ids[k % len(node_ids)], t0 + k
        conn.execute(
            "UPDATE nodes SET last_heartbeat = ?, heartbeats = heartbeats + 1 WHERE id = ?", (now, nid)
        )
        conn.execute(
            "INSERT INTO events (ts, kind, node_id, detail) VALUES (?, 'heartbeat', ?, ?)",
            (now, nid, json.dumps({})),
        )
    elapsed = time.perf_counter() - start
    total = conn.execute("SELECT SUM(heartbeats) FROM nodes").fetchone()[0]
    conn.close()
    if total != beats:
        raise SystemExit(f"error: naive variant recorded {total} heartbeats, expected {beats}")
    return elapsed


def bench_heartbeats(beats: int, tmp: Path) -> None:
    sc = load_builtin()
    ids = [n.id for n in sc.nodes]
    store = Store.open(tmp / "wal.db")
    store.seed(sc, now=0.0)
    start = time.perf_counter()
    for k in range(beats):
        store.heartbeat(ids[k % len(ids)], now=float(k))
    t_wal = time.perf_counter() - start
    total = sum(r.heartbeats for r in store.load().nodes)
    mode = store.journal_mode()
    store.close()
    if total != beats:
        raise SystemExit(f"error: store recorded {total} heartbeats, expected {beats}")
    t_naive = _naive(tmp / "naive.db", ids, beats, 0.0)
    print(f"heartbeat writes ({beats}, update + event each)")
    print(f"  store: {mode}, synchronous=NORMAL, 1 transaction each  {beats / t_wal:10,.0f} writes/s")
    print(f"  naive: rollback journal, synchronous=FULL, autocommit     {beats / t_naive:10,.0f} writes/s")
    print(f"  ratio store / naive                                       {t_naive / t_wal:10.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=2000, help="route queries (default 2000)")
    ap.add_argument("--beats", type=int, default=2000, help="heartbeats written (default 2000)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        bench_route(args.queries, args.seed, Path(d))
        bench_heartbeats(args.beats, Path(d))


if __name__ == "__main__":
    main()
