"""Benchmark: Monte Carlo failures, vectorised sampler + evaluation vs a naive per-trial Python loop.

Both sides run the built-in opengradient scenario with the same trials and seed and read the *same*
uniforms (``sample_uniforms`` per chunk), then:

* ours (:func:`nodeplan.simulation.run_trials`): failed domains = ``u < p`` for the whole chunk, down nodes
  by one boolean matrix product, capacity/replicas as matrix products, consensus (halted, fragile) by the
  consensus model's mask path, the serving check once
  per distinct down set;
* naive: for each trial, for each domain, for each node, mark the node down when the domain failed and
  the node has its value; then the serving check (the audit's ``ServingModel.outcome``) for that trial,
  and capacity, stake, halted/fragile and replicas with Python loops over nodes (fragile: a surviving
  domain of any of the audit's failure dimensions holds 1/3 of the surviving stake).

The two must agree or the bench raises: failed domains, down counts, halted/fragile/unreplicated flags and
the served/verified shares exactly (the serving check is the same function on the same down set); the
capacity and stake shares within 1e-12 (sums in another order). Each side is timed once with a fresh
process-level cache (the first run is the one a user pays for). Then ours with 1 and 2 worker processes on
a longer run (results asserted identical). Then, when Ray is installed (``pip install '.[ray]'``), the
same longer run on the Ray backend (one task per chunk, 2 CPUs, 80 MiB object store) vs the local
backend with 1 worker: Ray's start-up is timed on its own, results asserted identical. Ray's usage
statistics are off (``RAY_USAGE_STATS_ENABLED=0``).

Run: ``python bench/bench_montecarlo.py``
"""

from __future__ import annotations

import importlib.util
import os
import time

import numpy as np

from nodeplan.metrics.failure import failure_dimensions
from nodeplan.model.codes import compile_network
from nodeplan.scenario.io import load_builtin
from nodeplan.scenario.model import Role
from nodeplan.simulation.backends import RAY_NUM_CPUS, RAY_OBJECT_STORE_BYTES, RAY_USAGE_STATS_ENV
from nodeplan.simulation.montecarlo import ChunkOutcomes, TrialEvaluator, run_trials
from nodeplan.simulation.sampling import CHUNK_TRIALS, chunk_bounds, sample_uniforms, seed_sequence

SEED = 2026
TRIALS = 2 * CHUNK_TRIALS  # naive side: ~2-3 ms per trial
TRIALS_WORKERS = 16 * CHUNK_TRIALS


def naive(ev: TrialEvaluator, trials: int, seed: int) -> dict[str, np.ndarray]:
    """Per-trial Python loops over domains and nodes (see the module docstring)."""
    a, fd = ev.arrays, ev.domains
    n, m = a.n_nodes, len(a.model_ids)
    live = [bool(x) for x in a.up]
    is_exec = [bool(x) for x in a.role(Role.EXECUTION)]
    is_coord = [bool(x) for x in a.role(Role.COORDINATION)]
    is_storage = [bool(x) for x in a.role(Role.STORAGE)]
    cap = [float(x) for x in a.capacity]
    stake = [float(x) for x in a.stake]
    cap_total = sum(cap[i] for i in range(n) if is_exec[i] and live[i])
    stake_total = sum(stake[i] for i in range(n) if is_coord[i])
    # Code of each node in each of the audit's failure dimensions (-1 = unknown): fragile looks at them all.
    arrays = compile_network(ev.scenario)  # the evaluator's codes: completed once, providers from ASNs
    codes = arrays.dim_codes
    value_of = [
        [int(codes[i, arrays.dim_index(dim)]) for i in range(n)]
        for dim in failure_dimensions(ev.scenario, arrays)
    ]
    out: dict[str, list] = {
        k: [] for k in ("failed", "down", "served", "verified", "cap", "stake", "halt", "fragile", "unrep")
    }
    root = seed_sequence(seed)
    for c, (_, size) in enumerate(chunk_bounds(trials, CHUNK_TRIALS)):
        u = sample_uniforms(root, c, size, fd.n_domains)
        for t in range(size):
            failed = [bool(u[t, d] < fd.probability[d]) for d in range(fd.n_domains)]
            down = [False] * n
            for d in range(fd.n_domains):
                if failed[d]:
                    for i in range(n):
                        if fd.incidence[d, i] and live[i]:
                            down[i] = True
            o = ev.serving.outcome(np.array(down)) if ev.serving is not None else None
            lost_cap = sum(cap[i] for i in range(n) if down[i] and is_exec[i] and live[i])
            alive = sum(stake[i] for i in range(n) if is_coord[i] and live[i] and not down[i])
            halted = not (alive / stake_total > 2 / 3 + 1e-12)
            fragile = False
            for codes_j in value_of:
                if halted or alive <= 0:
                    break
                per_value: dict[int, float] = {}
                for i in range(n):
                    v = codes_j[i]
                    if v >= 0 and is_coord[i] and live[i] and not down[i] and stake[i] > 0:
                        per_value[v] = per_value.get(v, 0.0) + stake[i]
                if per_value and max(per_value.values()) / alive >= 1 / 3 - 1e-12:
                    fragile = True
            unrep = []
            for k in range(m):
                unrep.append(
                    not any(a.stored[i, k] and is_storage[i] and live[i] and not down[i] for i in range(n))
                )
            out["failed"].append(failed)
            out["down"].append(sum(down))
            out["served"].append(o.demand_served if o else None)
            out["verified"].append(o.verified if o else None)
            out["cap"].append(lost_cap / cap_total)
            out["stake"].append(alive / stake_total)
            out["halt"].append(halted)
            out["fragile"].append(fragile)
            out["unrep"].append(unrep)
    return {k: np.array(v) for k, v in out.items()}


