"""The RTT model and its fit.

* loaders and cleaning against the figures published in ``tests/data/README.md`` (the data README);
* the fitting code against known answers: shapes it must recover, an independent LP solver (SciPy's
  HiGHS on the primal), local optimality of the log-loss fit;
* cross-validation: no held-out site or continent leaks into training; the shipped CV figures;
* the shipped coefficients: sources named, reproducible by the fit script;
* the shipped model: monotone, never below the fibre floor, symmetric (Hypothesis), and checked against
  inter-region figures IBM Cloud publishes (a cloud the fit never saw);
* measured-matrix overrides.
"""

from __future__ import annotations

import csv
import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.exceptions import LatencyModelError
from nodeplan.model.fit import (
    AWS_PING_FILE,
    BANDS,
    MAX_BAND_BIAS_PCT,
    WONDERPROXY_MISLOCATED,
    WONDERPROXY_SERVERS_FILE,
    BandScore,
    CvScheme,
    Loss,
    PairSample,
    band_scores,
    build_fit_document,
    continent_of,
    cross_validate,
    fit_l1,
    fit_stretch,
    load_aws_cloudping,
    load_wonderproxy,
    main,
)
from nodeplan.model.geo import fiber_rtt_ms, great_circle_km
from nodeplan.model.matrix_io import load_rtt_matrix
from nodeplan.model.rtt import LinearRtt, MeasuredRtt, RttModel, StretchRtt, default_rtt_model

from .datafiles import data_path

DATA = data_path("latency")


@pytest.fixture(scope="module")
def wonderproxy():
    return load_wonderproxy(DATA)


@pytest.fixture(scope="module")
def aws():
    return load_aws_cloudping(DATA)


def _median_stretch(sample) -> float:
    return float(np.median(sample.rtt_ms / fiber_rtt_ms(sample.km)))


def _least_squares(sample) -> tuple[float, float, float]:
    """a, b, R² of the least-squares line, by numpy (a peer implementation, not nodeplan's)."""
    b, a = np.polyfit(sample.km, sample.rtt_ms, 1)
    resid = sample.rtt_ms - a - b * sample.km
    r2 = 1.0 - float(np.sum(resid**2) / np.sum((sample.rtt_ms - sample.rtt_ms.mean()) ** 2))
    return float(a), float(b), r2


# -- loaders and cleaning: published figures (data README) ------------------------------------------------


def test_wonderproxy_least_squares_reproduces_published_fit(wonderproxy):
    # README: 26.35 + 0.01711 km, R^2 0.72, median stretch 2.03. Our cleaning gives 26.41 + 0.01712.
    a, b, r2 = _least_squares(wonderproxy)
    assert a == pytest.approx(26.35, abs=0.1)
    assert b == pytest.approx(0.01711, abs=2e-5)
    assert round(r2, 2) == 0.72
    assert round(_median_stretch(wonderproxy), 2) == 2.03


def test_aws_least_squares_reproduces_published_fit(aws):
    # README: 25.07 + 0.01552 km (R^2 0.70), median stretch 1.76; 32 regions -> 496 unordered pairs.
    a, b, r2 = _least_squares(aws)
    assert aws.n_pairs == 32 * 31 // 2
    assert aws.n_sites == 32
    assert round(a, 2) == 25.07
    assert round(b, 5) == 0.01552
    assert round(r2, 2) == 0.70
    assert round(_median_stretch(aws), 2) == 1.76


def test_l1_fits_near_published_median_fits(wonderproxy, aws):
    # README: L1 14.5 + 0.0169 km (WonderProxy), 10.0 + 0.0157 km (AWS).
    w = fit_l1(wonderproxy.km, wonderproxy.rtt_ms)
    assert w.a_ms == pytest.approx(14.5, abs=0.5)
    assert round(w.b_ms_per_km, 4) == 0.0169
    a = fit_l1(aws.km, aws.rtt_ms)
    assert round(a.a_ms, 1) == 10.0
    assert round(a.b_ms_per_km, 4) == 0.0157


