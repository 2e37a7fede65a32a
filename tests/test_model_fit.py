"""RTT fits against the figures published in tests/data/README.md (the data README), the shipped coefficients, the
properties of the default RTT model, and measured-matrix overrides."""

from __future__ import annotations

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
    WONDERPROXY_MISLOCATED,
    Estimator,
    build_fit_document,
    fit_l1,
    fit_least_squares,
    fit_line,
    holdout_score,
    holdout_split,
    load_aws_cloudping,
    load_wonderproxy,
    main,
)
from nodeplan.model.geo import fiber_rtt_ms, great_circle_km
from nodeplan.model.matrix_io import load_rtt_matrix
from nodeplan.model.rtt import LinearRtt, MeasuredRtt, RttModel, default_rtt_model

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


# -- published figures (data README) -----------------------------------------------------------------------


def test_wonderproxy_least_squares_reproduces_published_fit(wonderproxy):
    # README: 26.35 + 0.01711 km, R^2 0.72, median stretch 2.03. Our cleaning gives 26.41 + 0.01712.
    f = fit_least_squares(wonderproxy.km, wonderproxy.rtt_ms)
    assert f.a_ms == pytest.approx(26.35, abs=0.1)
    assert f.b_ms_per_km == pytest.approx(0.01711, abs=2e-5)
    assert round(f.r2, 2) == 0.72
    assert round(_median_stretch(wonderproxy), 2) == 2.03


def test_aws_least_squares_reproduces_published_fit(aws):
    # README: 25.07 + 0.01552 km (R^2 0.70), median stretch 1.76; 32 regions -> 496 unordered pairs.
    f = fit_least_squares(aws.km, aws.rtt_ms)
    assert aws.n_pairs == 32 * 31 // 2
    assert round(f.a_ms, 2) == 25.07
    assert round(f.b_ms_per_km, 5) == 0.01552
    assert round(f.r2, 2) == 0.70
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


def test_guatemala_gets_guatemala_city_coordinates(wonderproxy):
    # After the fix, server 99 (Guatemala) sits in Guatemala City (14.63 N, 90.51 W) and 98 in Panama
    # City (8.98 N, 79.52 W): ~1,200 km apart and both far from the swapped positions.
    pair = [
        i for i, (a, b) in enumerate(zip(wonderproxy.a, wonderproxy.b, strict=True)) if {a, b} == {"98", "99"}
    ]
    assert len(pair) == 1
    expected = float(great_circle_km(14.6349, -90.5069, 8.9824, -79.5199))
    assert wonderproxy.km[pair[0]] == pytest.approx(expected, abs=15.0)


# -- estimators --------------------------------------------------------------------------------------------


def test_least_squares_matches_numpy_polyfit():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 15000, 500)
    y = 20 + 0.018 * x + rng.normal(0, 15, 500)
    b, a = np.polyfit(x, y, 1)
    f = fit_least_squares(x, y)
    assert f.a_ms == pytest.approx(a, rel=1e-9)
    assert f.b_ms_per_km == pytest.approx(b, rel=1e-9)


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
    assert abs(fit_least_squares(x, y).a_ms - 12.0) > 10


def test_fit_rejects_degenerate_input():
    with pytest.raises(LatencyModelError, match="2 distinct distances"):
        fit_least_squares([100.0, 100.0], [5.0, 6.0])
    with pytest.raises(LatencyModelError, match="km has 2 values but rtt_ms has 1"):
        fit_l1([1.0, 2.0], [5.0])
    with pytest.raises(LatencyModelError, match="estimator: unknown 'median'"):
        fit_line([1.0, 2.0], [1.0, 2.0], "median")


def test_holdout_split_is_seeded_and_disjoint():
    tr1, te1 = holdout_split(1000, seed=7)
    tr2, te2 = holdout_split(1000, seed=7)
    _, te3 = holdout_split(1000, seed=8)
    assert np.array_equal(te1, te2)
    assert np.array_equal(tr1, tr2)
    assert not np.array_equal(te1, te3)
    assert te1.size == 200
    assert np.intersect1d(tr1, te1).size == 0
    with pytest.raises(LatencyModelError, match="test_fraction"):
        holdout_split(10, 0, 1.5)


# -- the shipped coefficients ------------------------------------------------------------------------------


def _shipped() -> dict:
    return json.loads(resources.files("nodeplan.model").joinpath("data", "rtt_fit.json").read_text("utf-8"))


def test_shipped_file_is_final_and_names_its_sources():
    doc = _shipped()
    assert doc["schema"] == 1
    assert "provisional" not in doc
    assert "0ab28d0" in doc["public"]["source"]
    assert "fa429d7" in doc["backbone"]["source"]
    assert "wonderproxy_pings_2020-07-19_grouped.csv" in doc["public"]["files"]
    assert "aws_cloudping_p50_1y_2025-05-29.json" in doc["backbone"]["files"]
    for part in ("public", "backbone"):
        assert doc[part]["b_ms_per_km"] >= 0.01  # at or above the fibre bound at every distance
        assert doc[part]["a_ms"] >= 0


def test_shipped_file_is_what_the_fit_script_produces():
    doc, shipped = build_fit_document(DATA, date=_shipped()["generated"]), _shipped()
    assert doc == shipped


def test_shipped_estimator_has_the_lower_holdout_error(wonderproxy, aws):
    doc = _shipped()
    for part, sample in (("public", wonderproxy), ("backbone", aws)):
        scores = {e: holdout_score(sample, e, seed=0).median_ape_pct for e in Estimator}
        assert doc[part]["estimator"] == min(scores, key=scores.__getitem__).value
        assert doc[part]["n_pairs"] == sample.n_pairs
        baseline = holdout_score(sample, None, seed=0).median_ape_pct
        assert min(scores.values()) < baseline  # beats the fibre bound


def test_fit_cli_writes_the_file(tmp_path, capsys):
    out = tmp_path / "fit.json"
    assert main(["--data", str(DATA), "--out", str(out), "--date", "2020-01-01"]) == 0
    doc = json.loads(out.read_text())
    assert doc["generated"] == "2020-01-01"
    assert doc["public"]["a_ms"] == _shipped()["public"]["a_ms"]
    assert "wrote" in capsys.readouterr().out


def test_fit_cli_missing_data_is_one_line_error(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "wonderproxy_servers_2020-07-19.csv" in err
    assert "\n" not in err


# -- the default model: properties ---------------------------------------------------------------------

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


def test_default_model_backbone_faster_than_public_at_same_distance():
    # London - New York, 5,570 km: public 14.79 + 0.016893*5570 ~ 108.9 ms; AWS backbone ~ 97.4 ms.
    m = default_rtt_model()
    pub = float(m.rtt_ms(51.5074, -0.1278, 40.7128, -74.0060))
    bb = float(m.rtt_ms(51.5074, -0.1278, 40.7128, -74.0060, same_provider=True))
    # External reference: the L1 fits quoted in the data README (public 14.5 + 0.0169 km, AWS 10.0 +
    # 0.0157 km) give 108.6 ms and 97.4 ms at this distance.
    assert pub == pytest.approx(14.5 + 0.0169 * 5570.0, abs=1.0)
    assert bb == pytest.approx(10.0 + 0.0157 * 5570.0, abs=0.5)
    assert bb < pub


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
