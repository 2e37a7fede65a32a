"""Fit the RTT model on the real measurements in ``../shared/data/latency``, cross-validate it by region
and by continent, and write ``rtt_fit.json``.

Two data sets, one fit each (see ``../shared/data/README.md`` for provenance):

* **public internet** — WonderProxy "A day in the life of the Internet" (2020-07-19), city-to-city ICMP
  pings, column ``avg`` (ms);
* **backbone** — AWS inter-region TCP-connect RTT, p50 over one year (cloudping.co snapshot 2025-05-29),
  with metro coordinates from ``aws_region_coords_curated.csv``. The same method measures about 3 ms
  *inside* a region (the file's diagonal, 1.2–8.2 ms): connection set-up and the measuring endpoints, not
  distance. The fit's target is therefore each pair's p50 less the mean of its two regions' intra-region
  p50 (:meth:`PairSample.net_of_overhead`): the network part of the round trip.

**Shape** (:class:`~nodeplan.model.rtt.StretchRtt`): ``rtt(d) = c + Σ_j s_j · (part of d in band j)``,
bands ``[0, 1000)`` and ``[1000, ∞)`` km (short haul, where routes detour through regional hubs, and long
haul). ``s_j · 100`` is the path stretch over straight fibre in band j; the fit requires ``c >= 0`` and
``s_j >= 1/100`` ms/km, so the curve is continuous, increasing and never below the fibre bound
``km / 100``. The single break at 1,000 km was chosen by the same cross-validation (``docs/latency.md``:
it beats none, 1,000/5,000, 500/1,000/5,000 and 1,000/3,000/8,000 km on both data sets).

**Losses** (:class:`Loss`), both exact up to the LP solver's tolerance:

* ``relative`` — least absolute relative error, ``Σ |pred - meas| / meas``: a linear program. It is
  solved through its dual, which has one row per coefficient (4) and one bounded column per pair, with
  HiGHS (``highspy``, a core dependency); the coefficients are the dual's row prices, checked against
  the primal objective (strong duality);
* ``log`` — least absolute log ratio, ``Σ |ln(pred / meas)|``, whose optimum makes the median of
  ``pred / meas`` one (no median bias) under skewed noise; minimised by Gauss–Newton steps, each a
  weighted ``relative`` problem, with step halving, from the ``relative`` solution.

The loss of each fit is chosen by cross-validation (:func:`choose_loss`): among the losses whose held-out
signed bias stays within ±15% in every distance band under both schemes, the one with the lower mean
held-out median absolute percentage error (APE).

**Cross-validation** (:func:`cross_validate`), never a random split of pairs: *leave one region out*
holds out every pair that touches one site (AWS region; WonderProxy cities are dealt, seeded, into 10
groups and a group is held out) and *leave one continent out* every pair that touches one continent
(:func:`continent_of`). The held-out predictions of all folds are pooled and scored per distance band.

Cleaning (the data README's "known defects"): WonderProxy servers 99 (Guatemala) and 98 (Panama) have
their coordinates swapped and are fixed; 220 (La Ceiba), 3 (Prague), 190 (Rome), 204 (Belfast) and
139 (Wellington) are mislocated (faster-than-fibre pairs) and dropped, as are ping ids with no server row.
Self-pairs are dropped; both directions of an unordered pair are averaged, and a pair measured in one
direction only is dropped. Distances are great-circle km with R = 6371 km.

:func:`fit_l1` (the exact least-absolute-deviations line ``a + b·km`` that shipped before) stays as the
baseline that ``bench/bench_rtt_fit.py`` refits on the same folds.

Run ``python -m nodeplan.model.fit --data ../shared/data/latency --out src/nodeplan/model/data/rtt_fit.json``
to regenerate the shipped coefficients.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.exceptions import LatencyModelError
from nodeplan.model.geo import great_circle_km
from nodeplan.model.rtt import FIBER_MS_PER_KM, LinearRtt, RttFit, StretchRtt

__all__ = [
    "AWS_COORDS_FILE",
    "AWS_PING_FILE",
    "BANDS",
    "BREAKS_KM",
    "MAX_BAND_BIAS_PCT",
    "MAX_SINGLE_SITE_FOLDS",
    "SITE_GROUPS",
    "WONDERPROXY_MISLOCATED",
    "WONDERPROXY_PINGS_FILE",
    "WONDERPROXY_SERVERS_FILE",
    "WONDERPROXY_SWAPPED",
    "BandScore",
    "CvResult",
    "CvScheme",
    "LineFit",
    "Loss",
    "PairSample",
    "StretchFit",
    "band_scores",
    "build_fit_document",
    "choose_loss",
    "continent_of",
    "cross_validate",
    "fit_l1",
    "fit_stretch",
    "load_aws_cloudping",
    "load_wonderproxy",
    "main",
    "stretch_fitter",
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

#: Where the stretch changes, km (chosen by cross-validation, see the module docstring).
BREAKS_KM: tuple[float, ...] = (1000.0,)
#: Reporting bands: name, lower and upper great-circle km (lower inclusive).
BANDS: tuple[tuple[str, float, float], ...] = (
    ("all", 0.0, math.inf),
    ("<1000 km", 0.0, 1000.0),
    ("1000-5000 km", 1000.0, 5000.0),
    (">5000 km", 5000.0, math.inf),
)
#: A loss is eligible only if its held-out median signed error is within this many % in every band.
MAX_BAND_BIAS_PCT = 15.0
#: Leave-one-region-out holds out one site at a time up to this many sites (AWS: 32 regions) ...
MAX_SINGLE_SITE_FOLDS = 40
#: ... and above it deals the sites, seeded, into this many groups (WonderProxy: ~240 cities).
SITE_GROUPS = 10
_CV_SEED = 0
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


class Loss(StrEnum):
    """What the stretch fit minimises over the pairs."""

    RELATIVE = "relative"  # Σ |pred - meas| / meas
    LOG = "log"  # Σ |ln(pred / meas)|


class CvScheme(StrEnum):
    """How pairs are held out in cross-validation."""

    REGION = "leave_one_region_out"
    CONTINENT = "leave_one_continent_out"


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
    continent_a, continent_b : (n,) continent code of each end (:func:`continent_of`)
    overhead_ms : (n,) what the measuring method adds to every pair independently of distance, ms (AWS
        cloudping: the mean of the two regions' intra-region p50; WonderProxy: 0)
    """

    name: str
    a: tuple[str, ...]
    b: tuple[str, ...]
    km: NDArray[np.float64]
    rtt_ms: NDArray[np.float64]
    files: tuple[str, ...]
    continent_a: NDArray[np.str_]
    continent_b: NDArray[np.str_]
    overhead_ms: NDArray[np.float64]

    @property
    def n_pairs(self) -> int:
        """Number of unordered pairs."""
        return int(self.km.size)

    @property
    def n_sites(self) -> int:
        """Number of distinct sites."""
        return len(set(self.a) | set(self.b))

    def subset(self, idx: NDArray[np.int64]) -> PairSample:
        """The pairs at positions ``idx``."""
        return replace(
            self,
            a=tuple(self.a[i] for i in idx),
            b=tuple(self.b[i] for i in idx),
            km=self.km[idx],
            rtt_ms=self.rtt_ms[idx],
            continent_a=self.continent_a[idx],
            continent_b=self.continent_b[idx],
            overhead_ms=self.overhead_ms[idx],
        )

    def net_of_overhead(self) -> PairSample:
        """A copy whose RTTs exclude the measuring method's overhead (``rtt_ms - overhead_ms``)."""
        net = self.rtt_ms - self.overhead_ms
        if np.any(net <= 0):
            i = int(np.argmax(net <= 0))
            raise LatencyModelError(
                f"{self.name}: pair {self.a[i]}-{self.b[i]} is {self.rtt_ms[i]} ms, not more than its overhead "
                f"{self.overhead_ms[i]} ms"
            )
        return replace(self, name=f"{self.name}-net", rtt_ms=net, overhead_ms=np.zeros_like(net))