def test_cleaning_removes_faster_than_fibre_pairs_and_listed_servers(wonderproxy):
    # README: the mislocated servers "appear in pairs faster than light in fiber".
    assert np.all(wonderproxy.rtt_ms >= fiber_rtt_ms(wonderproxy.km))
    ids = set(wonderproxy.a) | set(wonderproxy.b)
    assert not ids & {str(x) for x in WONDERPROXY_MISLOCATED}
    assert all(int(a) < int(b) for a, b in zip(wonderproxy.a, wonderproxy.b, strict=True))
    assert np.all(wonderproxy.overhead_ms == 0.0)


def test_guatemala_gets_guatemala_city_coordinates(wonderproxy):
    # After the fix, server 99 (Guatemala) sits in Guatemala City (14.63 N, 90.51 W) and 98 in Panama
    # City (8.98 N, 79.52 W): ~1,200 km apart and both far from the swapped positions.
    pair = [
        i for i, (a, b) in enumerate(zip(wonderproxy.a, wonderproxy.b, strict=True)) if {a, b} == {"98", "99"}
    ]
    assert len(pair) == 1
    expected = float(great_circle_km(14.6349, -90.5069, 8.9824, -79.5199))
    assert wonderproxy.km[pair[0]] == pytest.approx(expected, abs=15.0)


def test_continent_rule_agrees_with_wonderproxys_own_labels():
    # WonderProxy labels each server 1 North America, 2 South America, 3 Eurasia, 4 Oceania, 5 Africa.
    with (DATA / WONDERPROXY_SERVERS_FILE).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    at = {r["id"]: (float(r["latitude"]), float(r["longitude"])) for r in rows}
    at["98"], at["99"] = at["99"], at["98"]  # the README's swapped pair, as the loader fixes it
    ours = continent_of([at[r["id"]][0] for r in rows], [at[r["id"]][1] for r in rows])
    theirs = [{"1": "NA", "2": "SA", "3": "EA", "4": "OC", "5": "AF"}[r["continent"]] for r in rows]
    ours_ea = ["EA" if c in ("EU", "AS") else c for c in ours]
    assert ours_ea == theirs
    assert {"EU", "AS"} <= set(ours)


def test_aws_overhead_is_the_mean_intra_region_p50(aws):
    raw = json.loads((DATA / AWS_PING_FILE).read_text())["data"]
    i = next(k for k, ab in enumerate(zip(aws.a, aws.b, strict=True)) if ab == ("eu-west-2", "us-east-1"))
    intra = (raw["eu-west-2"]["eu-west-2"] + raw["us-east-1"]["us-east-1"]) / 2.0  # 3.338 and 5.349 ms
    assert aws.overhead_ms[i] == pytest.approx(intra, rel=1e-12)
    net = aws.net_of_overhead()
    assert net.rtt_ms[i] == pytest.approx(aws.rtt_ms[i] - intra, rel=1e-12)
    assert np.all(net.rtt_ms >= fiber_rtt_ms(net.km))  # still no faster-than-fibre pair
    assert float(np.median(aws.overhead_ms)) == pytest.approx(3.0, abs=0.3)


# -- the line estimator (the former shipped shape, now a baseline) ------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(5, 60))
def test_l1_objective_equals_highs_linear_program(seed, n):
    """Our golden-section L1 fit reaches the optimum of the LP min Σ(u+v), a + b·x + u - v = y (HiGHS)."""
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10000, n)
    y = 10 + 0.017 * x + rng.standard_cauchy(n) * 5
    a_eq = np.hstack([np.ones((n, 1)), x[:, None], np.eye(n), -np.eye(n)])
    cost = np.r_[0.0, 0.0, np.ones(2 * n)]
    bounds = [(None, None)] * 2 + [(0, None)] * (2 * n)
    lp = scipy_optimize.linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    assert lp.status == 0
    f = fit_l1(x, y)
    ours = float(np.sum(np.abs(y - f.a_ms - f.b_ms_per_km * x)))
    assert ours == pytest.approx(lp.fun, rel=1e-7, abs=1e-7)


def test_l1_recovers_line_despite_outliers_least_squares_does_not():
    x = np.arange(0.0, 10000.0, 500.0)
    y = 12.0 + 0.02 * x
    y[[3, 11, 17]] += [400.0, 900.0, 250.0]  # 3 of 20 pairs on congested paths
    f = fit_l1(x, y)
    assert f.a_ms == pytest.approx(12.0, abs=1e-6)
    assert f.b_ms_per_km == pytest.approx(0.02, abs=1e-9)
    assert abs(np.polyfit(x, y, 1)[1] - 12.0) > 10


