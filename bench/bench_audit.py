"""Benchmark: full audit of the 17k-node Ethereum list vs a straightforward pandas groupby version.

Both sides compute, for every role cut ("all" and "coordination") and every dimension with data, the
per-entity weights and all measures (Nakamoto 50% and 1/3, HHI, entropy, effective numbers, Gini, Theil,
top-1/top-3, unknown share), the effective number of independent failure domains (inclusion-exclusion
over the independence dimensions), and the single-domain failure table (nodes, weight, capacity and
stake lost per value of each dependency dimension, sorted). Ours starts from the numpy view
(``compile_network``), pandas from a DataFrame of the same nodes; building each input is timed apart.
Both run the same number of times (best of ``REPEATS``). The two results must agree, or the bench raises:
per measure cut, Nakamoto 50%/1/3 exactly and HHI, entropy, Gini, Theil, top-1, top-3 and the unknown
share within 1e-9; the effective domains within 1e-9 relative; per failure row, the node count exactly and
the weight, capacity and stake shares lost within 1e-9.

Run: ``python bench/bench_audit.py [path/to/ethereum_el_nodes.csv]`` (default: the copy in ``tests/data/nodes``)
"""

from __future__ import annotations

import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from benchdata import data_path
from nodeplan.metrics.audit import audit_scenario
from nodeplan.metrics.graph import ancestor_closure
from nodeplan.model.codes import compile_network
from nodeplan.scenario.importers import import_nodes
from nodeplan.scenario.model import DEPENDENCY_DIMENSIONS, Role

DATA = data_path("nodes/ethereum_el_nodes_2025-11-22.csv")
REPEATS = 3
TOL = 1e-9


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"nodeplan and the pandas baseline disagree on {what}")


def _close(what: str, ours: float | None, ref: float) -> None:
    ok = ours is not None and abs(ours - ref) <= TOL
    _check(ok, f"{what}: nodeplan {ours!r}, pandas {ref!r}")


def _best(fn) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(REPEATS):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _measures_pandas(s: pd.Series) -> dict[str, float]:
    """All measures of one per-entity weight series, written the plain pandas way."""
    w = s.sort_values(ascending=False)
    total = w.sum()
    p = w / total
    cum = p.cumsum()
    nak = lambda th: int((cum < th - 1e-12).sum()) + 1  # noqa: E731
    pp = p[p > 0]
    h = float(-(pp * np.log2(pp)).sum())
    asc = w.sort_values().to_numpy()
    n = len(asc)
    gini = float(((2 * np.arange(1, n + 1) - n - 1) * asc).sum() / (n * total))
    x = w / (total / n)
    x = x[x > 0]
    return {
        "entities": int((w > 0).sum()),
        "nakamoto_50": nak(0.5),
        "nakamoto_33": nak(1 / 3),
        "hhi": float(((100 * p) ** 2).sum()),
        "entropy": h,
        "entropy_norm": h / np.log2((w > 0).sum()) if (w > 0).sum() > 1 else 0.0,
        "eff_entropy": 2**h,
        "gini": gini,
        "theil": float((x * np.log(x)).sum() / n),
        "top1": float(p.iloc[0]),
        "top3": float(p.iloc[:3].sum()),
    }


def pandas_audit(df: pd.DataFrame, dims: list[str], fail_dims: list[str], ind: list[str]) -> dict:
    out: dict = {"measures": {}, "domains": {}, "failures": []}
    live = df[df["up"]]
    for role, sub in (("all", live), ("coordination", live[live["coordination"]])):
        for d in dims:
            g = sub.groupby(d, dropna=False)["w"].sum()  # NaN = the "unknown" entity
            m = _measures_pandas(g)
            m["unknown"] = float(sub.loc[sub[d].isna(), "w"].sum() / sub["w"].sum())
            out["measures"][(d, role)] = m
        total = sub["w"].sum()
        p = 0.0
        for k in range(1, len(ind) + 1):
            for subset in combinations(ind, k):
                gw = sub.dropna(subset=list(subset)).groupby(list(subset))["w"].sum() / total
                p += (1 if k % 2 else -1) * float((gw**2).sum())
        out["domains"][role] = 1 / p
    exec_cap = live["capacity"].where(live["execution"], 0.0)
    for d in fail_dims:
        g = (
            live.assign(cap=exec_cap)
            .groupby(d)
            .agg(nodes=("w", "size"), w=("w", "sum"), cap=("cap", "sum"), stake=("stake", "sum"))
        )
        g["w"] /= live["w"].sum()
        g["cap"] = g["cap"] / exec_cap.sum() if exec_cap.sum() > 0 else 0.0
        g["stake"] = g["stake"] / df["stake"].sum() if df["stake"].sum() > 0 else 0.0
        out["failures"] += [(d, str(v), int(r.nodes), r.w, r.cap, r.stake) for v, r in g.iterrows()]
    out["failures"].sort(key=lambda r: -r[3])
    return out


