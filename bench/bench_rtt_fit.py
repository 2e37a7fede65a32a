"""How well does the RTT model predict round trips it was not fitted on, against simple baselines?

Accuracy per great-circle band (< 1,000 km, 1,000-5,000 km, > 5,000 km): median absolute percentage
error (APE) and signed bias (median of (pred - meas) / meas), pooled over cross-validation folds that
hold out whole regions or whole continents (never a random split of pairs), for

* **ours**: the stretch model (:func:`nodeplan.model.fit.fit_stretch`, the loss the shipped file uses),
  refitted on the training pairs of each fold;
* **old line**: the line that shipped before (backbone 10.021 + 0.015688·km, public 14.79 + 0.016893·km),
  fixed (fitted on *all* pairs, so in-sample for the held-out ones: a generous baseline);
* **L1 line**: the old estimator (:func:`nodeplan.model.fit.fit_l1`) refitted on each fold;
* **5 + 0.0156·km**: the plain line the issue compares against;
* **fibre**: the physical lower bound km / 100 ms;

and the ratio of our median APE to each baseline's (< 1: ours is better). The backbone is scored on its
fit target, AWS p50 less the measuring method's intra-region overhead, and also on the raw p50.

``--external FILE`` adds the check the goal is about: the shipped backbone coefficients on inter-region
RTTs of other clouds, which no fit saw (CSV ``provider,region_a,lat_a,lon_a,region_b,lat_b,lon_b,rtt_ms``,
one row per pair). Last, the hot path: ``rtt_ms_km`` on a (64, 20,000) array of km, ours vs the line.

Run: ``python bench/bench_rtt_fit.py [--data DIR] [--external FILE]`` (default data: ``tests/data/latency``)
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchdata import data_path
from nodeplan.model.fit import (
    BANDS,
    BandScore,
    CvScheme,
    PairSample,
    band_scores,
    cross_validate,
    fit_l1,
    load_aws_cloudping,
    load_wonderproxy,
    stretch_fitter,
)
from nodeplan.model.geo import great_circle_km
from nodeplan.model.rtt import LinearRtt, RttFit, default_rtt_model

DEFAULT_DATA = data_path("latency")

Fitter = Callable[[NDArray[np.float64], NDArray[np.float64]], RttFit]
OLD_LINE = {"public": LinearRtt(14.79, 0.016893), "backbone": LinearRtt(10.021, 0.015688)}
PLAIN = LinearRtt(5.0, 0.0156)
FIBRE = LinearRtt(0.0, 0.0)  # floored at km / 100: the fibre bound itself


def _fixed(fit: RttFit) -> Fitter:
    return lambda km, y: fit


def _l1_line(km: NDArray[np.float64], y: NDArray[np.float64]) -> RttFit:
    return fit_l1(km, y).rtt()


def _cells(s: dict[str, BandScore]) -> str:
    return "  ".join(f"{s[b].median_ape_pct:5.1f} {s[b].bias_pct:+6.1f}" for b, _, _ in BANDS)


def _header(label: str) -> None:
    bands = "  ".join(f"{b:>12}" for b, _, _ in BANDS)
    print(f"  {label:<22}{bands}    (each band: median APE %, bias %)")


def _table(rows: dict[str, dict[str, BandScore]]) -> None:
    ours = rows["ours"]
    for name, s in rows.items():
        ratio = ""
        if name != "ours":
            ratio = "   ours/this APE: " + " ".join(
                f"{ours[b].median_ape_pct / s[b].median_ape_pct:4.2f}" for b, _, _ in BANDS
            )
        print(f"  {name:<22}{_cells(s)}{ratio}")


def _cv_report(sample: PairSample, part: str, loss: str, raw: PairSample | None = None) -> None:
    predictors: dict[str, Fitter] = {
        "ours": stretch_fitter(loss),
        "old line (fixed)": _fixed(OLD_LINE[part]),
        "L1 line (refitted)": _l1_line,
        "5 + 0.0156 km": _fixed(PLAIN),
        "fibre km/100": _fixed(FIBRE),
    }
    for scheme in CvScheme:
        t0 = time.perf_counter()
        runs = {name: cross_validate(sample, f, scheme) for name, f in predictors.items()}
        sec = time.perf_counter() - t0
        print(
            f"{part}, {sample.name}: {scheme.value}, {runs['ours'].n_folds} folds, {sample.n_pairs} pairs ({sec:.1f} s)"
        )
        _header("model")
        _table({name: r.scores() for name, r in runs.items()})
        if raw is not None:
            print("  the same held-out predictions against the raw p50 (the method's overhead included):")
            _table({name: band_scores(r.km, r.predicted_ms, raw.rtt_ms[r.pair]) for name, r in runs.items()})


def _external(path: str) -> None:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    provider = np.array([r["provider"] for r in rows])
    km = great_circle_km(
        np.array([float(r["lat_a"]) for r in rows]), np.array([float(r["lon_a"]) for r in rows]),
        np.array([float(r["lat_b"]) for r in rows]), np.array([float(r["lon_b"]) for r in rows]),
    )  # fmt: skip
    rtt = np.array([float(r["rtt_ms"]) for r in rows])
    ours = default_rtt_model().backbone
    models: dict[str, RttFit] = {
        "ours": ours,
        "old line (fixed)": OLD_LINE["backbone"],
        "5 + 0.0156 km": PLAIN,
    }
    models["fibre km/100"] = FIBRE
    groups = [(p, provider == p) for p in sorted(set(provider))] + [("pooled", np.ones(provider.size, bool))]
    print(f"held-out clouds ({path}): the shipped backbone coefficients, which never saw these pairs")
    for name, m in groups:
        print(f"  {name}: {int(m.sum())} pairs")
        _header("model")
        _table({k: band_scores(km[m], f.rtt_ms_km(km[m]), rtt[m]) for k, f in models.items()})


def _speed() -> None:
    rng = np.random.default_rng(0)
    km = rng.uniform(0.0, 20000.0, (64, 20000))
    ours, line = default_rtt_model().public, OLD_LINE["public"]
    times = {}
    for name, f in (("ours", ours), ("line", line)):
        f.rtt_ms_km(km)
        best = np.inf
        for _ in range(7):
            t0 = time.perf_counter()
            f.rtt_ms_km(km)
            best = min(best, time.perf_counter() - t0)
        times[name] = best
    print(
        f"hot path rtt_ms_km on a {km.shape} array: ours {1e3 * times['ours']:.1f} ms, line "
        f"{1e3 * times['line']:.1f} ms (best of 7; ours/line {times['ours'] / times['line']:.2f})"
    )


def main() -> None:
    """Print the cross-validated accuracy tables, the external check (if given) and the hot-path timing."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder with the latency data files")
    ap.add_argument("--external", help="CSV of other clouds' inter-region RTTs (see the module docstring)")
    args = ap.parse_args()
    shipped = json.loads(
        resources.files("nodeplan.model").joinpath("data", "rtt_fit.json").read_text("utf-8")
    )
    aws = load_aws_cloudping(args.data)
    _cv_report(aws.net_of_overhead(), "backbone", shipped["backbone"]["loss"], raw=aws)
    _cv_report(load_wonderproxy(args.data), "public", shipped["public"]["loss"])
    if args.external:
        _external(args.external)
    _speed()


if __name__ == "__main__":
    main()