# -- the stretch fit: known answers ----------------------------------------------------------------------

TRUE = StretchRtt(2.0, (1000.0,), (0.025, 0.016))  # 2 ms + stretch 2.5 below 1,000 km, 1.6 beyond


@pytest.mark.parametrize("loss", list(Loss))
def test_stretch_fit_recovers_a_noise_free_shape_exactly(loss):
    km = np.random.default_rng(1).uniform(0.0, 15000.0, 300)
    f = fit_stretch(km, TRUE.rtt_ms_km(km), loss)
    assert f.loss is loss
    assert f.n_pairs == 300
    assert f.rtt.intercept_ms == pytest.approx(2.0, abs=1e-7)
    assert f.rtt.ms_per_km == pytest.approx((0.025, 0.016), abs=1e-10)
    assert f.objective == pytest.approx(0.0, abs=1e-7)


def test_log_fit_recovers_the_shape_under_multiplicative_noise_and_the_relative_fit_runs_low():
    # log-normal noise with median 1 and heavy right skew, as round trips have (congestion adds, never
    # subtracts): the log loss finds the median curve, the relative loss leans low (it weights the
    # over-predicted pairs more)
    rng = np.random.default_rng(7)
    km = rng.uniform(0.0, 15000.0, 4000)
    y = TRUE.rtt_ms_km(km) * np.exp(rng.normal(0.0, 0.3, km.size))
    log_fit = fit_stretch(km, y, "log").rtt
    rel_fit = fit_stretch(km, y, "relative").rtt
    assert log_fit.ms_per_km == pytest.approx(TRUE.ms_per_km, rel=0.03)
    assert float(np.median(log_fit.rtt_ms_km(km) / y)) == pytest.approx(1.0, abs=0.01)
    assert float(np.median(rel_fit.rtt_ms_km(km) / y)) < 0.97


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 50))
def test_relative_fit_reaches_the_lp_optimum_of_scipy_highs(seed, n):
    """Our dual-LP solution equals the primal LP min Σ(u+v)/y, Xβ + u - v = y, β >= bounds (SciPy HiGHS)."""
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(seed)
    km = rng.uniform(0.0, 12000.0, n)
    y = TRUE.rtt_ms_km(km) * np.exp(rng.standard_cauchy(n) * 0.05) + rng.uniform(0.0, 5.0, n)
    x = np.stack([np.ones(n), np.minimum(km, 1000.0), np.maximum(km - 1000.0, 0.0)], axis=1)
    a_eq = np.hstack([x, np.eye(n), -np.eye(n)])
    cost = np.r_[0.0, 0.0, 0.0, np.tile(1.0 / y, 2)]
    bounds = [(0.0, None), (0.01, None), (0.01, None)] + [(0.0, None)] * (2 * n)
    lp = scipy_optimize.linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    assert lp.status == 0
    f = fit_stretch(km, y, "relative")
    ours = float(np.sum(np.abs(f.rtt.rtt_ms_km(km) - y) / y))
    assert f.objective == pytest.approx(ours, rel=1e-12)
    assert ours == pytest.approx(lp.fun, rel=1e-7, abs=1e-9)


def test_log_fit_is_a_local_minimum():
    rng = np.random.default_rng(3)
    km = rng.uniform(0.0, 12000.0, 400)
    y = TRUE.rtt_ms_km(km) * np.exp(rng.laplace(0.0, 0.2, km.size))
    f = fit_stretch(km, y, "log")
    coef = np.array([f.rtt.intercept_ms, *f.rtt.ms_per_km])

    def objective(c: np.ndarray) -> float:
        return float(np.sum(np.abs(np.log(StretchRtt(c[0], (1000.0,), tuple(c[1:])).rtt_ms_km(km) / y))))

    assert objective(coef) == pytest.approx(f.objective, rel=1e-12)
    for j in range(3):
        for step in (-1e-4, 1e-4):
            c = coef.copy()
            c[j] *= 1.0 + step
            if c[0] >= 0 and min(c[1:]) >= 0.01:
                assert objective(c) >= f.objective - 1e-9


def test_stretch_fit_keeps_the_fibre_floor_when_data_are_faster_than_fibre():
    km = np.linspace(100.0, 9000.0, 50)
    f = fit_stretch(km, km / 150.0, "relative")  # impossible data: 1.5x faster than light in fibre
    assert f.rtt.intercept_ms == 0.0
    assert f.rtt.ms_per_km == (0.01, 0.01)


