"""M/M/c (Erlang C) against textbook formulas and published table values, plus its monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.model.queueing import erlang_c, mmc_wait_s


def _erlang_c_closed_form(c: int, a: float) -> float:
    """Textbook closed form: (a^c/c! · c/(c-a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c-a))."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_mm1_probability_of_wait_is_rho():
    assert float(erlang_c(1, 0.7)) == pytest.approx(0.7, abs=1e-12)


def test_erlang_c_two_servers_one_erlang_is_one_third():
    assert float(erlang_c(2, 1.0)) == pytest.approx(1 / 3, abs=1e-12)


def test_erlang_c_published_table_value():
    # Published Erlang C tables (call-centre staffing tables): c=10 agents, a=8 Erlangs -> P(wait) 0.409.
    assert float(erlang_c(10, 8.0)) == pytest.approx(0.409, abs=5e-4)


@settings(max_examples=100, deadline=None)
@given(c=st.integers(1, 40), frac=st.floats(0.0, 0.99))
def test_erlang_c_matches_closed_form(c, frac):
    a = c * frac
    assert float(erlang_c(c, a)) == pytest.approx(_erlang_c_closed_form(c, a), rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(lam=st.floats(0.01, 50.0), frac=st.floats(0.01, 0.99))
def test_mm1_wait_is_rho_over_mu_minus_lambda(lam, frac):
    mu = lam / frac
    rho = lam / mu
    assert float(mmc_wait_s(lam, 1.0 / mu, 1)) == pytest.approx(rho / (mu - lam), rel=1e-9)


def test_mm2_wait_textbook():
    # M/M/2 with rho = lambda/(2 mu): L_q = 2 rho^3 / (1 - rho^2), W_q = L_q / lambda.
    lam, mu = 1.5, 1.0
    rho = lam / (2 * mu)
    assert float(mmc_wait_s(lam, 1 / mu, 2)) == pytest.approx(2 * rho**3 / (1 - rho**2) / lam, rel=1e-12)


def test_unstable_and_idle_queues():
    assert float(erlang_c(3, 3.0)) == 1.0
    assert float(erlang_c(3, 4.0)) == 1.0
    assert float(erlang_c(4, 0.0)) == 0.0
    assert float(mmc_wait_s(2.0, 1.0, 2)) == math.inf  # a = c: no steady state
    assert float(mmc_wait_s(1.0, 1.0, 0)) == math.inf  # no servers
    assert float(mmc_wait_s(0.0, 1.0, 0)) == 0.0  # no arrivals never wait


@settings(max_examples=100, deadline=None)
@given(c=st.integers(1, 60), a=st.floats(0.0, 80.0))
def test_erlang_c_is_a_probability(c, a):
    p = float(erlang_c(c, a))
    assert 0.0 <= p <= 1.0


@settings(max_examples=100, deadline=None)
@given(c=st.integers(1, 40), a=st.floats(0.01, 39.0))
def test_erlang_c_decreasing_in_servers(c, a):
    assert float(erlang_c(c + 1, a)) <= float(erlang_c(c, a)) + 1e-12


@settings(max_examples=100, deadline=None)
@given(c=st.integers(1, 40), a=st.floats(0.01, 40.0), more=st.floats(0.001, 5.0))
def test_erlang_c_and_wait_increasing_in_load(c, a, more):
    assert float(erlang_c(c, a + more)) >= float(erlang_c(c, a)) - 1e-12
    s = 0.5
    assert float(mmc_wait_s((a + more) / s, s, c)) >= float(mmc_wait_s(a / s, s, c))


def test_vectorised_equals_elementwise():
    c = np.array([1, 2, 5, 10, 30])
    a = np.array([0.5, 1.0, 4.0, 8.0, 29.0])
    vec = erlang_c(c, a)
    assert vec.tolist() == pytest.approx(
        [float(erlang_c(int(x), float(y))) for x, y in zip(c, a, strict=True)]
    )
    assert erlang_c(c[:, None], a[None, :]).shape == (5, 5)
