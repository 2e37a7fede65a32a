"""Concentration measures: the EDI's published test vectors, hand-computed cases and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.metrics.measures import (
    BFT_THRESHOLD,
    UnknownPolicy,
    concentration_ratio,
    effective_entities_entropy,
    effective_entities_hhi,
    entity_weights,
    entropy,
    entropy_percentage,
    gini,
    hhi,
    measure_distribution,
    nakamoto,
    tau_index,
    theil,
    total_entities,
)

# --- published vectors (consensus-decentralization tests/test_metrics.py, via edi_definitions.md) -----


@pytest.mark.parametrize(
    ("w", "alpha", "expected"),
    [
        ([3, 2, 1], 1, 1.459),
        ([3, 2, 1], -1, 1.0),
        ([432, 288, 216, 64], 0, 2.0),
        ([432, 288, 216, 64], 2, 1.642),
    ],
)
def test_entropy_published(w, alpha, expected):
    assert entropy(w, alpha) == pytest.approx(expected, abs=5e-4)


def test_entropy_none_and_percentage_published():
    assert entropy([0, 0]) is None
    assert entropy_percentage([3, 2, 1]) == pytest.approx(0.921, abs=5e-4)
    assert entropy([1, 1, 1]) == pytest.approx(1.585, abs=5e-4)  # maximum entropy for 3 entities


@pytest.mark.parametrize(
    ("w", "expected"),
    [
        ([5, 4, 3, 2, 1], 0.26667),
        ([368, 156, 20, 7, 10, 49, 22, 1], 0.67792),
        ([11, 2, -1], 0.53333),
        ([1, 1, 3, 0, 0], 0.56),
        ([1], 0.0),
    ],
)
def test_gini_published(w, expected):
    assert gini(w) == pytest.approx(expected, abs=5e-6)


@pytest.mark.parametrize(
    ("w", "expected"), [([3, 2, 1], 1), ([3, 2, 1, 1, 1, 1], 2), ([1], 1), ([], None), ([0, 0], None)]
)
def test_nakamoto_published(w, expected):
    assert nakamoto(w) == expected


@pytest.mark.parametrize(
    ("w", "expected"), [([1] * 10, 1000.0), ([8, 6, 3, 3], 2950.0), ([2, 2], 5000.0), ([1], 10000.0)]
)
def test_hhi_published(w, expected):
    assert hhi(w) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("w", "expected"),
    [([3, 2, 1], 0.087), ([3, 2, 1, 1, 1, 1], 0.115), ([432, 0, 0, 0], 1.386), ([432], 0.0), ([], 0.0)],
)
def test_theil_published(w, expected):
    assert theil(w) == pytest.approx(expected, abs=5e-4)


def test_concentration_tau_and_total_published():
    assert concentration_ratio([3, 2, 1], 1) == 0.5
    assert concentration_ratio([3, 2, 1, 1, 1, 1], 3) == pytest.approx(6 / 9)
    assert tau_index([3, 2, 1, 1, 1, 1], 0.33) == 1
    assert tau_index([3, 2, 1], 0.66) == 2
    assert tau_index([3, 2, 1, 1, 1, 1], 0.66) == 3
    assert total_entities([5, 0, 0]) == 1


# --- hand-computed cases and edge cases ---------------------------------------------------------------


def test_tau_counts_exact_threshold_as_reached():
    # Cumulative share exactly 0.5 after two of four equal entities: the EDI code's ">=" gives 2, not 3.
    assert nakamoto([1, 1, 1, 1]) == 2
    # Three equal validators: one of them is exactly the BFT third.
    assert nakamoto([1, 1, 1], BFT_THRESHOLD) == 1
    # Nine equal: 3/9 is the third (floating sums must not push it to 4).
    assert nakamoto([1] * 9, BFT_THRESHOLD) == 3


def test_order_of_input_does_not_matter():
    w = [1, 7, 3, 0, 2]
    assert nakamoto(w) == nakamoto(sorted(w)) == 1  # 7/13 >= 0.5
    assert gini(w) == pytest.approx(gini(sorted(w, reverse=True)))


def test_gini_counts_zero_entities():
    # [1, 0]: sorted 0, 1; (2*1-3)*0 + (2*2-3)*1 = 1; / (2 * 1) = 0.5. Dropping the zero would give 0.
    assert gini([1, 0]) == 0.5
    assert gini([1]) == 0.0


def test_effective_numbers_hand_computed():
    # shares 0.5, 0.25, 0.25: Σp² = 0.375 -> 2.667; H = 1.5 bits -> 2**1.5 = 2.828
    assert effective_entities_hhi([2, 1, 1]) == pytest.approx(1 / 0.375)
    assert effective_entities_entropy([2, 1, 1]) == pytest.approx(2**1.5)
    assert effective_entities_hhi([0, 0]) is None


def test_negative_or_nan_weights_raise():
    with pytest.raises(ValueError, match="finite"):
        hhi([1.0, float("nan")])


def test_entity_weights_puts_unknown_in_slot_zero():
    w, c = entity_weights(np.array([2, -1, 2, 0]), np.array([1.0, 5.0, 2.0, 4.0]), 3)
    assert w.tolist() == [5.0, 4.0, 0.0, 3.0]
    assert c.tolist() == [1, 1, 0, 2]


def _dist(policy, unknown_weights=None):
    # Known: a=6, b=2 (c has no node); unknown: two nodes of weight 1 each.
    return measure_distribution(
        ("a", "b", "c"),
        np.array([2.0, 6.0, 2.0, 0.0]),
        np.array([2, 3, 1, 0]),
        unknown_weights=unknown_weights,
        policy=policy,
    )


def test_unknown_as_one_entity_edi_default():
    m = _dist(UnknownPolicy.ENTITY)
    # entities a=6, unknown=2, b=2 of 10: HHI = 3600 + 400 + 400
    assert m.hhi == pytest.approx(4400.0)
    assert m.entities == 3
    assert m.unknown_share == pytest.approx(0.2)
    assert dict(m.top)["unknown"] == pytest.approx(0.2)
    assert m.present == 3  # 'c' has no node: not a member


def test_unknown_excluded_still_reported():
    m = _dist(UnknownPolicy.EXCLUDE)
    assert m.hhi == pytest.approx(10000 * (0.75**2 + 0.25**2))
    assert m.unknown_share == pytest.approx(0.2)
    assert "unknown" not in dict(m.top)


def test_unknown_singletons_is_the_optimistic_bound():
    m = _dist(UnknownPolicy.SINGLETONS, unknown_weights=np.array([1.0, 1.0]))
    assert m.entities == 4
    assert m.hhi == pytest.approx(3600 + 400 + 100 + 100)
    assert m.hhi < _dist(UnknownPolicy.ENTITY).hhi


def test_single_entity_and_zero_weight_member():
    m = measure_distribution(("a", "b"), np.array([0.0, 5.0, 0.0]), np.array([0, 1, 1]))
    assert (m.entities, m.present, m.nakamoto_50, m.hhi, m.entropy_norm) == (1, 2, 1, 10000.0, 0.0)
    assert m.gini == 0.5  # the zero-stake member counts in n


def test_single_entity_edge_cases_as_documented():
    # module docstring: Nakamoto 1, HHI 10000, entropy 0, normalised 0, effective numbers 1, Gini 0, Theil 0
    m = measure_distribution(("only",), np.array([0.0, 7.0]), np.array([0, 3]))
    assert (m.nakamoto_50, m.nakamoto_33, m.hhi, m.entropy_bits, m.entropy_norm) == (1, 1, 10000.0, 0.0, 0.0)
    assert (m.effective_hhi, m.effective_entropy, m.gini, m.theil, m.top1_share) == (1.0, 1.0, 0.0, 0.0, 1.0)


def test_no_weight_at_all_gives_none_not_zero():
    m = measure_distribution(("a", "b"), np.array([0.0, 0.0, 0.0]), np.array([0, 1, 1]))
    assert (m.nakamoto_50, m.hhi, m.entropy_bits, m.effective_hhi, m.gini) == (None, None, None, None, None)
    assert (m.top1_share, m.unknown_share) == (0.0, 0.0)


def test_ties_do_not_change_the_count():
    # 4 equal entities: any 2 reach 50%, any 2 reach 1/3 (25% < 1/3 <= 50%); order of the ties is irrelevant
    assert nakamoto([5, 5, 5, 5]) == 2
    assert nakamoto([5, 5, 5, 5], BFT_THRESHOLD) == 2
    assert nakamoto([2, 5, 5, 1], 0.5) == 2  # 5/13 < 50% <= 10/13


# --- properties ------------------------------------------------------------------------------------------

weights_st = st.lists(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1, max_size=30
).filter(lambda w: sum(w) > 1e-6)


@settings(max_examples=150, deadline=None)
@given(weights_st, st.data())
def test_nakamoto_never_increases_when_entities_merge(w, data):
    i = data.draw(st.integers(0, len(w) - 1))
    j = data.draw(st.integers(0, len(w) - 1))
    if i == j:
        return
    merged = [x for k, x in enumerate(w) if k not in (i, j)] + [w[i] + w[j]]
    for theta in (0.5, BFT_THRESHOLD, 0.66):
        assert tau_index(merged, theta) <= tau_index(w, theta)


@settings(max_examples=150, deadline=None)
@given(weights_st)
def test_hhi_fraction_between_one_over_n_and_one(w):
    n = total_entities(w)
    frac = hhi(w) / 10000.0
    assert 1.0 / n - 1e-9 <= frac <= 1.0 + 1e-9


@settings(max_examples=150, deadline=None)
@given(weights_st)
def test_entropy_at_most_uniform_and_effective_numbers_ordered(w):
    n = total_entities(w)
    h = entropy(w)
    assert h <= math.log2(n) + 1e-9
    assert entropy([1.0] * n) == pytest.approx(math.log2(n))
    # Rényi entropies fall with order: 2**H1 >= 1/Σp² (= 2**H2)
    assert effective_entities_entropy(w) >= effective_entities_hhi(w) - 1e-6


@settings(max_examples=150, deadline=None)
@given(weights_st)
def test_gini_in_unit_interval_and_theil_non_negative(w):
    g = gini(w)
    assert 0.0 <= g < 1.0
    assert theil(w) >= -1e-12