@pytest.mark.parametrize(
    ("km", "rtt", "loss", "message"),
    [
        ([100.0, 100.0], [5.0, 6.0], "log", "2 distinct distances"),
        ([1.0, 2.0], [5.0], "log", "km has 2 values but rtt_ms has 1"),
        ([1.0, 2.0], [1.0, 2.0], "median", "loss: unknown 'median'"),
        ([1.0, 2.0], [1.0, 0.0], "relative", "every rtt_ms must be > 0"),
        ([1.0, math.nan], [1.0, 2.0], "relative", "must be finite"),
    ],
)
def test_fit_rejects_degenerate_input(km, rtt, loss, message):
    with pytest.raises(LatencyModelError, match=message):
        fit_stretch(km, rtt, loss)


# -- StretchRtt: the shape at run time ------------------------------------------------------------------


@st.composite
def _stretch(draw):
    breaks = sorted(set(draw(st.lists(st.floats(10.0, 15000.0), min_size=0, max_size=3))))
    slopes = draw(st.lists(st.floats(0.01, 0.05), min_size=len(breaks) + 1, max_size=len(breaks) + 1))
    return StretchRtt(draw(st.floats(0.0, 30.0)), tuple(breaks), tuple(slopes))


def _by_hand(fit: StretchRtt, d: float) -> float:
    """The definition, band by band, in plain Python."""
    edges = [0.0, *fit.breaks_km, math.inf]
    return fit.intercept_ms + sum(
        s * min(max(d - lo, 0.0), hi - lo)
        for lo, hi, s in zip(edges[:-1], edges[1:], fit.ms_per_km, strict=True)
    )


@settings(max_examples=200, deadline=None)
@given(fit=_stretch(), km=st.lists(st.floats(0.0, 45000.0), min_size=1, max_size=30))
def test_stretch_rtt_is_the_band_formula_monotone_and_above_fibre(fit, km):
    d = np.sort(np.array(km))
    got = fit.rtt_ms_km(d)
    assert got.shape == d.shape
    assert got == pytest.approx([_by_hand(fit, x) for x in d], rel=1e-9, abs=1e-9)
    assert np.all(np.diff(got) >= -1e-9)  # non-decreasing in km
    assert np.all(got >= d / 100.0 - 1e-9)  # never below the fibre floor
    grid = fit.rtt_ms_km(np.stack([d, d[::-1]]))  # any shape, element by element
    assert np.array_equal(grid[0], got)
    assert np.array_equal(grid[1], got[::-1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1.0, (1000.0,), (0.02, 0.009)), "every ms_per_km must be >= 0.01"),
        ((-0.1, (1000.0,), (0.02, 0.02)), "intercept_ms must be >= 0"),
        ((1.0, (1000.0, 500.0), (0.02, 0.02, 0.02)), "breaks_km must be > 0 and increasing"),
        ((1.0, (0.0,), (0.02, 0.02)), "breaks_km must be > 0 and increasing"),
        ((1.0, (1000.0,), (0.02,)), "need one slope per band, 2 for 1 breaks"),
        ((math.inf, (1000.0,), (0.02, 0.02)), "must be finite"),
    ],
)
def test_stretch_rtt_rejects_bad_coefficients(args, message):
    with pytest.raises(LatencyModelError, match=message) as exc:
        StretchRtt(*args)
    assert "\n" not in str(exc.value)


# -- cross-validation ------------------------------------------------------------------------------------


def _toy_sample() -> PairSample:
    """Six sites on three continents, all 15 pairs, RTT = 1 + 0.02·km."""
    sites = {"p": (48.9, 2.3), "b": (52.5, 13.4), "n": (40.7, -74.0), "c": (41.9, -87.6), "t": (35.7, 139.7)}
    sites["s"] = (1.3, 103.8)
    names = sorted(sites)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    la = np.array([sites[a] for a, _ in pairs])
    lb = np.array([sites[b] for _, b in pairs])
    km = great_circle_km(la[:, 0], la[:, 1], lb[:, 0], lb[:, 1])
    return PairSample(
        "toy",
        tuple(a for a, _ in pairs),
        tuple(b for _, b in pairs),
        km,
        1.0 + 0.02 * km,
        (),
        continent_of(la[:, 0], la[:, 1]),
        continent_of(lb[:, 0], lb[:, 1]),
        np.zeros(km.size),
    )


