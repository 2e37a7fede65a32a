"""Benchmark: routing decision latency and batch throughput, nodeplan (numpy) vs a plain-Python loop.

Both implement the same ``nodeplan`` policy for a request without verifiers (minimise network + queue
+ cold start + service; ties to the lower price, then the first node) on the same synthetic scenario
(seeded), in the same process; the loop reads the same precomputed per-model vectors as Python lists,
so the comparison is the per-request work only. The script checks that both choose the same nodes and
raises when a choice differs, unless the two nodes' expected times are equal within ``TIE_MS`` (the
loop takes distances by haversine, the router by ``arccos``: up to 0.002 ms apart, so an exact tie may
fall either way).

A second table measures batches whose requests all come from distinct positions (one RTT row per
request, so no sharing across requests), and TEE batches with K = 1 and K = 2 independent verifiers
against ``route()`` called one by one; it raises when a batch route differs from the one-by-one route.

Run: ``python bench/bench_route.py`` (about 60 s; ``--quick`` for 100 and 1,000 nodes only).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np

from nodeplan.model.geo import EARTH_RADIUS_KM
from nodeplan.model.rtt import StretchRtt
from nodeplan.routing import Request, Route, RouterState, route, route_batch
from nodeplan.scenario.model import DemandSource, Model, Node, Scenario

CITIES = (  # name, lat, lon
    ("Frankfurt", 50.11, 8.68),
    ("London", 51.51, -0.13),
    ("Paris", 48.86, 2.35),
    ("Amsterdam", 52.37, 4.90),
    ("Ashburn", 39.04, -77.49),
    ("New York", 40.71, -74.01),
    ("Chicago", 41.88, -87.63),
    ("Dallas", 32.78, -96.80),
    ("San Jose", 37.34, -121.89),
    ("Seattle", 47.61, -122.33),
    ("Sao Paulo", -23.55, -46.63),
    ("Singapore", 1.35, 103.82),
    ("Tokyo", 35.68, 139.69),
    ("Seoul", 37.57, 126.98),
    ("Mumbai", 19.08, 72.88),
    ("Sydney", -33.87, 151.21),
    ("Johannesburg", -26.20, 28.05),
    ("Warsaw", 52.23, 21.01),
    ("Helsinki", 60.17, 24.94),
    ("Toronto", 43.65, -79.38),
)
PROVIDERS = ("aws", "gcp", "azure", "hetzner", "ovh", "equinix", "home")
PROVIDER_P = (0.38, 0.14, 0.10, 0.14, 0.08, 0.06, 0.10)
#: two executors whose expected times differ by at most this many ms are a tie (haversine vs arccos)
TIE_MS = 0.01


def synthetic_scenario(n: int, seed: int = 0) -> Scenario:
    """``n`` nodes around 20 cities, skewed providers, three models; same seed, same scenario."""
    rng = np.random.default_rng(seed)
    models = (
        Model(
            id="tiny",
            size_bytes=200_000_000,
            load_s=0.5,
            init_s=0.5,
            service_s={"cpu": 0.05, "l4": 0.01, "a100": 0.008},
            verification={"none": 1.0, "tee": 2.5, "reexec": 2.0},
        ),
        Model(
            id="llama-8b",
            size_bytes=16_000_000_000,
            load_s=8.0,
            init_s=12.0,
            service_s={"l4": 1.2, "a100": 0.6},
            min_gpu_memory_gb=20,
            verification={"none": 1.0, "tee": 2.5, "reexec": 2.0},
        ),
        Model(
            id="llama-70b",
            size_bytes=140_000_000_000,
            load_s=40.0,
            init_s=30.0,
            service_s={"a100": 2.5},
            min_gpu_memory_gb=160,
            verification={"none": 1.0, "reexec": 2.0},
        ),
    )
    n_storage = min(24, max(2, n // 50))
    city = rng.integers(0, len(CITIES), n)
    prov = rng.choice(len(PROVIDERS), n, p=PROVIDER_P)
    hw = rng.choice(3, n, p=(0.3, 0.4, 0.3))
    nodes = []
    for i in range(n):
        _, la, lo = CITIES[city[i]]
        hardware = ("cpu", "l4", "a100")[hw[i]]
        gpu = {"cpu": 0.0, "l4": 24.0, "a100": float(rng.choice((80.0, 160.0)))}[hardware]
        storage = i < n_storage
        roles = {"execution", "verification"} if rng.random() < 0.5 else {"execution"}
        if storage:
            roles = {"storage", "verification"}
        warm = [m.id for m in models if m.size_bytes / 1e9 <= gpu and rng.random() < 0.3]
        while sum(next(m.size_bytes for m in models if m.id == w) for w in warm) / 1e9 > gpu:
            warm.pop()
        provider = PROVIDERS[prov[i]]
        tee = provider == "aws" and rng.random() < 0.5
        nodes.append(
            Node(
                id=f"n{i}",
                lat=float(np.clip(la + rng.normal(0, 1.5), -89, 89)),
                lon=float(np.clip(lo + rng.normal(0, 1.5), -179, 179)),
                roles=roles,
                capacity=int(rng.integers(1, 9)),
                hardware=hardware,
                gpu_memory_gb=gpu,
                price_usd_per_hour=round(
                    float({"cpu": 0.2, "l4": 0.9, "a100": 2.8}[hardware] * rng.uniform(0.6, 1.6)), 3
                ),
                warm_models=tuple(warm) if not storage else (),
                stored_models=tuple(m.id for m in models) if storage else (),
                # TEE executors produce attestations; storage nodes (verification role) check them
                verification_modes={"none", "reexec", "tee"} if tee or storage else {"none", "reexec"},
                provider=provider,
                asn=int(1000 + prov[i] * 10 + rng.integers(0, 3)),
                operator=f"op{int(rng.integers(0, max(5, n // 10)))}",
                data_center=f"{provider}-{CITIES[city[i]][0]}",
                tee_vendor="aws-nitro" if tee else None,
                country=None,
            )
        )
    sources = tuple(DemandSource(name=c, lat=la, lon=lo) for c, la, lo in CITIES)
    return Scenario(name=f"synthetic-{n}", nodes=tuple(nodes), models=models, sources=sources)


def requests_for(sc: Scenario, count: int, seed: int) -> list[Request]:
    """Requests from the scenario's cities for random models, no verification."""
    rng = np.random.default_rng(seed)
    mids = [m.id for m in sc.models]
    out = []
    for _ in range(count):
        s = sc.sources[int(rng.integers(0, len(sc.sources)))]
        out.append(Request(mids[int(rng.integers(0, len(mids)))], s.lat, s.lon, slo_ms=60_000.0))
    return out