@dataclass(frozen=True)
class LineFit:
    """A fitted line ``rtt_ms = a_ms + b_ms_per_km · km`` (the former shipped shape, now a baseline)."""

    a_ms: float
    b_ms_per_km: float
    n_pairs: int
    r2: float

    def rtt(self, source: str = "") -> LinearRtt:
        """The line as an RTT fit (floored at the fibre bound; coefficients below 0 are clipped to 0)."""
        return LinearRtt(max(self.a_ms, 0.0), max(self.b_ms_per_km, 0.0), source)


@dataclass(frozen=True)
class StretchFit:
    """A fitted :class:`~nodeplan.model.rtt.StretchRtt` and how it was obtained."""

    rtt: StretchRtt
    loss: Loss
    objective: float
    n_pairs: int


@dataclass(frozen=True)
class BandScore:
    """Held-out accuracy in one distance band: median |pred - meas| / meas and median (pred - meas) / meas."""

    median_ape_pct: float
    bias_pct: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """JSON form, rounded to 0.01 %."""
        return {
            "median_ape_pct": round(self.median_ape_pct, 2),
            "bias_pct": round(self.bias_pct, 2),
            "n": self.n,
        }


@dataclass(frozen=True, eq=False)
class CvResult:
    """Pooled held-out predictions of a cross-validation run: ``pair`` is the position in the sample of each
    prediction (a pair appears once per fold that holds it out)."""

    scheme: CvScheme
    n_folds: int
    pair: NDArray[np.int64]
    km: NDArray[np.float64]
    observed_ms: NDArray[np.float64]
    predicted_ms: NDArray[np.float64]

    def scores(self) -> dict[str, BandScore]:
        """:func:`band_scores` of the pooled predictions."""
        return band_scores(self.km, self.predicted_ms, self.observed_ms)