@pytest.mark.parametrize(
    ("scheme", "folds", "held_per_fold"), [(CvScheme.REGION, 6, 5), (CvScheme.CONTINENT, 3, 9)]
)
def test_cross_validation_never_trains_on_a_held_out_group(scheme, folds, held_per_fold):
    # 6 sites, 2 per continent, 15 pairs. One site out: its 5 pairs held out. One continent out: the 9
    # pairs touching it (15 minus the 6 among the other four sites).
    sample = _toy_sample()
    assert sorted(set(sample.continent_a) | set(sample.continent_b)) == ["AS", "EU", "NA"]
    assert np.unique(sample.km).size == 15
    trained: list[set[float]] = []

    def recording_fit(km, y):
        trained.append(set(km.tolist()))
        return LinearRtt(1.0, 0.02)

    res = cross_validate(sample, recording_fit, scheme)
    assert res.n_folds == folds == len(trained)
    assert res.pair.size == folds * held_per_fold
    for train, held in zip(trained, np.split(res.pair, folds), strict=True):
        held_km = {float(sample.km[i]) for i in held}
        assert not held_km & train  # nothing held out was trained on
        assert held_km | train == set(sample.km.tolist())  # and nothing else was held out
        ends = [
            {sample.a[i], sample.b[i]}
            if scheme is CvScheme.REGION
            else {sample.continent_a[i], sample.continent_b[i]}
            for i in held
        ]
        assert set.intersection(*ends)  # every held-out pair touches the fold's site / continent
    assert np.allclose(res.predicted_ms, res.observed_ms)
    assert res.scores()["all"].median_ape_pct == pytest.approx(0.0, abs=1e-9)


def test_band_scores_by_hand():
    s = band_scores(
        [100.0, 200.0, 300.0, 2000.0, 9000.0], [9.0, 22.0, 33.0, 50.0, 90.0], [10.0, 20.0, 30.0, 40.0, 100.0]
    )
    # <1000: errors -10%, +10%, +10% -> APE median 10, bias median +10; 1000-5000: +25%; >5000: -10%
    assert s["<1000 km"] == BandScore(10.0, 10.0, 3)
    assert s["1000-5000 km"] == BandScore(25.0, 25.0, 1)
    assert s[">5000 km"] == BandScore(10.0, -10.0, 1)
    assert s["all"] == BandScore(10.0, 10.0, 5)
    assert [b for b, _, _ in BANDS] == ["all", "<1000 km", "1000-5000 km", ">5000 km"]


# -- the shipped coefficients ------------------------------------------------------------------------------


def _shipped() -> dict:
    return json.loads(resources.files("nodeplan.model").joinpath("data", "rtt_fit.json").read_text("utf-8"))


def test_shipped_file_is_final_and_names_its_sources():
    doc = _shipped()
    assert doc["schema"] == 2
    assert "0ab28d0" in doc["public"]["source"]
    assert "fa429d7" in doc["backbone"]["source"]
    assert "wonderproxy_pings_2020-07-19_grouped.csv" in doc["public"]["files"]
    assert "aws_cloudping_p50_1y_2025-05-29.json" in doc["backbone"]["files"]
    assert (doc["public"]["n_pairs"], doc["backbone"]["n_pairs"]) == (28573, 496)
    assert doc["backbone"]["n_sites"] == 32
    assert "intra-region" in doc["backbone"]["target"]
    for part in ("public", "backbone"):
        e = doc[part]
        StretchRtt.from_dict(e)  # valid: slopes >= 1/100 ms/km, intercept >= 0
        assert e["marginal_stretch"] == [round(s * 100.0, 3) for s in e["ms_per_km"]]
        assert Loss(e["loss"])
        assert set(e["cv"]) == {s.value for s in CvScheme}
        for by_band in e["cv"].values():
            assert [b for b, _, _ in BANDS] == list(by_band)