def scattered_requests(sc: Scenario, count: int, seed: int) -> list[Request]:
    """Requests from random points within ~3 degrees of the cities (every position distinct)."""
    rng = np.random.default_rng(seed)
    mids = [m.id for m in sc.models]
    out = []
    for _ in range(count):
        s = sc.sources[int(rng.integers(0, len(sc.sources)))]
        lat = float(np.clip(s.lat + rng.normal(0, 3.0), -89, 89))
        lon = float(np.clip(s.lon + rng.normal(0, 3.0), -179, 179))
        out.append(Request(mids[int(rng.integers(0, len(mids)))], lat, lon, slo_ms=60_000.0))
    return out


def tee_requests(sc: Scenario, count: int, seed: int, k: int = 1) -> list[Request]:
    """Requests from the cities for the TEE-capable models, TEE verification with ``k`` verifiers."""
    rng = np.random.default_rng(seed)
    mids = ("tiny", "llama-8b")
    out = []
    for _ in range(count):
        s = sc.sources[int(rng.integers(0, len(sc.sources)))]
        out.append(Request(mids[int(rng.integers(0, 2))], s.lat, s.lon, "tee", k, slo_ms=60_000.0))
    return out


class PlainRouter:
    """The nodeplan policy (no verifiers) as a plain-Python loop over nodes, with the same state rules."""

    def __init__(self, st: RouterState) -> None:
        self.n = st.n_nodes
        self.lat = [math.radians(v) for v in st.arrays.lat]
        self.lon = [math.radians(v) for v in st.arrays.lon]
        self.base = [list(map(float, row)) for row in st.base_ms]
        self.price = [list(map(float, st.price_rate * row)) for row in st.service_s]
        fit = st.rtt.public
        if not isinstance(fit, StretchRtt):
            raise TypeError(f"the plain router re-implements the stretch fit, not {type(fit).__name__}")
        edges = (0.0, *fit.breaks_km, math.inf)
        self.c = fit.intercept_ms
        self.bands = list(zip(edges[:-1], edges[1:], fit.ms_per_km, strict=True))
        self.col = dict(st.model_col)

    def decide(self, req: Request) -> int:
        p1, l1 = math.radians(req.lat), math.radians(req.lon)
        c1 = math.cos(p1)
        base, price = self.base[self.col[req.model]], self.price[self.col[req.model]]
        best, best_price, arg = math.inf, math.inf, -1
        for i in range(self.n):
            b = base[i]
            if b == math.inf:
                continue
            p2 = self.lat[i]
            h = math.sin((p2 - p1) / 2) ** 2 + c1 * math.cos(p2) * math.sin((self.lon[i] - l1) / 2) ** 2
            km = 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))
            t = self.rtt_ms(km) + b
            if t < best - 1e-9 or (abs(t - best) <= 1e-9 and price[i] < best_price):
                best, best_price, arg = t, price[i], i
        return arg

    def time_of(self, req: Request, i: int) -> float:
        """Expected time (ms) of node ``i`` for ``req``, as :meth:`decide` computes it."""
        p1, l1, p2 = math.radians(req.lat), math.radians(req.lon), self.lat[i]
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((self.lon[i] - l1) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))
        return self.rtt_ms(km) + self.base[self.col[req.model]][i]

    def rtt_ms(self, km: float) -> float:
        """The public stretch fit at ``km``, band by band (intercept + slope x km inside each band)."""
        t = self.c
        for lo, hi, slope in self.bands:
            if km <= lo:
                break
            t += slope * (min(km, hi) - lo)
        return t


