"""Dependency graph: ancestor completion, components, and the effective number of independent domains."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.metrics.graph import component_labels, independent_domains, shared_probability
from nodeplan.metrics.measures import effective_entities_hhi
from nodeplan.model.codes import ancestor_closure, complete_codes
from nodeplan.scenario.arrays import compile_scenario
from nodeplan.scenario.model import Node, Scenario


def _node(i, **kw):
    return Node(id=f"n{i}", lat=kw.pop("lat", 0.0), lon=kw.pop("lon", 0.0), roles={"execution"}, **kw)


def test_complete_codes_fills_provider_from_data_center():
    nodes = [
        _node(0, data_center="fra1", provider="hetzner"),
        _node(1, data_center="fra1"),  # same data center, provider not given -> hetzner
        _node(2, data_center="ams1"),  # data center never seen with a provider -> stays unknown
        _node(3, provider="aws"),
    ]
    a = compile_scenario(Scenario(nodes=nodes))
    codes = complete_codes(a)
    prov = [
        a.dim_values[a.dim_index("provider")][c] if c >= 0 else None
        for c in codes[:, a.dim_index("provider")]
    ]
    assert prov == ["hetzner", "hetzner", None, "aws"]
    # the input view is not modified
    assert a.dim_codes[1, a.dim_index("provider")] == -1


def test_complete_codes_goes_through_region_and_ignores_conflicts():
    nodes = [
        _node(0, data_center="dc1", provider_region="eu-1", provider="aws"),
        _node(1, data_center="dc1"),  # dc1 -> eu-1 -> aws
        _node(2, data_center="colo", provider="aws"),
        _node(3, data_center="colo", provider="gcp"),
        _node(4, data_center="colo"),  # colo seen under two providers: no guess
        _node(5, country="DE", jurisdiction="EU"),
        _node(6, country="DE"),  # country -> jurisdiction
    ]
    a = compile_scenario(Scenario(nodes=nodes))
    codes = complete_codes(a)

    def val(i, dim):
        c = codes[i, a.dim_index(dim)]
        return a.dim_values[a.dim_index(dim)][c] if c >= 0 else None

    assert (val(1, "provider_region"), val(1, "provider")) == ("eu-1", "aws")
    assert val(4, "provider") is None
    assert val(6, "jurisdiction") == "EU"


def test_component_labels_chain_through_different_dimensions():
    # 0-1 share column 0, 1-2 share column 1, 3 shares nothing, 4 is all unknown
    codes = np.array([[0, 7], [0, 8], [1, 8], [2, 9], [-1, -1]])
    assert component_labels(codes).tolist() == [0, 0, 0, 3, 4]


def _brute_shared(codes, w):
    n = len(w)
    tot = w.sum()
    p = 0.0
    for i in range(n):
        for j in range(n):
            if np.any((codes[i] == codes[j]) & (codes[i] >= 0)):
                p += w[i] * w[j]
    return p / tot**2


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.integers(-1, 3), min_size=3, max_size=3), min_size=n, max_size=n),
            st.lists(st.floats(0.1, 10.0), min_size=n, max_size=n),
        )
    )
)
def test_shared_probability_matches_pairwise_count(data):
    codes, w = np.array(data[0]), np.array(data[1])
    assert shared_probability(codes, w) == pytest.approx(_brute_shared(codes, w), rel=1e-9, abs=1e-12)


def test_one_dimension_gives_inverse_hhi():
    codes = np.array([[0], [0], [1], [2]])
    w = np.array([3.0, 1.0, 2.0, 2.0])  # groups 4, 2, 2 of 8
    assert 1.0 / shared_probability(codes, w) == pytest.approx(effective_entities_hhi([4, 2, 2]))


def test_independent_domains_apparent_vs_effective():
    # Four countries, but everything is on one provider except one node: 2 components,
    # P(share) = (3/4)² + (1/4)² = 0.625 -> 1.6 effective domains.
    nodes = [
        _node(0, provider="aws", country="US", lat=40, lon=-74),
        _node(1, provider="aws", country="DE", lat=50, lon=8),
        _node(2, provider="aws", country="JP", lat=35, lon=139),
        _node(3, provider="ovh", country="FR", lat=48, lon=2),
    ]
    a = compile_scenario(Scenario(nodes=nodes))
    s = independent_domains(a, complete_codes(a), np.ones(4, bool), np.ones(4), ("provider",), "all")
    assert (s.countries, s.locations, s.components) == (4, 4, 2)
    assert s.effective_domains == pytest.approx(1 / 0.625)
    assert s.largest_component_share == pytest.approx(0.75)
    assert s.dims == ("provider",)


def test_independent_domains_counts_overlap_once():
    # Three providers, but node 1 (ovh) shares an ASN with node 0 (aws).
    nodes = [
        _node(0, provider="aws", asn=1),
        _node(1, provider="ovh", asn=1),
        _node(2, provider="ovh", asn=2),
        _node(3, provider="gcp", asn=3),
    ]
    a = compile_scenario(Scenario(nodes=nodes))
    s = independent_domains(a, complete_codes(a), np.ones(4, bool), np.ones(4), ("provider", "asn"), "all")
    # provider pairs: (1,2),(2,1); asn pairs: (0,1),(1,0) -> 4 + 4 = 8 of 16
    assert s.effective_domains == pytest.approx(2.0)
    assert s.components == 2  # {0,1,2} chained, {3}


def test_ancestor_closure_adds_parents():
    dims = ("provider", "provider_region", "data_center", "asn", "country", "jurisdiction")
    assert ancestor_closure(("data_center",), dims) == ("provider", "provider_region", "data_center")
    assert ancestor_closure(("country",), dims) == ("country", "jurisdiction")