def test_shipped_cv_figures_meet_the_bias_goal_and_beat_the_old_line_below_1000_km():
    # held-out figures recorded by the fit script (regenerated and compared below when the data is here)
    doc = _shipped()
    for part in ("public", "backbone"):
        for scheme, by_band in doc[part]["cv"].items():
            for band, s in by_band.items():
                assert abs(s["bias_pct"]) <= MAX_BAND_BIAS_PCT, (part, scheme, band)
    bb = doc["backbone"]["cv"]
    assert bb["leave_one_region_out"]["all"]["median_ape_pct"] < 14.0
    assert bb["leave_one_continent_out"]["all"]["median_ape_pct"] < 14.0


def test_the_stretch_model_beats_the_old_line_under_the_same_cross_validation(aws, wonderproxy):
    doc = _shipped()
    old = {"public": LinearRtt(14.79, 0.016893), "backbone": LinearRtt(10.021, 0.015688)}
    for part, sample in (("public", wonderproxy), ("backbone", aws.net_of_overhead())):
        line = cross_validate(sample, lambda km, y, f=old[part]: f, CvScheme.REGION).scores()
        ours = doc[part]["cv"]["leave_one_region_out"]
        assert ours["<1000 km"]["median_ape_pct"] < line["<1000 km"].median_ape_pct - 5.0  # the band
        assert abs(ours["<1000 km"]["bias_pct"]) < abs(line["<1000 km"].bias_pct)
    line = cross_validate(aws.net_of_overhead(), lambda km, y: old["backbone"], CvScheme.REGION).scores()
    assert doc["backbone"]["cv"]["leave_one_region_out"]["all"]["median_ape_pct"] < line["all"].median_ape_pct


def test_shipped_file_is_what_the_fit_script_produces():
    doc, shipped = build_fit_document(DATA, date=_shipped()["generated"]), _shipped()
    assert doc == shipped


