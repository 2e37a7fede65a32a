"""Fit ``RTT = a + b·km`` on the real measurements in ``../shared/data/latency`` and write ``rtt_fit.json``.

Two data sets, one fit each (see ``../shared/data/README.md`` for provenance):

* **public internet** — WonderProxy "A day in the life of the Internet" (2020-07-19), city-to-city ICMP
  pings, column ``avg`` (ms);
* **backbone** — AWS inter-region TCP-connect RTT, p50 over one year (cloudping.co snapshot 2025-05-29),
  with metro coordinates from ``aws_region_coords_curated.csv``.

Cleaning (the data README's "known defects"): WonderProxy servers 99 (Guatemala) and 98 (Panama) have
their coordinates swapped and are fixed; 220 (La Ceiba), 3 (Prague), 190 (Rome), 204 (Belfast) and
139 (Wellington) are mislocated (faster-than-fibre pairs) and dropped, as are ping ids with no server row.
Self-pairs are dropped; both directions of an unordered pair are averaged, and a pair measured in one
direction only is dropped (that is the variant closest to the README's published figures; see
``docs/latency.md``). Distances are great-circle km with R = 6371 km.

Two estimators: ordinary least squares, and L1 (least absolute deviations, i.e. median regression).
The L1 fit is exact up to ``1e-12`` in the slope: for a fixed slope ``b`` the best intercept is
``median(y - b·x)``, and the profile ``g(b) = Σ|y - b·x - median(y - b·x)|`` is convex in ``b``
(a partial minimum of a jointly convex function), so a golden-section search on ``b`` finds the optimum.
No solver is needed at run time.

Run ``python -m nodeplan.model.fit --data ../shared/data/latency --out src/nodeplan/model/data/rtt_fit.json``
to regenerate the shipped coefficients.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.exceptions import LatencyModelError
from nodeplan.model.geo import FIBER_KM_PER_MS, fiber_rtt_ms, great_circle_km

__all__ = [
    "AWS_COORDS_FILE",
    "AWS_PING_FILE",
    "WONDERPROXY_MISLOCATED",
    "WONDERPROXY_PINGS_FILE",
    "WONDERPROXY_SERVERS_FILE",
    "WONDERPROXY_SWAPPED",
    "Estimator",
    "HoldoutScore",
    "LineFit",
    "PairSample",
    "abs_pct_error",
    "build_fit_document",
    "fit_l1",
    "fit_least_squares",
    "fit_line",
    "holdout_score",
    "holdout_split",
    "load_aws_cloudping",
    "load_wonderproxy",
    "main",
]

WONDERPROXY_PINGS_FILE = "wonderproxy_pings_2020-07-19_grouped.csv"
WONDERPROXY_SERVERS_FILE = "wonderproxy_servers_2020-07-19.csv"
AWS_PING_FILE = "aws_cloudping_p50_1y_2025-05-29.json"
AWS_COORDS_FILE = "aws_region_coords_curated.csv"

#: Server ids whose coordinates are swapped with each other in the WonderProxy server list (data README).
WONDERPROXY_SWAPPED: tuple[tuple[int, int], ...] = ((99, 98),)
#: Mislocated WonderProxy servers (they appear in faster-than-fibre pairs): La Ceiba, Prague, Rome,
#: Belfast, Wellington (data README).
WONDERPROXY_MISLOCATED: tuple[int, ...] = (220, 3, 190, 204, 139)

#: Where the files came from (data README), written into ``rtt_fit.json``.
_WONDERPROXY_ORIGIN = (
    "WonderProxy 'A day in the life of the Internet' 2020-07-19, via GitHub sm86/geo-latency-data @ 0ab28d0 "
    "(pings-2020-07-19-2020-07-20-grouped.csv, servers-2020-07-19.csv)"
)
_AWS_ORIGIN = (
    "cloudping.co AWS p50 1y snapshot 2025-05-29, stored in GitHub oaustegard/oaustegard.github.io "
    "web-utilities/aws-ping-p50-1y.json (blob fa429d7); coordinates curated from region city names"
)

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


class Estimator(StrEnum):
    """How the line is fitted."""

    LEAST_SQUARES = "least_squares"
    L1 = "l1"


@dataclass(frozen=True, eq=False)
class PairSample:
    """Cleaned measurements: one row per unordered pair of sites.

    Attributes
    ----------
    name : short label of the data set (``wonderproxy``, ``aws``)
    a, b : site ids of each pair (server ids or region codes), ``a < b``
    km : (n,) great-circle distance, km
    rtt_ms : (n,) round-trip time averaged over both directions, ms
    files : data files read
    """

    name: str
    a: tuple[str, ...]
    b: tuple[str, ...]
    km: NDArray[np.float64]
    rtt_ms: NDArray[np.float64]
    files: tuple[str, ...]

    @property
    def n_pairs(self) -> int:
        """Number of unordered pairs."""
        return int(self.km.size)

    def subset(self, idx: NDArray[np.int64]) -> PairSample:
        """The pairs at positions ``idx``."""
        return PairSample(
            self.name,
            tuple(self.a[i] for i in idx),
            tuple(self.b[i] for i in idx),
            self.km[idx],
            self.rtt_ms[idx],
            self.files,
        )


@dataclass(frozen=True)
class LineFit:
    """A fitted line ``rtt_ms = a_ms + b_ms_per_km · km`` and how it was obtained."""

    a_ms: float
    b_ms_per_km: float
    estimator: Estimator
    n_pairs: int
    r2: float

    def predict_ms(self, km: ArrayLike) -> NDArray[np.float64]:
        """Predicted RTT, ms, floored at the fibre bound ``km / 100`` exactly as :class:`LinearRtt` does."""
        d = np.asarray(km, dtype=float)
        return np.maximum(self.a_ms + self.b_ms_per_km * d, fiber_rtt_ms(d))


@dataclass(frozen=True)
class HoldoutScore:
    """Absolute percentage error of a predictor on held-out pairs, %."""

    median_ape_pct: float
    p90_ape_pct: float
    n_test: int


# -- loading --------------------------------------------------------------------------------------------


def _read_csv(path: Path, needed: Sequence[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in needed if c not in header]
            if missing:
                raise LatencyModelError(f"{path}: missing column {missing[0]!r} (header: {','.join(header)})")
            return list(reader)
    except OSError as exc:
        raise LatencyModelError(f"{path}: cannot read fit data ({exc.strerror})") from None


def _float(path: Path, row: int, col: str, raw: str | None) -> float:
    try:
        v = float(raw or "")
    except ValueError:
        raise LatencyModelError(f"{path}: row {row} column {col!r}: not a number (got {raw!r})") from None
    if not math.isfinite(v):
        raise LatencyModelError(f"{path}: row {row} column {col!r}: not finite (got {raw!r})")
    return v


def _pair_average(
    a: NDArray[np.int64], b: NDArray[np.int64], rtt: NDArray[np.float64], require_both: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Average directed measurements per unordered pair (self-pairs dropped); ids must be >= 0."""
    keep = a != b
    a, b, rtt = a[keep], b[keep], rtt[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    base = int(hi.max()) + 1 if hi.size else 1
    key = lo * base + hi
    uniq, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv, weights=rtt, minlength=uniq.size)
    count = np.bincount(inv, minlength=uniq.size)
    fwd = np.bincount(inv, weights=(a < b).astype(float), minlength=uniq.size) > 0
    bwd = np.bincount(inv, weights=(a > b).astype(float), minlength=uniq.size) > 0
    ok = fwd & bwd if require_both else np.ones(uniq.size, dtype=bool)
    return (uniq // base)[ok], (uniq % base)[ok], (total / count)[ok]


def load_wonderproxy(data_dir: str | Path, *, require_both_directions: bool = True) -> PairSample:
    """Cleaned WonderProxy city pairs (public internet), ``avg`` RTT in ms.

    Parameters
    ----------
    data_dir : folder holding the two WonderProxy files of ``../shared/data/latency``
    require_both_directions : drop pairs measured in one direction only (default, see module docstring)
    """
    d = Path(data_dir)
    spath, ppath = d / WONDERPROXY_SERVERS_FILE, d / WONDERPROXY_PINGS_FILE
    coords: dict[int, tuple[float, float]] = {}
    for i, row in enumerate(_read_csv(spath, ("id", "latitude", "longitude")), start=2):
        sid = int(_float(spath, i, "id", row["id"]))
        coords[sid] = (
            _float(spath, i, "latitude", row["latitude"]),
            _float(spath, i, "longitude", row["longitude"]),
        )
    for x, y in WONDERPROXY_SWAPPED:
        if x in coords and y in coords:
            coords[x], coords[y] = coords[y], coords[x]
    for x in WONDERPROXY_MISLOCATED:
        coords.pop(x, None)
    rows = _read_csv(ppath, ("source", "destination", "avg"))
    src = np.array([int(r["source"]) for r in rows], dtype=np.int64)
    dst = np.array([int(r["destination"]) for r in rows], dtype=np.int64)
    rtt = np.array([_float(ppath, i, "avg", r["avg"]) for i, r in enumerate(rows, start=2)])
    known = np.array(sorted(coords), dtype=np.int64)
    keep = np.isin(src, known) & np.isin(dst, known)
    a, b, mean = _pair_average(src[keep], dst[keep], rtt[keep], require_both_directions)
    lat = {k: v[0] for k, v in coords.items()}
    lon = {k: v[1] for k, v in coords.items()}
    km = great_circle_km(
        np.array([lat[x] for x in a]), np.array([lon[x] for x in a]),
        np.array([lat[x] for x in b]), np.array([lon[x] for x in b]),
    )  # fmt: skip
    return PairSample(
        "wonderproxy",
        tuple(str(x) for x in a),
        tuple(str(x) for x in b),
        km,
        mean,
        (WONDERPROXY_PINGS_FILE, WONDERPROXY_SERVERS_FILE),
    )


def load_aws_cloudping(data_dir: str | Path, *, require_both_directions: bool = True) -> PairSample:
    """AWS inter-region pairs (provider backbone), p50 RTT in ms, intra-region diagonal dropped."""
    d = Path(data_dir)
    jpath, cpath = d / AWS_PING_FILE, d / AWS_COORDS_FILE
    try:
        raw: Any = json.loads(jpath.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LatencyModelError(f"{jpath}: cannot read fit data ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise LatencyModelError(f"{jpath}: not JSON ({exc.msg} at line {exc.lineno})") from None
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict):
        raise LatencyModelError(f"{jpath}: expected an object with key 'data' mapping region -> region -> ms")
    coords: dict[str, tuple[float, float]] = {}
    for i, row in enumerate(_read_csv(cpath, ("region", "latitude", "longitude")), start=2):
        coords[row["region"]] = (
            _float(cpath, i, "latitude", row["latitude"]),
            _float(cpath, i, "longitude", row["longitude"]),
        )
    regions = sorted(set(data) | {t for v in data.values() if isinstance(v, dict) for t in v})
    missing = [r for r in regions if r not in coords]
    if missing:
        raise LatencyModelError(f"{cpath}: no coordinates for AWS region {missing[0]!r}")
    index = {r: k for k, r in enumerate(regions)}
    src: list[int] = []
    dst: list[int] = []
    rtt: list[float] = []
    for f, row in data.items():
        if not isinstance(row, dict):
            raise LatencyModelError(f"{jpath}: data.{f}: expected an object region -> ms (got {row!r})")
        for t, v in row.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise LatencyModelError(f"{jpath}: data.{f}.{t}: expected a finite RTT >= 0 ms (got {v!r})")
            src.append(index[f])
            dst.append(index[t])
            rtt.append(float(v))
    a, b, mean = _pair_average(
        np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), np.array(rtt), require_both_directions
    )
    la = np.array([coords[regions[x]] for x in a]).reshape(-1, 2)
    lb = np.array([coords[regions[x]] for x in b]).reshape(-1, 2)
    km = great_circle_km(la[:, 0], la[:, 1], lb[:, 0], lb[:, 1])
    return PairSample(
        "aws",
        tuple(regions[x] for x in a),
        tuple(regions[x] for x in b),
        km,
        mean,
        (AWS_PING_FILE, AWS_COORDS_FILE),
    )


# -- fitting ----------------------------------------------------------------------------------------------


def _check_xy(km: ArrayLike, rtt_ms: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = np.asarray(km, dtype=float).ravel(), np.asarray(rtt_ms, dtype=float).ravel()
    if x.shape != y.shape:
        raise LatencyModelError(f"rtt fit: km has {x.size} values but rtt_ms has {y.size}")
    if x.size < 2 or np.ptp(x) == 0:
        raise LatencyModelError(f"rtt fit: need at least 2 distinct distances (got {np.unique(x).size})")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise LatencyModelError("rtt fit: km and rtt_ms must be finite")
    return x, y


def _r2(x: NDArray[np.float64], y: NDArray[np.float64], a: float, b: float) -> float:
    ss = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - a - b * x) ** 2)) / ss if ss > 0 else 1.0