def _agree(ours, ref: dict[str, np.ndarray]) -> None:
    checks = {
        "failed domains": np.array_equal(ours.failed(), ref["failed"]),
        "down nodes": np.array_equal(ours.down, ref["down"]),
        "served": np.array_equal(ours.served, ref["served"].astype(float)),
        "verified": np.array_equal(ours.verified, ref["verified"].astype(float)),
        "capacity lost": np.allclose(ours.capacity_lost, ref["cap"], rtol=0, atol=1e-12),
        "stake alive": np.allclose(ours.stake_alive, ref["stake"], rtol=0, atol=1e-12),
        "halted": np.array_equal(ours.halted, ref["halt"]),
        "fragile": np.array_equal(ours.fragile, ref["fragile"]),
        "unreplicated": np.array_equal(ours.unreplicated, ref["unrep"]),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise RuntimeError(f"vectorised and naive Monte Carlo disagree on: {', '.join(bad)}")


def main() -> None:
    sc = load_builtin("opengradient")
    ev = TrialEvaluator(sc)
    print(
        f"scenario {sc.name}: {ev.arrays.n_nodes} nodes, {ev.domains.n_domains} failure domains, seed {SEED}"
    )

    t0 = time.perf_counter()
    ours = run_trials(sc, TRIALS, seed=SEED, evaluator=TrialEvaluator(sc))
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = naive(ev, TRIALS, SEED)
    t_naive = time.perf_counter() - t0
    _agree(ours, ref)
    print(f"{TRIALS:,} trials, results identical (served/verified exact, capacity/stake within 1e-12)")
    print(f"  vectorised : {t_ours:6.2f} s  {TRIALS / t_ours:9,.0f} trials/s")
    print(f"  naive loop : {t_naive:6.2f} s  {TRIALS / t_naive:9,.0f} trials/s")
    print(f"  ratio      : {t_naive / t_ours:.1f}x faster")

    t0 = time.perf_counter()
    one = run_trials(sc, TRIALS_WORKERS, seed=SEED, workers=1)
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    two = run_trials(sc, TRIALS_WORKERS, seed=SEED, workers=2)
    t2 = time.perf_counter() - t0
    if not (np.array_equal(one.failed_bits, two.failed_bits) and np.array_equal(one.served, two.served)):
        raise RuntimeError("1 and 2 workers disagree")
    print(
        f"{TRIALS_WORKERS:,} trials, 1 vs 2 worker processes (results identical; 2 includes process start-up)"
    )
    print(f"  1 worker   : {t1:6.2f} s  {TRIALS_WORKERS / t1:9,.0f} trials/s")
    print(f"  2 workers  : {t2:6.2f} s  {TRIALS_WORKERS / t2:9,.0f} trials/s")
    print(f"  ratio      : {t1 / t2:.2f}x")
    bench_ray(sc, one, t1)


def bench_ray(sc, local, t_local: float) -> None:
    """Ray backend vs local (1 worker) on the longer run; Ray start-up timed separately."""
    if importlib.util.find_spec("ray") is None:
        print("ray backend: skipped (Ray not installed: pip install '.[ray]')")
        return
    import ray

    os.environ[RAY_USAGE_STATS_ENV] = "0"  # no usage statistics from a benchmark's Ray
    t0 = time.perf_counter()
    ray.init(
        num_cpus=RAY_NUM_CPUS,
        object_store_memory=RAY_OBJECT_STORE_BYTES,
        include_dashboard=False,
        log_to_driver=False,
    )
    t_start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        got = run_trials(sc, TRIALS_WORKERS, seed=SEED, backend="ray")
        t_ray = time.perf_counter() - t0
    finally:
        ray.shutdown()
    for f in ChunkOutcomes._fields:
        a, b = getattr(local, f), getattr(got, f)
        if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            raise RuntimeError(f"ray and local backends disagree on {f}")
    print(
        f"{TRIALS_WORKERS:,} trials, ray backend ({RAY_NUM_CPUS} CPUs, one task per chunk) vs local "
        "1 worker (results identical)"
    )
    print(f"  ray start  : {t_start:6.2f} s  (ray.init, not in the ray figure below)")
    print(f"  local      : {t_local:6.2f} s  {TRIALS_WORKERS / t_local:9,.0f} trials/s")
    print(f"  ray        : {t_ray:6.2f} s  {TRIALS_WORKERS / t_ray:9,.0f} trials/s")
    print(f"  ratio      : {t_local / t_ray:.2f}x")


if __name__ == "__main__":
    main()