# -- geography ------------------------------------------------------------------------------------------


def continent_of(lat: ArrayLike, lon: ArrayLike) -> NDArray[np.str_]:
    """Continent code (``NA SA EU AF AS OC``) of points in degrees, from a few longitude/latitude boxes.

    Coarse on purpose (it only groups sites for cross-validation): the Americas are west of 25°W, split
    into South America below 12°N east of 79°W (or anywhere below 5°S); Oceania is south of 10°S east of
    110°E, or east of 165°E, or the South Pacific; Africa lies below a north edge that steps along the
    Mediterranean and the Red Sea; Europe is the rest north of 36°N (34°N west of 26°E: Malta, Crete)
    up to 60°E; everything else is Asia, the Middle East included.

    >>> continent_of([48.86, 36.75, 32.05, -33.87, -23.55], [2.35, 3.06, 34.77, 151.21, -46.63]).tolist()
    ['EU', 'AF', 'AS', 'OC', 'SA']
    """
    la, lo = np.broadcast_arrays(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    americas = lo < -25.0
    south = americas & (((la < 12.0) & (lo > -79.0)) | (la < -5.0))
    oceania = ((la < -10.0) & (lo >= 110.0)) | (lo >= 165.0) | ((lo < -150.0) & (la < 0.0))
    middle = ~americas & ~oceania
    africa_edge = np.select(
        [lo < 0.0, lo < 12.0, lo < 25.0, lo < 32.5, lo < 43.0, lo < 52.0],
        [35.95, 37.4, 34.0, 31.8, 18.0, 12.5],
        -90.0,
    )
    africa = middle & (la < africa_edge)
    europe = middle & ~africa & (lo < 60.0) & ((la >= 36.0) | ((lo < 26.0) & (la >= 34.0)))
    return np.asarray(
        np.select([oceania, south, americas, africa, europe], ["OC", "SA", "NA", "AF", "EU"], "AS")
    )


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
    la = np.array([coords[x] for x in a]).reshape(-1, 2)
    lb = np.array([coords[x] for x in b]).reshape(-1, 2)
    return PairSample(
        "wonderproxy",
        tuple(str(x) for x in a),
        tuple(str(x) for x in b),
        great_circle_km(la[:, 0], la[:, 1], lb[:, 0], lb[:, 1]),
        mean,
        (WONDERPROXY_PINGS_FILE, WONDERPROXY_SERVERS_FILE),
        continent_of(la[:, 0], la[:, 1]),
        continent_of(lb[:, 0], lb[:, 1]),
        np.zeros(mean.size),
    )


def load_aws_cloudping(data_dir: str | Path, *, require_both_directions: bool = True) -> PairSample:
    """AWS inter-region pairs (provider backbone), p50 RTT in ms.

    The intra-region diagonal is not a pair; it gives each pair's ``overhead_ms`` (the mean of its two
    regions' intra-region p50), which every region of the file must have.
    """
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
    intra: dict[str, float] = {}
    for f, row in data.items():
        if not isinstance(row, dict):
            raise LatencyModelError(f"{jpath}: data.{f}: expected an object region -> ms (got {row!r})")
        for t, v in row.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise LatencyModelError(f"{jpath}: data.{f}.{t}: expected a finite RTT >= 0 ms (got {v!r})")
            if f == t:
                intra[f] = float(v)
            src.append(index[f])
            dst.append(index[t])
            rtt.append(float(v))
    no_diag = [r for r in regions if r not in intra]
    if no_diag:
        raise LatencyModelError(
            f"{jpath}: no intra-region RTT (data.{no_diag[0]}.{no_diag[0]}) to take as overhead"
        )
    a, b, mean = _pair_average(
        np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), np.array(rtt), require_both_directions
    )
    la = np.array([coords[regions[x]] for x in a]).reshape(-1, 2)
    lb = np.array([coords[regions[x]] for x in b]).reshape(-1, 2)
    return PairSample(
        "aws",
        tuple(regions[x] for x in a),
        tuple(regions[x] for x in b),
        great_circle_km(la[:, 0], la[:, 1], lb[:, 0], lb[:, 1]),
        mean,
        (AWS_PING_FILE, AWS_COORDS_FILE),
        continent_of(la[:, 0], la[:, 1]),
        continent_of(lb[:, 0], lb[:, 1]),
        np.array([(intra[regions[x]] + intra[regions[y]]) / 2.0 for x, y in zip(a, b, strict=True)]),
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


def _l1_profile(x: NDArray[np.float64], y: NDArray[np.float64], b: float) -> tuple[float, float]:
    r = y - b * x
    a = float(np.median(r))
    return float(np.sum(np.abs(r - a))), a


def fit_l1(km: ArrayLike, rtt_ms: ArrayLike, *, tol: float = 1e-12) -> LineFit:
    """Least-absolute-deviations (median regression) line through ``(km, rtt_ms)``.

    The estimator of the line that shipped before the stretch model (kept as the baseline of
    ``bench/bench_rtt_fit.py``). Golden-section search on the slope of the convex profile
    ``min_a Σ|y - a - b·x|`` (the best ``a`` for a given ``b`` is the median of ``y - b·x``), after
    expanding a bracket around the least-squares slope. ``tol`` is the absolute tolerance on the slope,
    ms/km. ``r2`` is the usual R² of the line.

    Examples
    --------
    >>> # 4 points on 10 + 0.02 km and one gross outlier: L1 ignores it (least squares gives 0.102 ms/km)
    >>> f = fit_l1([0, 1000, 2000, 3000, 4000], [10.0, 30.0, 50.0, 70.0, 500.0])
    >>> round(f.a_ms, 6), round(f.b_ms_per_km, 6)
    (10.0, 0.02)
    """
    x, y = _check_xy(km, rtt_ms)
    xm = x.mean()
    b0 = float(np.sum((x - xm) * (y - y.mean())) / np.sum((x - xm) ** 2))  # least-squares slope
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
    return LineFit(a, b, int(x.size), _r2(x, y, a, b))


def _basis(km: NDArray[np.float64], breaks_km: Sequence[float]) -> NDArray[np.float64]:
    """(n, bands + 1) design of the stretch shape: a column of ones, then the km of each pair in each band."""
    edges = (0.0, *breaks_km)
    cols = [np.ones_like(km)]
    cols += [np.clip(km - lo, 0.0, hi - lo) for lo, hi in itertools.pairwise(edges)]
    cols.append(np.maximum(km - edges[-1], 0.0))
    return np.stack(cols, axis=1)


class _WeightedL1:
    """``min Σ_i |t_i - (X β)_i| / w_i`` over ``β >= lower`` for a fixed design ``X`` (n × p, p small).

    Solved as its dual LP with HiGHS: ``max Σ_i r_i z_i`` s.t. ``Xᵀ z <= 0``, ``|z_i| <= 1 / w_i``, with
    ``r = t - X·lower`` (substituting ``β = lower + γ``, ``γ >= 0``). The dual has p rows and one bounded
    column per pair, and only its costs and bounds change between calls, so each call starts from the
    previous basis. ``γ`` is the row price of the dual; the primal objective it gives must equal the dual
    objective (strong duality) or the call fails.
    """

    def __init__(self, x: NDArray[np.float64]) -> None:
        import highspy

        # the one silent-HiGHS constructor (it hides the banner HiGHS prints on stdout); imported here, at
        # fit time only, because it lives with the placement solvers
        from nodeplan.placement._highs import new_highs

        n, p = x.shape
        self._x, self._hs = x, highspy
        h = new_highs()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, p
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_, lp.col_upper_ = -np.ones(n), np.ones(n)
        lp.row_lower_, lp.row_upper_ = np.full(p, -highspy.kHighsInf), np.zeros(p)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = (np.arange(p + 1) * n).astype(np.int32)
        lp.a_matrix_.index_ = np.tile(np.arange(n, dtype=np.int32), p)
        lp.a_matrix_.value_ = np.ascontiguousarray(x.T).ravel()
        h.passModel(lp)
        self._h, self._cols = h, np.arange(n, dtype=np.int32)

    def solve(
        self, t: NDArray[np.float64], w: NDArray[np.float64], lower: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        x, h, n = self._x, self._h, self._cols.size
        r = t - x @ lower
        h.changeColsCost(n, self._cols, -r)
        h.changeColsBounds(n, self._cols, -1.0 / w, 1.0 / w)
        h.run()
        if h.getModelStatus() != self._hs.HighsModelStatus.kOptimal:
            raise LatencyModelError(
                f"rtt fit: HiGHS stopped with {h.modelStatusToString(h.getModelStatus())}"
            )
        dual_obj = -float(h.getInfo().objective_function_value)
        price = np.asarray(h.getSolution().row_dual, dtype=float)
        best: tuple[float, NDArray[np.float64]] | None = None
        for g in (price, -price):  # the sign convention of row prices; the feasible one with the dual's value
            if np.all(g >= -1e-9):
                g = np.maximum(g, 0.0)
                obj = float(np.sum(np.abs(r - x @ g) / w))
                if best is None or obj < best[0]:
                    best = (obj, g)
        if best is None or abs(best[0] - dual_obj) > 1e-7 * max(1.0, abs(dual_obj)):
            raise LatencyModelError(
                "rtt fit: could not recover the LP solution from its dual (no strong duality)"
            )
        return lower + best[1]


def fit_stretch(
    km: ArrayLike,
    rtt_ms: ArrayLike,
    loss: Loss | str = Loss.RELATIVE,
    *,
    breaks_km: Sequence[float] = BREAKS_KM,
    source: str = "",
) -> StretchFit:
    """Fit the stretch shape (see the module docstring) to ``(km, rtt_ms)``, exactly, under ``loss``.

    Constraints: intercept ``>= 0`` ms, every band slope ``>= 1/100`` ms/km (light in fibre).

    Examples
    --------
    >>> km = np.array([0.0, 500.0, 1000.0, 3000.0, 6000.0, 9000.0])
    >>> f = fit_stretch(km, 1.0 + 0.025 * np.minimum(km, 1000) + 0.016 * np.maximum(km - 1000, 0))
    >>> round(f.rtt.intercept_ms, 6), [round(s, 6) for s in f.rtt.ms_per_km]
    (1.0, [0.025, 0.016])
    """
    try:
        lo = Loss(loss)
    except ValueError:
        raise LatencyModelError(
            f"loss: unknown {loss!r} (known: {', '.join(x.value for x in Loss)})"
        ) from None
    x, y = _check_xy(km, rtt_ms)
    if np.any(y <= 0):
        raise LatencyModelError(f"rtt fit: every rtt_ms must be > 0 (got {float(y.min())})")
    design = _basis(x, breaks_km)
    lower = np.r_[0.0, np.full(design.shape[1] - 1, FIBER_MS_PER_KM)]
    solver = _WeightedL1(design)
    beta = solver.solve(y, y, lower)  # Σ |y - Xβ| / y
    if lo is Loss.LOG:
        log_y = np.log(y)

        def objective(b: NDArray[np.float64]) -> float:
            return float(np.sum(np.abs(np.log(design @ b) - log_y)))

        f = objective(beta)
        for _ in range(100):  # Gauss-Newton: ln(Xβ) ~ ln p + X(β - β0)/p, i.e. a weighted L1 problem
            pred = design @ beta
            step = solver.solve(pred * (1.0 + log_y - np.log(pred)), pred, lower) - beta
            tau, f_new = 1.0, math.inf
            while tau > 1e-6:
                f_new = objective(beta + tau * step)
                if f_new < f:
                    break
                tau /= 2.0
            if not f_new < f:
                break
            beta, improved, f = beta + tau * step, f - f_new, f_new
            if improved <= 1e-12 * f:
                break
        value = f
    else:
        value = float(np.sum(np.abs(y - design @ beta) / y))
    rtt = StretchRtt(
        float(beta[0]), tuple(float(b) for b in breaks_km), tuple(float(s) for s in beta[1:]), source
    )
    return StretchFit(rtt, lo, value, int(x.size))


# -- evaluation -----------------------------------------------------------------------------------------


def band_scores(km: ArrayLike, predicted_ms: ArrayLike, observed_ms: ArrayLike) -> dict[str, BandScore]:
    """Median absolute percentage error and median signed percentage error per band of :data:`BANDS`.

    >>> s = band_scores([100.0, 200.0, 6000.0], [11.0, 18.0, 100.0], [10.0, 20.0, 100.0])
    >>> s["<1000 km"].median_ape_pct, s[">5000 km"].bias_pct, s["1000-5000 km"].n
    (10.0, 0.0, 0)
    """
    d = np.asarray(km, dtype=float)
    obs = np.asarray(observed_ms, dtype=float)
    rel = 100.0 * (np.asarray(predicted_ms, dtype=float) - obs) / obs
    out: dict[str, BandScore] = {}
    for name, lo, hi in BANDS:
        r = rel[(d >= lo) & (d < hi)]
        out[name] = (
            BandScore(float(np.median(np.abs(r))), float(np.median(r)), int(r.size))
            if r.size
            else BandScore(math.nan, math.nan, 0)
        )
    return out


def _fold_groups(sample: PairSample, scheme: CvScheme) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Group index of each end of each pair: a site (or group of sites), or a continent."""
    if scheme is CvScheme.CONTINENT:
        names = np.unique(np.r_[sample.continent_a, sample.continent_b])
        return np.searchsorted(names, sample.continent_a), np.searchsorted(names, sample.continent_b)
    sites = sorted(set(sample.a) | set(sample.b))
    if len(sites) <= MAX_SINGLE_SITE_FOLDS:
        group = {s: k for k, s in enumerate(sites)}
    else:
        order = np.random.default_rng(_CV_SEED).permutation(len(sites))
        group = {sites[j]: k % SITE_GROUPS for k, j in enumerate(order)}
    return np.array([group[s] for s in sample.a]), np.array([group[s] for s in sample.b])


def cross_validate(
    sample: PairSample,
    fit: Callable[[NDArray[np.float64], NDArray[np.float64]], RttFit],
    scheme: CvScheme | str,
) -> CvResult:
    """Hold out, in turn, every pair that touches one group (site or continent), fit on the rest, predict.

    ``fit(km, rtt_ms)`` returns the fitted RTT function for a training set. Leave-one-region-out holds out
    one site at a time when the sample has at most :data:`MAX_SINGLE_SITE_FOLDS` sites (AWS: 32 regions),
    else :data:`SITE_GROUPS` seeded groups of sites (WonderProxy: ~240 cities). A fold whose training set
    has fewer than two distinct distances is skipped.
    """
    sch = CvScheme(scheme)
    ga, gb = _fold_groups(sample, sch)
    idx, pred, folds = [], [], 0
    for g in np.unique(np.r_[ga, gb]):
        test = (ga == g) | (gb == g)
        train = ~test
        if np.unique(sample.km[train]).size < 2:
            continue
        model = fit(sample.km[train], sample.rtt_ms[train])
        idx.append(np.flatnonzero(test))
        pred.append(np.asarray(model.rtt_ms_km(sample.km[test]), dtype=float))
        folds += 1
    if not folds:
        raise LatencyModelError(f"{sample.name}: no fold of {sch.value} has a training set")
    pair = np.concatenate(idx)
    return CvResult(sch, folds, pair, sample.km[pair], sample.rtt_ms[pair], np.concatenate(pred))


def choose_loss(cv: Mapping[Loss, Mapping[CvScheme, Mapping[str, BandScore]]]) -> Loss:
    """The loss to ship: lowest mean held-out median APE among losses whose held-out bias is within
    ±:data:`MAX_BAND_BIAS_PCT` in every band of every scheme; if none is, the smallest worst bias.

    >>> ok, biased = BandScore(14.0, -2.0, 9), BandScore(12.0, -20.0, 9)
    >>> choose_loss({Loss.RELATIVE: {CvScheme.REGION: {"all": biased}}, Loss.LOG: {CvScheme.REGION: {"all": ok}}})
    <Loss.LOG: 'log'>
    """

    def worst_bias(loss: Loss) -> float:
        return max(abs(s.bias_pct) for by_band in cv[loss].values() for s in by_band.values() if s.n)

    def mean_ape(loss: Loss) -> float:
        return float(np.mean([by_band["all"].median_ape_pct for by_band in cv[loss].values()]))

    eligible = [loss for loss in cv if worst_bias(loss) <= MAX_BAND_BIAS_PCT]
    if eligible:
        return min(eligible, key=lambda loss: (mean_ape(loss), loss.value))
    return min(cv, key=lambda loss: (worst_bias(loss), loss.value))


# -- the shipped file -----------------------------------------------------------------------------------


def stretch_fitter(loss: Loss | str) -> Callable[[NDArray[np.float64], NDArray[np.float64]], RttFit]:
    """``fit(km, rtt_ms) -> RttFit`` for :func:`cross_validate`: :func:`fit_stretch` under ``loss``."""

    def fit(km: NDArray[np.float64], rtt_ms: NDArray[np.float64]) -> RttFit:
        return fit_stretch(km, rtt_ms, loss).rtt

    return fit


def _entry(sample: PairSample, origin: str) -> dict[str, Any]:
    cv = {
        loss: {scheme: cross_validate(sample, stretch_fitter(loss), scheme).scores() for scheme in CvScheme}
        for loss in Loss
    }
    best = choose_loss(cv)
    fit = fit_stretch(sample.km, sample.rtt_ms, best).rtt
    slopes = [max(round(s, 7), FIBER_MS_PER_KM) for s in fit.ms_per_km]
    return {
        "intercept_ms": round(fit.intercept_ms, 4),
        "breaks_km": list(fit.breaks_km),
        "ms_per_km": slopes,
        "marginal_stretch": [round(s * 100.0, 3) for s in slopes],
        "loss": best.value,
        "source": origin,
        "files": list(sample.files),
        "n_pairs": sample.n_pairs,
        "n_sites": sample.n_sites,
        "cv": {
            scheme.value: {band: s.as_dict() for band, s in cv[best][scheme].items()} for scheme in CvScheme
        },
        "cv_median_ape_pct_by_loss": {
            loss.value: {
                scheme.value: round(cv[loss][scheme]["all"].median_ape_pct, 2) for scheme in CvScheme
            }
            for loss in Loss
        },
    }


def build_fit_document(data_dir: str | Path, *, date: str | None = None) -> dict[str, Any]:
    """The content of ``rtt_fit.json``: public (WonderProxy) and backbone (AWS, net of the measuring
    method's overhead) stretch fits with provenance and cross-validated accuracy per distance band."""
    aws = load_aws_cloudping(data_dir)
    public = _entry(load_wonderproxy(data_dir), _WONDERPROXY_ORIGIN)
    backbone = _entry(aws.net_of_overhead(), _AWS_ORIGIN)
    backbone["target"] = (
        "p50 of each pair less the mean intra-region p50 of its two regions (the TCP-connect method's own "
        f"overhead; median {float(np.median(aws.overhead_ms)):.2f} ms)"
    )
    return {
        "schema": 2,
        "note": (
            "RTT_ms = intercept_ms + sum over bands [0, breaks_km[0]), ..., [breaks_km[-1], inf) of "
            "ms_per_km[band] * (great-circle km in that band), R = 6371 km; marginal_stretch = 100 * "
            "ms_per_km (path stretch over straight fibre); never below km/100. Generated by `python -m "
            "nodeplan.model.fit` from ../shared/data/latency. loss: 'relative' minimises sum |pred-meas|/meas, "
            "'log' sum |ln(pred/meas)|; chosen by cross-validation (lowest mean median APE among losses whose "
            f"held-out median signed error is within +-{MAX_BAND_BIAS_PCT:g}% in every band). cv: held-out "
            "median absolute % error and median signed % error (bias) per great-circle band, pooled over the "
            "folds of leave_one_region_out (AWS: each region; WonderProxy: 10 seeded groups of cities) and "
            "leave_one_continent_out. WonderProxy cleaning: servers 99/98 coordinates swapped back; 220, 3, "
            "190, 204, 139 dropped; self-pairs dropped; both directions averaged, one-direction pairs dropped."
        ),
        "generated": date or dt.date.today().isoformat(),
        "public": public,
        "backbone": backbone,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the fit document to ``--out`` (or print it)."""
    ap = argparse.ArgumentParser(
        prog="python -m nodeplan.model.fit",
        description="Fit the RTT stretch model on the shared latency data, cross-validate it and write rtt_fit.json.",
        epilog="example: python -m nodeplan.model.fit --data ../shared/data/latency "
        "--out src/nodeplan/model/data/rtt_fit.json",
    )
    ap.add_argument("--data", required=True, help="folder with the WonderProxy and AWS cloudping files")
    ap.add_argument("--out", help="where to write the JSON (default: print to stdout)")
    ap.add_argument("--date", help="date to record, YYYY-MM-DD (default: today)")
    args = ap.parse_args(argv)
    try:
        doc = build_fit_document(args.data, date=args.date)
    except LatencyModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        parts = []
        for part in ("public", "backbone"):
            e = doc[part]
            stretch = "/".join(f"{s:g}" for s in e["marginal_stretch"])
            cv = e["cv"][CvScheme.REGION.value]["all"]["median_ape_pct"]
            parts.append(f"{part} {e['intercept_ms']:g} ms + stretch {stretch} ({e['loss']}; CV APE {cv:g}%)")
        print(f"wrote {args.out}: " + ", ".join(parts))
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