def fit_least_squares(km: ArrayLike, rtt_ms: ArrayLike) -> LineFit:
    """Ordinary least-squares line through ``(km, rtt_ms)``.

    Examples
    --------
    >>> f = fit_least_squares([0.0, 1000.0, 2000.0], [10.0, 30.0, 50.0])
    >>> round(f.a_ms, 6), round(f.b_ms_per_km, 6), round(f.r2, 6)
    (10.0, 0.02, 1.0)
    """
    x, y = _check_xy(km, rtt_ms)
    xm, ym = x.mean(), y.mean()
    b = float(np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2))
    a = float(ym - b * xm)
    return LineFit(a, b, Estimator.LEAST_SQUARES, int(x.size), _r2(x, y, a, b))


def _l1_profile(x: NDArray[np.float64], y: NDArray[np.float64], b: float) -> tuple[float, float]:
    r = y - b * x
    a = float(np.median(r))
    return float(np.sum(np.abs(r - a))), a


def fit_l1(km: ArrayLike, rtt_ms: ArrayLike, *, tol: float = 1e-12) -> LineFit:
    """Least-absolute-deviations (median regression) line through ``(km, rtt_ms)``.

    Golden-section search on the slope of the convex profile ``min_a Σ|y - a - b·x|`` (the best ``a``
    for a given ``b`` is the median of ``y - b·x``), after expanding a bracket around the least-squares
    slope. ``tol`` is the absolute tolerance on the slope, ms/km. ``r2`` is the usual R² of the line.

    Examples
    --------
    >>> # 4 points on 10 + 0.02 km and one gross outlier: L1 ignores it, least squares does not
    >>> km, rtt = [0, 1000, 2000, 3000, 4000], [10.0, 30.0, 50.0, 70.0, 500.0]
    >>> f = fit_l1(km, rtt)
    >>> round(f.a_ms, 6), round(f.b_ms_per_km, 6)
    (10.0, 0.02)
    >>> round(fit_least_squares(km, rtt).b_ms_per_km, 4)
    0.102
    """
    x, y = _check_xy(km, rtt_ms)
    b0 = fit_least_squares(x, y).b_ms_per_km
    step = max(abs(b0), 1e-6)
    lo, hi = b0 - step, b0 + step
    g0 = _l1_profile(x, y, b0)[0]
    while _l1_profile(x, y, lo)[0] < g0:  # convex: walk down until the function rises again
        lo, step = lo - 2 * step, 2 * step
    step = max(abs(b0), 1e-6)
    while _l1_profile(x, y, hi)[0] < g0:
        hi, step = hi + 2 * step, 2 * step
    c, d = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    gc, gd = _l1_profile(x, y, c)[0], _l1_profile(x, y, d)[0]
    while hi - lo > tol:
        if gc <= gd:
            hi, d, gd = d, c, gc
            c = hi - _GOLDEN * (hi - lo)
            gc = _l1_profile(x, y, c)[0]
        else:
            lo, c, gc = c, d, gd
            d = lo + _GOLDEN * (hi - lo)
            gd = _l1_profile(x, y, d)[0]
    b = (lo + hi) / 2.0
    a = _l1_profile(x, y, b)[1]
    return LineFit(a, b, Estimator.L1, int(x.size), _r2(x, y, a, b))