def check_same_choice(plain: PlainRouter, sc: Scenario, req: Request, ours: str, loop_row: int) -> bool:
    """True when both chose the same node; raise unless their expected times tie within ``TIE_MS``."""
    if sc.nodes[loop_row].id == ours:
        return True
    t_ours = plain.time_of(req, sc.nodes.index(sc.node(ours)))
    t_loop = plain.time_of(req, loop_row)
    if abs(t_ours - t_loop) > TIE_MS:
        raise RuntimeError(
            f"choices differ for {req}: nodeplan {ours} ({t_ours:.6f} ms), "
            f"loop {sc.nodes[loop_row].id} ({t_loop:.6f} ms)"
        )
    return False


def check_same_routes(batch: list[Route], one: list[Route], what: str) -> None:
    """Raise when a batch route differs from the one-by-one route (exact: same arrays, same functions)."""
    for k, (a, b) in enumerate(zip(batch, one, strict=False)):
        if a != b:
            raise RuntimeError(f"{what}: request {k} routed differently: batch {a} vs one by one {b}")


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q))


def bench(
    n: int,
    seed: int,
    singles: int,
    plain_singles: int,
    batch: int,
    plain_batch: int,
    tee_batch: int,
    tee_loop: int,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    sc = synthetic_scenario(n, seed)
    st = RouterState.from_scenario(sc, seed=seed)
    setup = time.perf_counter() - t0
    reqs = requests_for(sc, max(singles, batch), seed + 1)
    for r in reqs[:200]:  # warm-up (first calls pay for numpy dispatch caches)
        route(r, st, commit=False)
    # single decisions (dry runs: the state is the same for every request, as in the loop)
    lat_np, chosen_np = [], []
    for r in reqs[:singles]:
        t = time.perf_counter()
        out = route(r, st, commit=False)
        lat_np.append(time.perf_counter() - t)
        chosen_np.append(out.executor)
    plain = PlainRouter(st)
    lat_py, agree = [], 0
    for r, ours in zip(reqs[:plain_singles], chosen_np, strict=False):
        t = time.perf_counter()
        i = plain.decide(r)
        lat_py.append(time.perf_counter() - t)
        agree += check_same_choice(plain, sc, r, ours, i)
    # batch throughput (dry run; committed routing is timed separately)
    t = time.perf_counter()
    out = route_batch(reqs[:batch], st, commit=False)
    dt_batch = time.perf_counter() - t
    t = time.perf_counter()
    for r in reqs[:plain_batch]:
        plain.decide(r)
    dt_plain = time.perf_counter() - t
    st2 = st.copy()
    t = time.perf_counter()
    route_batch(reqs[:batch], st2, commit=True)
    dt_commit = time.perf_counter() - t
    t = time.perf_counter()
    _ = list(out)
    dt_build = time.perf_counter() - t
    # every user position distinct: one RTT row per request
    scat = scattered_requests(sc, batch, seed + 2)
    t = time.perf_counter()
    scat_out = route_batch(scat, st, commit=False)
    dt_scat = time.perf_counter() - t
    t = time.perf_counter()
    scat_loop = [plain.decide(r) for r in scat[:plain_batch]]
    dt_scat_plain = time.perf_counter() - t
    scat_agree = sum(
        check_same_choice(plain, sc, r, scat_out[k].executor, i)
        for k, (r, i) in enumerate(zip(scat, scat_loop, strict=False))
    )
    # TEE with K = 1 and K = 2 independent verifiers: the batch against route() called one by one
    tee_rows = {}
    for k in (1, 2):
        tee = tee_requests(sc, tee_batch, seed + 3, k)
        fresh = st.copy()
        t = time.perf_counter()
        tee_out = route_batch(tee, fresh, commit=False)
        dt_tee = time.perf_counter() - t
        one = st.copy()
        t = time.perf_counter()
        tee_one = [route(r, one, commit=False) for r in tee[:tee_loop]]
        dt_tee_one = time.perf_counter() - t
        check_same_routes(tee_out[: len(tee_one)], tee_one, f"tee K={k}, {n} nodes")
        tee_rows[k] = {
            "rps": tee_batch / dt_tee,
            "one_rps": len(tee_one) / dt_tee_one,
            "compared": len(tee_one),
            "indep": sum(not r.degraded for r in tee_one) / max(len(tee_one), 1),
        }
    return {
        "n": n,
        "setup_s": setup,
        "p50_us": _pct(lat_np, 50) * 1e6,
        "p99_us": _pct(lat_np, 99) * 1e6,
        "py_p50_us": _pct(lat_py, 50) * 1e6,
        "py_p99_us": _pct(lat_py, 99) * 1e6,
        "agree": agree / max(len(lat_py), 1),
        "batch_rps": batch / dt_batch,
        "commit_rps": batch / dt_commit,
        "py_rps": plain_batch / dt_plain,
        "build_us": dt_build / batch * 1e6,
        "scat_rps": batch / dt_scat,
        "scat_py_rps": min(plain_batch, batch) / dt_scat_plain,
        "scat_agree": scat_agree / max(min(plain_batch, batch), 1),
        "tee": tee_rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only 100 and 1,000 nodes")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    plan = [(100, 2000, 300, 20000, 2000, 5000, 1000), (1000, 2000, 200, 20000, 300, 5000, 500)]
    if not args.quick:
        plan += [(10_000, 500, 20, 5000, 20, 500, 50), (100_000, 100, 3, 300, 3, 50, 5)]
    rows = []
    print(
        f"{'nodes':>7} | {'single p50':>10} {'p99':>8} | {'loop p50':>10} {'p99':>9} | {'ratio':>6} | "
        f"{'batch dec/s':>11} {'commit/s':>9} {'loop dec/s':>10} {'ratio':>6} | same | setup"
    )
    for n, singles, plain_singles, batch, plain_batch, tee_batch, tee_loop in plan:
        r = bench(n, args.seed, singles, plain_singles, batch, plain_batch, tee_batch, tee_loop)
        rows.append(r)
        print(
            f"{n:>7,} | {r['p50_us']:>8.0f}us {r['p99_us']:>6.0f}us | {r['py_p50_us']:>8.0f}us {r['py_p99_us']:>7.0f}us"
            f" | {r['py_p50_us'] / r['p50_us']:>5.0f}x | {r['batch_rps']:>11,.0f} {r['commit_rps']:>9,.0f} "
            f"{r['py_rps']:>10,.0f} {r['batch_rps'] / r['py_rps']:>5.0f}x | {r['agree']:.0%} | {r['setup_s']:.1f}s",
            flush=True,
        )
    print(
        "single = route(request, state, commit=False); batch = route_batch(commit=False), Route objects built "
        "lazily; commit/s = route_batch(commit=True); loop = plain-Python nodeplan policy; same = share of "
        f"single decisions where both chose the same executor (any other is an equal-time tie within {TIE_MS} "
        "ms, else the script raises)"
    )
    print()
    print(f"{'nodes':>7} | {'scattered dec/s':>15} {'loop dec/s':>10} {'ratio':>6} {'same':>5}")
    for r in rows:
        print(
            f"{r['n']:>7,} | {r['scat_rps']:>15,.0f} {r['scat_py_rps']:>10,.0f} "
            f"{r['scat_rps'] / r['scat_py_rps']:>5.0f}x {r['scat_agree']:>5.0%}"
        )
    print(
        "scattered = route_batch(commit=False) from a distinct position per request (one RTT row each) vs the "
        "plain loop (same: as above)"
    )
    print()
    print(
        f"{'nodes':>7} | {'K':>2} | {'tee batch/s':>11} {'route() loop/s':>14} {'ratio':>6} | {'checked':>7} {'indep':>6}"
    )
    for r in rows:
        for k, t in r["tee"].items():
            print(
                f"{r['n']:>7,} | {k:>2} | {t['rps']:>11,.0f} {t['one_rps']:>14,.0f} {t['rps'] / t['one_rps']:>5.1f}x"
                f" | {t['compared']:>7,} {t['indep']:>6.0%}"
            )
    print(
        "tee = route_batch(commit=False) with TEE verification and K independent verifiers vs route(commit=False) "
        "called one by one on a fresh copy of the state; checked = routes compared, all identical (else the "
        "script raises); indep = share of those routes with an independent verifier set (not degraded)"
    )


if __name__ == "__main__":
    main()