def compare(res, ref: dict) -> int:
    """Raise unless nodeplan's audit ``res`` and the pandas result ``ref`` agree; return values compared."""
    n = 0
    for (d, role), m in ref["measures"].items():
        ours = res.measure(d, role)
        cut = f"{d}/{role}"
        _check(ours.nakamoto_50 == m["nakamoto_50"], f"{cut} nakamoto 50%")
        _check(ours.nakamoto_33 == m["nakamoto_33"], f"{cut} nakamoto 1/3")
        _close(f"{cut} hhi", ours.hhi, m["hhi"])
        _close(f"{cut} entropy", ours.entropy_bits, m["entropy"])
        _close(f"{cut} gini", ours.gini, m["gini"])
        _close(f"{cut} theil", ours.theil, m["theil"])
        _close(f"{cut} top-1", ours.top1_share, m["top1"])
        _close(f"{cut} top-3", ours.top3_share, m["top3"])
        _close(f"{cut} unknown share", ours.unknown_share, m["unknown"])
        n += 9
    for role, eff in ref["domains"].items():
        ours_eff = next(s for s in res.summary if s.role == role).effective_domains
        _check(abs(ours_eff - eff) <= TOL * eff, f"effective domains {role}: {ours_eff!r} vs {eff!r}")
        n += 1
    ours_rows = {(r.dimension, r.value): r for r in res.failure_rows}
    ref_keys = {(d, v) for d, v, *_ in ref["failures"]}
    _check(set(ours_rows) == ref_keys, f"failure rows ({len(ours_rows)} vs {len(ref_keys)})")
    for d, v, nodes, w, cap, stake in ref["failures"]:
        r = ours_rows[(d, v)]
        _check(r.nodes == nodes, f"failure {d}={v} nodes: {r.nodes} vs {nodes}")
        _close(f"failure {d}={v} weight share", r.share_lost, w)
        _close(f"failure {d}={v} capacity share", r.capacity_lost, cap)
        _close(f"failure {d}={v} stake share", r.stake_lost, stake)
        n += 4
    return n


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    t = time.perf_counter()
    scn = import_nodes(path, "ethereum").scenario
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    arrays = compile_network(scn)
    t_compile = time.perf_counter() - t

    ours_s, res = _best(lambda: audit_scenario(scn, "count", arrays=arrays))

    t = time.perf_counter()
    df = pd.DataFrame({d: [n.dim(d) for n in scn.nodes] for d in arrays.dims})
    df["w"] = 1.0
    df["up"] = arrays.up
    df["capacity"] = arrays.capacity.astype(float)
    df["stake"] = arrays.stake
    df["execution"] = arrays.role(Role.EXECUTION)
    df["coordination"] = arrays.role(Role.COORDINATION)
    t_frame = time.perf_counter() - t
    dims = [d for d in arrays.dims if df[d].notna().any()]
    fail_dims = [d for d in arrays.dims if d in DEPENDENCY_DIMENSIONS and df[d].notna().any()]
    ind = [d for d in ancestor_closure(scn.policy.independence, arrays.dims) if df[d].notna().any()]
    pandas_s, ref = _best(lambda: pandas_audit(df, dims, fail_dims, ind))

    # Same answers (Ethereum nodes carry no data center, so completing codes changes nothing here).
    n_compared = compare(res, ref)

    n_meas = len(res.measures)
    print(
        f"Ethereum EL nodes: {arrays.n_nodes} nodes, {len(dims)} dimensions with data, {n_meas} measure cuts, "
        f"{len(res.failure_rows)} failure rows"
    )
    print(
        f"  input: import CSV {t_import:.2f} s, compile_network {t_compile:.2f} s, pandas DataFrame {t_frame:.2f} s"
    )
    print(f"  nodeplan audit_scenario (best of {REPEATS}): {ours_s * 1000:.0f} ms")
    print(f"  pandas groupby baseline (best of {REPEATS}): {pandas_s * 1000:.0f} ms")
    print(
        f"  agreement: {n_compared} values compared (measures, effective domains, failure rows), all within {TOL:g}"
    )
    print(
        f"  ratio pandas / nodeplan: {pandas_s / ours_s:.1f}x   (goal: audit under 1 s: "
        f"{'met' if ours_s < 1.0 else 'NOT met'}; with compile_network: {ours_s + t_compile:.2f} s)"
    )
    print(f"  headline: {res.headline}")


if __name__ == "__main__":
    main()