def _write_small_data(d: Path) -> None:
    """A consistent miniature of the shared files: 6 WonderProxy cities, 5 AWS regions."""
    # ids clear of the README's dropped servers (3, 139, 190, 204, 220) and the swapped pair (98, 99)
    cities = {11: (48.86, 2.35), 12: (52.52, 13.40), 13: (40.71, -74.01), 14: (41.88, -87.63)}
    cities |= {15: (35.68, 139.77), 16: (-33.87, 151.21)}
    with (d / WONDERPROXY_SERVERS_FILE).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "latitude", "longitude"])
        w.writerows([i, f"c{i}", lat, lon] for i, (lat, lon) in cities.items())
    with (d / "wonderproxy_pings_2020-07-19_grouped.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "destination", "min", "avg", "max", "mdev"])
        for i, p in cities.items():
            for j, q in cities.items():
                if i != j:
                    rtt = float(TRUE.rtt_ms_km(great_circle_km(*p, *q))) * (1.0 + 0.01 * ((i * j) % 3))
                    w.writerow([i, j, rtt, rtt, rtt, 0.1])
    regions = {"r1": (39.04, -77.49), "r2": (45.84, -119.70), "r3": (53.35, -6.25), "r4": (35.68, 139.77)}
    regions["r5"] = (40.08, -82.81)  # 480 km from r1: the one short pair that pins the intercept
    data = {
        a: {
            b: (3.0 if a == b else 3.0 + float(TRUE.rtt_ms_km(great_circle_km(*p, *q))))
            for b, q in regions.items()
        }
        for a, p in regions.items()
    }
    (d / AWS_PING_FILE).write_text(json.dumps({"data": data}))
    with (d / "aws_region_coords_curated.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["region", "latitude", "longitude"])
        w.writerows([r, lat, lon] for r, (lat, lon) in regions.items())


def test_fit_cli_writes_the_file(tmp_path, capsys):
    _write_small_data(tmp_path)
    out = tmp_path / "fit.json"
    assert main(["--data", str(tmp_path), "--out", str(out), "--date", "2020-01-01"]) == 0
    doc = json.loads(out.read_text())
    assert doc["generated"] == "2020-01-01"
    assert doc["public"]["n_pairs"] == 15
    assert doc["backbone"]["n_pairs"] == 10
    # the backbone data is TRUE plus a 3 ms intra-region overhead: net of it, the shape comes back
    bb = StretchRtt.from_dict(doc["backbone"])
    assert bb.intercept_ms == pytest.approx(TRUE.intercept_ms, abs=1e-3)
    assert bb.ms_per_km == pytest.approx(TRUE.ms_per_km, abs=1e-6)
    assert capsys.readouterr().out.startswith(f"wrote {out}: public ")


def test_fit_cli_missing_data_is_one_line_error(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "aws_cloudping_p50_1y_2025-05-29.json" in err
    assert "\n" not in err


# -- the shipped model: properties and an outside check ------------------------------------------------

_lat = st.floats(-90, 90, allow_nan=False)
_lon = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(lat1=_lat, lon1=_lon, lat2=_lat, lon2=_lon, same=st.booleans())
def test_default_model_never_below_fibre_and_symmetric(lat1, lon1, lat2, lon2, same):
    m = default_rtt_model()
    r = float(m.rtt_ms(lat1, lon1, lat2, lon2, same_provider=same))
    back = float(m.rtt_ms(lat2, lon2, lat1, lon1, same_provider=same))
    km = float(great_circle_km(lat1, lon1, lat2, lon2))
    assert r >= km / 100.0
    assert r == pytest.approx(back, rel=1e-12, abs=1e-12)
    assert math.isfinite(r)


@settings(max_examples=200, deadline=None)
@given(p=st.tuples(_lat, _lon, _lat, _lon), q=st.tuples(_lat, _lon, _lat, _lon), same=st.booleans())
def test_default_model_monotone_in_distance(p, q, same):
    m = default_rtt_model()
    (kp, rp), (kq, rq) = (
        (float(great_circle_km(*x)), float(m.rtt_ms(*x, same_provider=same))) for x in (p, q)
    )
    if kp <= kq:
        assert rp <= rq
    else:
        assert rp >= rq


def test_default_model_backbone_faster_than_public_at_every_distance():
    m = default_rtt_model()
    km = np.linspace(0.0, 20015.0, 2001)
    assert np.all(m.backbone.rtt_ms_km(km) < m.public.rtt_ms_km(km))
    # London - New York, 5,570 km: 4.58 + 28.65 + 0.016731 x 4570 = 109.7 ms public,
    # 21.11 + 0.0153338 x 4570 = 91.2 ms backbone
    pub = float(m.rtt_ms(51.5074, -0.1278, 40.7128, -74.0060))
    bb = float(m.rtt_ms(51.5074, -0.1278, 40.7128, -74.0060, same_provider=True))
    km_lny = float(great_circle_km(51.5074, -0.1278, 40.7128, -74.0060))
    assert pub == pytest.approx(4.5755 + 28.6494 + 0.016731 * (km_lny - 1000.0), rel=1e-9)
    assert bb == pytest.approx(21.1144 + 0.0153338 * (km_lny - 1000.0), rel=1e-9)


# IBM Cloud VPC, "Inter-region latency", average ms, 18 Jul - 16 Aug 2026 (GitHub ibm-cloud-docs/vpc @
# 3fdff6f, _include-segments/network-latency.md): row -> column, upper triangle. IBM's RTTs were never
# seen by the fit. Metro coordinates: ../shared/data/latency/cloud_regions_flat.csv (Chennai and Mumbai,
# absent there: the city centres).
_IBM_SITES = {
    "Dallas": (32.778155, -96.795404),
    "Toronto": (43.64856, -79.385324),
    "Washington DC": (38.89037, -77.031959),
    "Frankfurt": (50.112065, 8.683415),
    "London": (51.506325, -0.127144),
    "Madrid": (40.4203, -3.705774),
    "Montreal": (45.5576996, -74.0104842),
    "Chennai": (13.0827, 80.2707),
    "Mumbai": (19.0761, 72.8775),
    "Osaka": (34.677471, 135.503235),
    "Sydney": (-33.869696, 151.20704),
    "Tokyo": (35.5092405, 139.7698121),
    "Sao Paulo": (-23.56288, -46.654659),
}
_IBM_ROWS = """
Dallas        35 32 123 113 119 42 248 249 152 186 145 142
Toronto       19 93 83 108 11 223 200 142 216 135 126
Washington DC 86 76 89 15 240 218 147 215 142 122
Frankfurt     13 29 89 141 118 236 250 229 191
London        26 79 141 118 245 261 238 181
Madrid        104 154 130 259 276 253 215
Montreal      219 197 150 224 143 121
Chennai       24 112 126 105 363
Mumbai        139 152 132 343
Osaka         108 9 291
Sydney        101 327
Tokyo         284
"""


def test_backbone_on_ibm_clouds_published_inter_region_latency():
    names = list(_IBM_SITES)
    km, rtt = [], []
    for line in _IBM_ROWS.strip().splitlines():
        cells = line.split()
        row = " ".join(c for c in cells if not c.isdigit())
        values = [float(c) for c in cells if c.isdigit()]
        others = names[names.index(row) + 1 :]
        assert len(values) == len(others)
        for other, v in zip(others, values, strict=True):
            km.append(float(great_circle_km(*_IBM_SITES[row], *_IBM_SITES[other])))
            rtt.append(v)
    assert len(rtt) == 78
    bb = default_rtt_model().backbone
    ours = band_scores(km, bb.rtt_ms_km(km), rtt)
    old = band_scores(km, LinearRtt(10.021, 0.015688).rtt_ms_km(km), rtt)
    assert ours["all"].median_ape_pct <= 12.0  # 10.8% when written
    assert abs(ours["all"].bias_pct) <= 5.0
    assert ours["all"].median_ape_pct < old["all"].median_ape_pct  # the old line: 14.8%, +6.9% bias


# -- measured matrix -----------------------------------------------------------------------------------


def test_measured_overrides_fit_where_present_and_falls_back_elsewhere():
    fit = RttModel(LinearRtt(10.0, 0.02), LinearRtt(5.0, 0.015))
    m = fit.with_measured(MeasuredRtt.from_pairs({("a", "b"): 7.0, ("b", "a"): 9.0}))
    lat, lon = np.array([0.0, 0.0, 0.0]), np.array([0.0, 10.0, 20.0])
    names = ["a", "b", "c"]
    got = m.rtt_ms_named(names, lat, lon, names, lat, lon)
    plain = fit.rtt_ms_named(names, lat, lon, names, lat, lon)
    assert got[0, 1] == got[1, 0] == 8.0  # both directions averaged
    km_ac = float(great_circle_km(0, 0, 0, 20))
    assert got[0, 2] == pytest.approx(10.0 + 0.02 * km_ac)  # not measured: the public fit
    assert np.array_equal(np.delete(got.ravel(), [1, 3]), np.delete(plain.ravel(), [1, 3]))
    assert m.measured is not None
    assert m.measured.lookup([], ["a"]).shape == (0, 1)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rtt.csv"
    p.write_text(text)
    return p


def test_load_rtt_matrix_reads_pairs(tmp_path):
    p = _write(
        tmp_path, "from,to,rtt_ms,note\nnode-1,node-2,20.5,x\nnode-2,node-1,21.5,\nBerlin,node-1, 3 ,\n"
    )
    m = load_rtt_matrix(p)
    assert m.names == ("Berlin", "node-1", "node-2")
    got = m.lookup(["node-1", "Berlin"], ["node-2", "node-1"])
    assert got[0, 0] == 21.0
    assert got[1, 1] == 3.0
    assert np.isnan(got[1, 0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from,to\na,b\n", "missing column 'rtt_ms'"),
        ("from,to,rtt_ms\na,b,1\na,c,fast\n", "row 3 column 'rtt_ms': not a number (got 'fast')"),
        ("from,to,rtt_ms\na,b,-4\n", "row 2 column 'rtt_ms': must be >= 0 ms (got '-4')"),
        ("from,to,rtt_ms\na,b,NaN\n", "row 2 column 'rtt_ms': must be finite (got 'NaN')"),
        ("from,to,rtt_ms\na,b,inf\n", "row 2 column 'rtt_ms': must be finite (got 'inf')"),
        ("from,to,rtt_ms\na,,3\n", "row 2 column 'to': empty name"),
        ("from,to,rtt_ms\na,b,3\nc,d,4\na,b,5\n", "row 4: pair 'a' -> 'b' already given at row 2"),
        ("from,to,rtt_ms\n", "no rows after the header"),
        ("", "empty file"),
    ],
)
def test_load_rtt_matrix_errors_are_one_line_and_precise(tmp_path, text, message):
    with pytest.raises(LatencyModelError) as exc:
        load_rtt_matrix(_write(tmp_path, text))
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_load_rtt_matrix_missing_file(tmp_path):
    with pytest.raises(LatencyModelError, match="cannot read RTT matrix"):
        load_rtt_matrix(tmp_path / "absent.csv")
