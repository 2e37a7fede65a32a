"""The consensus rule (``nodeplan.model.consensus``): hand-computed cases, both paths against a brute force
written here with exact fractions, the monotone consensus part of harm, and the user-reported cases on the
built-in network."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.metrics.audit import audit_scenario
from nodeplan.metrics.failure import failure_harm
from nodeplan.model.consensus import ConsensusModel, consensus_harm, consensus_model
from nodeplan.report.html import audit_figures
from nodeplan.report.tables import failure_table_view
from nodeplan.scenario.arrays import compile_scenario
from nodeplan.scenario.io import load_builtin
from nodeplan.scenario.model import Node, NodeStatus, Scenario


def _validators(stakes, providers, countries=None, down=()):
    nodes = [
        Node(
            id=f"v{i}",
            lat=0,
            lon=0,
            roles={"coordination"},
            stake=s,
            provider=p,
            country=None if countries is None else countries[i],
            status=NodeStatus.DOWN if i in down else NodeStatus.UP,
        )
        for i, (s, p) in enumerate(zip(stakes, providers, strict=True))
    ]
    sc = Scenario(nodes=nodes)
    a = compile_scenario(sc)
    return a, consensus_model(a, a.dim_codes, ("provider", "country"))


# --- hand-computed -----------------------------------------------------------------------------------


def test_30_30_20_20_on_four_providers():
    _, cm = _validators([30, 30, 20, 20], ["a", "b", "c", "d"])
    out = cm.after_each_value("provider")
    # losing a (or b): 70 of 100 alive > 2/3, runs; the other 30 holds 30/70 = 43% >= 1/3: fragile.
    # losing c (or d): 80 alive; a and b hold 30/80 = 37.5% each (tie: lowest code, a).
    assert out.stake_lost.tolist() == pytest.approx([0.3, 0.3, 0.2, 0.2])
    assert out.alive_share.tolist() == pytest.approx([0.7, 0.7, 0.8, 0.8])
    assert not out.halted.any()
    assert out.fragile.all()
    rows = [cm.at(out, v) for v in range(4)]
    assert [(r.largest.value, r.largest.share) for r in rows] == [
        ("b", pytest.approx(30 / 70)),
        ("a", pytest.approx(30 / 70)),
        ("a", pytest.approx(30 / 80)),
        ("a", pytest.approx(30 / 80)),
    ]
    # with no failure a and b each hold 30% < 1/3: not fragile
    base = cm.baseline()
    assert (base.halted, base.fragile, base.alive_share) == (False, False, 1.0)
    assert cm.dominant() == ()
    # losing a and c together (a mask): 50 alive <= 2/3: halted, so not "fragile"
    both = cm.at(cm.after_down(np.array([True, False, True, False])), 0)
    assert (both.stake_lost, both.halted, both.fragile) == (pytest.approx(0.5), True, False)
    assert both.largest.value == "b"
    assert both.largest.share == pytest.approx(30 / 50)


def test_fragile_looks_at_every_dimension_not_only_the_failed_one():
    # providers a, b, c, d with 25 each; a and b both in country X. Losing provider d leaves 75 alive (runs);
    # no provider holds more than 25/75 = 1/3... which is exactly the third (fragile), but country X holds
    # 50/75 = 2/3 and is the largest surviving domain.
    a, cm = _validators([25, 25, 25, 25], ["a", "b", "c", "d"], countries=["FR", "FR", "DE", "NL"])
    out = cm.at(cm.after_each_value("provider"), 3)
    assert (out.halted, out.fragile) == (False, True)
    assert (out.largest.dimension, out.largest.value) == ("country", "FR")
    assert out.largest.share == pytest.approx(2 / 3)
    # losing country FR (a and b): 50 alive = 1/2 <= 2/3: halted
    k = a.dim_values[a.dim_index("country")].index("FR")
    fr = cm.at(cm.after_each_value("country"), k)
    assert (fr.stake_lost, fr.halted, fr.fragile) == (pytest.approx(0.5), True, False)


def test_exactly_two_thirds_alive_halts():
    _, cm = _validators([1, 1, 1], ["a", "b", "c"])
    out = cm.after_each_value("provider")
    assert out.alive_share.tolist() == pytest.approx([2 / 3] * 3)
    assert out.halted.all()  # BFT needs *more* than 2/3
    assert not out.fragile.any()


def test_delinquent_stake_counts_in_the_total_not_as_alive():
    # 10 of 100 already down (delinquent): 90% alive, runs; losing provider b (25) leaves 65% <= 2/3.
    _, cm = _validators([10, 25, 25, 40], ["a", "b", "c", "d"], down=(0,))
    base = cm.baseline()
    assert base.alive_share == pytest.approx(0.9)
    assert base.halted is False
    assert base.fragile is True  # d holds 40/90 of the live stake
    out = cm.at(cm.after_each_value("provider"), 1)
    assert (out.stake_lost, out.alive_share, out.halted) == (pytest.approx(0.25), pytest.approx(0.65), True)
    # losing provider a loses nothing more: no stake lost, no consensus harm
    a_out = cm.after_each_value("provider")
    assert a_out.stake_lost[0] == 0.0
    assert cm.harm(a_out)[0] == 0.0


def test_no_stake_no_model():
    sc = Scenario(nodes=[Node(id="e", lat=0, lon=0, roles={"execution"}, provider="a")])
    a = compile_scenario(sc)
    assert consensus_model(a, a.dim_codes, ("provider",)) is None


def test_consensus_harm_by_hand():
    # stake lost counts even when consensus runs; +1 only for a new halt
    assert consensus_harm([0.234, 0.4, 0.4], [False, True, True], False).tolist() == pytest.approx(
        [0.234, 1.4, 1.4]
    )
    assert consensus_harm(0.4, True, True).tolist() == pytest.approx(0.4)


# --- both paths against a brute force -----------------------------------------------------------------

_N = 14
_DIMS = ("d0", "d1", "d2")
_VALUES = (("x", "y", "z"), ("p", "q"), ("r", "s", "t", "u"))


@st.composite
def _networks(draw):
    n = draw(st.integers(1, _N))
    stake = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    coord = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    live = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    codes = [
        draw(st.lists(st.integers(-1, len(v) - 1), min_size=n, max_size=n)) for v in _VALUES
    ]  # -1: unknown
    return (
        np.array(stake, dtype=float),
        np.array(coord, dtype=bool),
        np.array(live, dtype=bool),
        np.array(codes, dtype=np.int32).T.reshape(n, len(_DIMS)),
    )


def _model(net) -> ConsensusModel | None:
    stake, coord, live, codes = net
    if not stake[coord].sum() > 0:
        return None
    return ConsensusModel(stake, coord, live, codes, _DIMS, _VALUES, _DIMS)


def _brute(net, down):
    """(stake lost, alive share, halted, fragile, (dim, value, share) or None) with exact fractions."""
    stake, coord, live, codes = net
    s = [int(x) for x in stake]
    total = sum(s[i] for i in range(len(s)) if coord[i])
    alive_nodes = [i for i in range(len(s)) if coord[i] and live[i] and not down[i]]
    lost = sum(s[i] for i in range(len(s)) if coord[i] and live[i] and down[i])
    alive = sum(s[i] for i in alive_nodes)
    halted = Fraction(alive, total) <= Fraction(2, 3)
    best = None
    for j, dim in enumerate(_DIMS):
        per: dict[int, int] = {}
        for i in alive_nodes:
            if codes[i, j] >= 0:
                per[int(codes[i, j])] = per.get(int(codes[i, j]), 0) + s[i]
        for u in sorted(per):  # lowest code first; a later dimension wins only when strictly larger
            if per[u] > 0 and (best is None or per[u] > best[2]):
                best = (dim, _VALUES[j][u], per[u])
    fragile = not halted and best is not None and 3 * best[2] >= alive
    largest = None if best is None else (best[0], best[1], Fraction(best[2], alive))
    return Fraction(lost, total), Fraction(alive, total), halted, fragile, largest


def _same(cm, out, i, ref):
    got = cm.at(out, i)
    assert got.stake_lost == pytest.approx(float(ref[0]), abs=1e-12)
    assert got.alive_share == pytest.approx(float(ref[1]), abs=1e-12)
    assert (got.halted, got.fragile) == (ref[2], ref[3])
    if ref[4] is None:
        assert got.largest is None
    else:
        assert got.largest is not None
        assert (got.largest.dimension, got.largest.value) == ref[4][:2]
        assert got.largest.share == pytest.approx(float(ref[4][2]), abs=1e-12)


@settings(max_examples=150)
@given(_networks())
def test_per_dimension_path_and_mask_path_agree_with_a_brute_force(net):
    cm = _model(net)
    if cm is None:
        return
    codes = net[3]
    for k, dim in enumerate(_DIMS):
        per_value = cm.after_each_value(dim)
        masks = np.stack([codes[:, k] == v for v in range(len(_VALUES[k]))])
        by_mask = cm.after_down(masks)
        for v in range(len(_VALUES[k])):
            ref = _brute(net, masks[v])
            _same(cm, per_value, v, ref)
            _same(cm, by_mask, v, ref)
        assert np.array_equal(per_value.halted, by_mask.halted)
        assert np.array_equal(per_value.fragile, by_mask.fragile)
        assert np.array_equal(per_value.largest_dim, by_mask.largest_dim)
        assert np.array_equal(per_value.largest_value, by_mask.largest_value)


@settings(max_examples=100)
@given(_networks(), st.data())
def test_mask_path_agrees_with_a_brute_force_on_any_set_of_nodes(net, data):
    cm = _model(net)
    if cm is None:
        return
    n = net[0].size
    masks = np.array(
        data.draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=1, max_size=6)),
        dtype=bool,
    )
    out = cm.after_down(masks)
    for t in range(masks.shape[0]):
        _same(cm, out, t, _brute(net, masks[t]))


@settings(max_examples=150)
@given(_networks(), st.data())
def test_consensus_harm_is_monotone_in_the_failed_nodes(net, data):
    # A subset of B: losing B never scores less consensus harm than losing A
    cm = _model(net)
    if cm is None:
        return
    n = net[0].size
    a = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    extra = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    b = a | extra
    h = cm.harm(cm.after_down(np.stack([np.zeros(n, dtype=bool), a, b])))
    assert h[0] == 0.0
    assert h[1] <= h[2] + 1e-12
    # the same through the brute force: stake lost + 1 for a new halt
    base_halted = _brute(net, np.zeros(n, dtype=bool))[2]
    for mask, got in ((a, h[1]), (b, h[2])):
        ref = _brute(net, mask)
        assert got == pytest.approx(float(ref[0]) + (ref[2] and not base_halted), abs=1e-12)


@settings(max_examples=100)
@given(_networks(), st.data())
def test_a_failure_that_loses_no_stake_is_no_consensus_harm(net, data):
    cm = _model(net)
    if cm is None:
        return
    stake, coord, live, _ = net
    n = stake.size
    pick = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    no_stake = pick & ~(coord & live & (stake > 0))  # only nodes whose loss takes no live stake
    out = cm.after_down(no_stake)
    assert out.stake_lost[0] == 0.0
    assert cm.harm(out)[0] == 0.0
    assert bool(out.halted[0]) == cm.baseline().halted


# --- the user-reported case on the built-in network ----------------------------------------------------


@pytest.fixture(scope="module")
def builtin_audit():
    sc = load_builtin("opengradient")
    return sc, audit_scenario(sc)


def test_builtin_losing_lambda_loses_no_stake_and_does_not_halt(builtin_audit):
    sc, res = builtin_audit
    row = next(r for r in res.failure_rows if (r.dimension, r.value) == ("provider", "lambda"))
    # no validator runs on Lambda: no stake lost, consensus not halted
    assert (row.stake_lost, row.halted, row.alive_stake_share) == (0.0, False, 1.0)
    # the harm is the serving part alone: the consensus part is 0
    n_models = len(sc.models)
    serving_only = failure_harm(
        row.capacity_lost,
        row.demand_served,
        row.verified,
        res.baseline,
        len(row.models_unreplicated),
        n_models,
        0.0,
    )
    assert row.harm == pytest.approx(float(serving_only), abs=1e-12)
    # neither the table nor the heat map calls it halted
    table = failure_table_view(res, limit=len(res.failure_rows))
    col = {str(c.header): [str(x) for x in c.cells] for c in table.columns}
    i = next(
        i
        for i, (d, v) in enumerate(zip(col["dimension"], col["value"], strict=True))
        if (d, v) == ("provider", "lambda")
    )
    assert col["halted"][i] == "no"
    heat = audit_figures(res, sc)["failures"].data[0]
    j = list(heat.x).index("consensus halted")
    assert heat.z[list(heat.y).index("provider=lambda")][j] == 0.0


def test_builtin_losing_aws_halts(builtin_audit):
    _, res = builtin_audit
    row = res.failure_rows[0]
    # AWS runs 3 of 8 equal validators: 5/8 = 62.5% alive <= 2/3
    assert (row.dimension, row.value) == ("provider", "aws")
    assert (row.halted, row.alive_stake_share, row.stake_lost) == (True, 0.625, 0.375)
    assert "halts consensus" in res.headline
