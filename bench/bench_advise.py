"""Benchmark: ``advise`` on 50 candidate nodes of the built-in scenario, incremental vs a full audit each.

Ours (``method="incremental"``) compiles the baseline once, computes only the measures the score uses and
the serving outcome once per distinct set of failed live nodes, and reuses the baseline's outcomes for
candidates the serving check cannot see. The baseline (``method="naive"``) runs the full
:func:`nodeplan.metrics.audit.audit_scenario` per candidate. Both also route the demand once per candidate
(expected time). The script checks that both give the same ranking and numbers, then prints both times
and their ratio.

Candidates: the six shipped example candidates, each copied to random cities of the scenario's demand
sources and onto providers drawn from the scenario's (aws, hetzner, ovh, ...) and from new ones (seeded).

Run: ``python bench/bench_advise.py``
"""

from __future__ import annotations

import math
import time

import numpy as np

from nodeplan.placement.advise import advise, load_builtin_candidates
from nodeplan.scenario.io import load_builtin
from nodeplan.scenario.model import Node, Scenario

N_CANDIDATES = 50
SEED = 0
PROVIDERS = ("aws", "google-cloud", "hetzner", "ovh", "latitude-sh", "vultr", "new-a", "new-b", "new-c")


def candidates(sc: Scenario, n: int, seed: int) -> list[Node]:
    """``n`` candidates: shipped templates moved to random demand cities and providers (seeded)."""
    rng = np.random.default_rng(seed)
    templates = load_builtin_candidates(sc)
    out = []
    for i in range(n):
        t = templates[i % len(templates)]
        src = sc.sources[int(rng.integers(len(sc.sources)))]
        prov = PROVIDERS[int(rng.integers(len(PROVIDERS)))]
        out.append(
            t.model_copy(
                update={
                    "id": f"{t.id}-{i}",
                    "lat": src.lat,
                    "lon": src.lon,
                    "country": src.country,
                    "jurisdiction": src.country,
                    "provider": prov,
                    "provider_region": f"{prov}-{src.name.lower().replace(' ', '-')}",
                    "data_center": f"{prov}-{i}",
                    "asn": None if prov.startswith("new") else t.asn,
                    "operator": f"bench-op-{i % 7}",
                }
            )
        )
    return out


def _flat(x: object, key: str = "") -> dict[str, object]:
    if isinstance(x, dict):
        return {k2: v for k, v in x.items() for k2, v in _flat(v, f"{key}.{k}").items()}
    return {key: x}


def _check_equal(a: dict[str, object], b: dict[str, object]) -> None:
    fa, fb = _flat(a), _flat(b)
    if fa.keys() != fb.keys():
        raise SystemExit(f"different fields: {sorted(fa.keys() ^ fb.keys())}")
    for k, x in fa.items():
        y = fb[k]
        same = (
            math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
            if isinstance(x, float) and isinstance(y, float)
            else x == y
        )
        if not same:
            raise SystemExit(f"incremental and naive differ at {k}: {x!r} vs {y!r}")


def main() -> None:
    sc = load_builtin()
    cands = candidates(sc, N_CANDIDATES, SEED)
    t0 = time.perf_counter()
    ours = advise(sc, cands)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = advise(sc, cands, method="naive")
    t_naive = time.perf_counter() - t0
    _check_equal(ours.to_dict(), naive.to_dict())
    print(f"advise on scenario {sc.name}: {len(sc.nodes)} nodes, {N_CANDIDATES} candidates (seed {SEED})")
    print(f"  incremental (ours)         {t_ours:7.2f} s   {1000 * t_ours / N_CANDIDATES:6.1f} ms/candidate")
    print(
        f"  naive (full audit each)    {t_naive:7.2f} s   {1000 * t_naive / N_CANDIDATES:6.1f} ms/candidate"
    )
    print(
        f"  ratio naive / ours         {t_naive / t_ours:7.2f}x   (same ranking, scores and measures: checked)"
    )
    top = ours.ranked[0]
    print(f"  best candidate: {top.node} ({top.score:+.3f}): {top.reasons[0]}")


if __name__ == "__main__":
    main()