def fit_line(km: ArrayLike, rtt_ms: ArrayLike, estimator: Estimator | str) -> LineFit:
    """Fit with ``estimator`` (``least_squares`` or ``l1``)."""
    try:
        est = Estimator(estimator)
    except ValueError:
        known = ", ".join(e.value for e in Estimator)
        raise LatencyModelError(f"estimator: unknown {estimator!r} (known: {known})") from None
    return fit_l1(km, rtt_ms) if est is Estimator.L1 else fit_least_squares(km, rtt_ms)


# -- evaluation -----------------------------------------------------------------------------------------


def abs_pct_error(predicted_ms: ArrayLike, observed_ms: ArrayLike) -> NDArray[np.float64]:
    """``100 · |predicted - observed| / observed``, %.

    >>> abs_pct_error([110.0, 45.0], [100.0, 50.0]).tolist()
    [10.0, 10.0]
    """
    p, o = np.asarray(predicted_ms, dtype=float), np.asarray(observed_ms, dtype=float)
    return 100.0 * np.abs(p - o) / o


def holdout_split(
    n: int, seed: int | np.random.Generator | None = 0, test_fraction: float = 0.2
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Seeded random split of ``range(n)`` into (train, test) index arrays; test has ``round(n·f)`` items.

    >>> tr, te = holdout_split(10, seed=1)
    >>> len(tr), len(te), sorted([*tr, *te]) == list(range(10))
    (8, 2, True)
    """
    if not 0.0 < test_fraction < 1.0:
        raise LatencyModelError(f"test_fraction: must be in (0, 1) (got {test_fraction})")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    perm = rng.permutation(n)
    k = round(n * test_fraction)
    return np.sort(perm[k:]), np.sort(perm[:k])


def _score(pred: NDArray[np.float64], obs: NDArray[np.float64]) -> HoldoutScore:
    ape = abs_pct_error(pred, obs)
    return HoldoutScore(float(np.median(ape)), float(np.percentile(ape, 90)), int(obs.size))


def holdout_score(
    sample: PairSample,
    estimator: Estimator | str | None,
    seed: int | np.random.Generator | None = 0,
    test_fraction: float = 0.2,
) -> HoldoutScore:
    """Fit on a seeded ``1 - test_fraction`` share of the pairs and score on the rest.

    ``estimator=None`` scores the naive baseline: the fibre lower bound ``km / 100`` ms (light at 2/3 c).
    """
    train, test = holdout_split(sample.n_pairs, seed, test_fraction)
    km, obs = sample.km[test], sample.rtt_ms[test]
    if estimator is None:
        return _score(fiber_rtt_ms(km), obs)
    fit = fit_line(sample.km[train], sample.rtt_ms[train], estimator)
    return _score(fit.predict_ms(km), obs)


# -- the shipped file -----------------------------------------------------------------------------------


def _entry(sample: PairSample, origin: str, seed: int) -> dict[str, Any]:
    scores = {e: holdout_score(sample, e, seed) for e in Estimator}
    best = min(Estimator, key=lambda e: (scores[e].median_ape_pct, e.value))
    fit = fit_line(sample.km, sample.rtt_ms, best)
    if fit.a_ms < 0 or fit.b_ms_per_km < 2.0 / FIBER_KM_PER_MS:
        raise LatencyModelError(
            f"rtt fit ({sample.name}): a_ms={fit.a_ms:.4g}, b_ms_per_km={fit.b_ms_per_km:.4g} would predict below "
            "the fibre bound km/100 ms; refusing to write it"
        )
    return {
        "a_ms": round(fit.a_ms, 3),
        "b_ms_per_km": round(fit.b_ms_per_km, 6),
        "source": origin,
        "files": list(sample.files),
        "estimator": best.value,
        "n_pairs": sample.n_pairs,
        "r2": round(fit.r2, 4),
        "holdout_median_ape_pct": {e.value: round(scores[e].median_ape_pct, 2) for e in Estimator},
    }


def build_fit_document(data_dir: str | Path, *, seed: int = 0, date: str | None = None) -> dict[str, Any]:
    """The content of ``rtt_fit.json``: public (WonderProxy) and backbone (AWS) fits with provenance.

    Each fit uses the estimator with the lower median absolute percentage error on a seeded 80/20 split
    of its pairs, then is refitted on all pairs.
    """
    public = _entry(load_wonderproxy(data_dir), _WONDERPROXY_ORIGIN, seed)
    backbone = _entry(load_aws_cloudping(data_dir), _AWS_ORIGIN, seed)
    return {
        "schema": 1,
        "note": (
            "RTT_ms = a_ms + b_ms_per_km * great-circle km (R=6371), floored at km/100. Generated by "
            "`python -m nodeplan.model.fit` from ../shared/data/latency; estimator chosen by lower median "
            f"absolute % error on a seeded (seed={seed}) 80/20 split of pairs. WonderProxy cleaning: servers "
            "99/98 coordinates swapped back; 220, 3, 190, 204, 139 dropped; self-pairs dropped; both directions "
            "averaged, one-direction pairs dropped."
        ),
        "generated": date or dt.date.today().isoformat(),
        "public": public,
        "backbone": backbone,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the fit document to ``--out`` (or print it)."""
    ap = argparse.ArgumentParser(
        prog="python -m nodeplan.model.fit",
        description="Fit RTT = a + b*km on the shared latency data and write rtt_fit.json.",
        epilog="example: python -m nodeplan.model.fit --data ../shared/data/latency "
        "--out src/nodeplan/model/data/rtt_fit.json",
    )
    ap.add_argument("--data", required=True, help="folder with the WonderProxy and AWS cloudping files")
    ap.add_argument("--out", help="where to write the JSON (default: print to stdout)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the 80/20 split that picks the estimator")
    ap.add_argument("--date", help="date to record, YYYY-MM-DD (default: today)")
    args = ap.parse_args(argv)
    try:
        doc = build_fit_document(args.data, seed=args.seed, date=args.date)
    except LatencyModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(
            f"wrote {args.out}: public {doc['public']['a_ms']} + {doc['public']['b_ms_per_km']}*km "
            f"({doc['public']['estimator']}), backbone {doc['backbone']['a_ms']} + "
            f"{doc['backbone']['b_ms_per_km']}*km ({doc['backbone']['estimator']})"
        )
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
