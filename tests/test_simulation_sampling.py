"""Sampling of correlated failures: domains, hierarchy, seeds and chunks, and the coupling property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.exceptions import SimulationError
from nodeplan.model.codes import complete_codes, fill_providers_from_asn
from nodeplan.scenario.arrays import compile_scenario
from nodeplan.scenario.io import parse_scenario
from nodeplan.simulation.montecarlo import run_trials
from nodeplan.simulation.sampling import (
    CHUNK_TRIALS,
    chunk_bounds,
    down_nodes,
    failed_domains,
    failure_domains,
    sample_uniforms,
    seed_sequence,
)

# n1..n6 (see each comment): which ones a jurisdiction or provider failure must take down.
HIER_NODES = [
    # in the EU, on Hetzner's Falkenstein data center
    {"id": "n1", "country": "DE", "jurisdiction": "EU", "provider": "hetzner", "data_center": "hetzner-fsn1"},
    {"id": "n2", "country": "FR", "jurisdiction": "EU"},
    {"id": "n3", "country": "FR"},  # jurisdiction not given: France is EU on n2, so n3 is too
    {"id": "n4", "country": "US", "jurisdiction": "US", "provider": "aws", "provider_region": "us-east-1"},
    {"id": "n5", "data_center": "hetzner-fsn1"},  # provider not given: its data center is Hetzner's (n1)
    {
        "id": "n6",
        "country": "CH",
        "provider": "aws",
        "provider_region": "eu-central-2",
    },  # no jurisdiction known
]


def _hier(failures: dict) -> tuple:
    nodes = [{"lat": 0, "lon": 0, "roles": ["storage"]} | n for n in HIER_NODES]
    sc = parse_scenario({"nodes": nodes, "failures": failures})
    a = compile_scenario(sc)
    a, codes, _ = fill_providers_from_asn(a, complete_codes(a))
    return sc, failure_domains(sc, a, codes)


def _down_ids(fd, label: str) -> list[str]:
    d = next(i for i in range(fd.n_domains) if fd.label(i) == label)
    failed = np.zeros((1, fd.n_domains), dtype=bool)
    failed[0, d] = True
    return [f"n{i + 1}" for i in np.flatnonzero(down_nodes(failed, fd.incidence)[0])]


def test_jurisdiction_failure_takes_down_exactly_its_nodes() -> None:
    _, fd = _hier({"jurisdiction": {"default": 0.1}})
    assert fd.values == ("EU", "US")  # no "unknown" domain
    assert _down_ids(fd, "jurisdiction=EU") == ["n1", "n2", "n3"]
    assert _down_ids(fd, "jurisdiction=US") == ["n4"]


def test_provider_failure_takes_its_regions_and_data_centers() -> None:
    _, fd = _hier({"provider": {"default": 0.1}, "provider_region": {"default": 0.1}})
    assert _down_ids(fd, "provider=hetzner") == ["n1", "n5"]
    assert _down_ids(fd, "provider=aws") == ["n4", "n6"]  # both AWS regions
    assert _down_ids(fd, "provider_region=us-east-1") == ["n4"]  # a region takes only its own nodes


def test_unknown_value_is_not_affected_and_probability_one_always_fails() -> None:
    sc, _fd = _hier({"jurisdiction": {"default": 1.0}})
    t = run_trials(sc, 300, seed=0)
    assert np.all(t.down == 4)  # n1-n4; n5 and n6 have no known jurisdiction
    assert np.all(t.failed())


def test_probabilities_defaults_overrides_and_unmatched_values() -> None:
    _, fd = _hier({"provider": {"default": 0.01, "values": {"aws": 0.2, "ovh": 0.5}}})
    assert dict(zip(fd.values, fd.probability.tolist(), strict=True)) == {"aws": 0.2, "hetzner": 0.01}
    assert fd.unmatched == (("provider", "ovh"),)


def test_chunks_draw_from_numpys_spawned_children() -> None:
    # Chunk c uses the c-th child of SeedSequence.spawn, numpy's documented way to get independent streams.
    root = seed_sequence(123)
    children = np.random.SeedSequence(123).spawn(3)
    for c in range(3):
        ref = np.random.Generator(np.random.PCG64(children[c])).random((5, 4))
        assert np.array_equal(sample_uniforms(root, c, 5, 4), ref)
    assert chunk_bounds(2 * CHUNK_TRIALS + 1) == [
        (0, CHUNK_TRIALS),
        (CHUNK_TRIALS, CHUNK_TRIALS),
        (2 * CHUNK_TRIALS, 1),
    ]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (-5, "seed: must be >= 0 (got -5)"),
        (1.5, "seed: expected an integer"),
        (True, "seed: expected an integer"),
    ],
)
def test_bad_seed(seed: object, message: str) -> None:
    with pytest.raises(SimulationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seed_sequence(seed)  # type: ignore[arg-type]


# --- coupling: raising one domain's probability only adds failures, so it never improves an outcome -------


@st.composite
def small_networks(draw: st.DrawFn) -> dict:
    n = draw(st.integers(3, 7))
    nodes = []
    for i in range(n):
        roles = ["execution", *draw(st.lists(st.sampled_from(["storage", "coordination"]), unique=True))]
        nodes.append(
            {
                "id": f"n{i}",
                "lat": draw(st.floats(-60, 60)),
                "lon": draw(st.floats(-170, 170)),
                "roles": roles,
                "capacity": draw(st.integers(1, 3)),
                "stake": draw(st.sampled_from([0.0, 1.0, 2.0, 5.0])),
                "provider": draw(st.sampled_from(["P0", "P1", "P2", "P3"])),
                "country": draw(st.sampled_from(["DE", "FR", "US", None])),
                "warm_models": ["m"] if draw(st.booleans()) else [],
                "stored_models": ["m"] if "storage" in roles else [],
                "gpu_memory_gb": 20,
                "disk_gb": 20,
            }
        )
    probs = st.floats(0.0, 0.6)
    return {
        "nodes": nodes,
        "models": [{"id": "m", "size_bytes": 2_000_000_000, "load_s": 1.0, "service_s": {"cpu": 0.2}}],
        "sources": [
            {"name": f"s{j}", "lat": draw(st.floats(-60, 60)), "lon": draw(st.floats(-170, 170))}
            for j in range(3)
        ],
        "demand": [
            {"model": "m", "rate_rps": draw(st.floats(0.1, 12.0)), "slo_ms": draw(st.floats(150, 6000))}
        ],
        "failures": {
            "provider": {"values": {p: draw(probs) for p in ["P0", "P1", "P2", "P3"]}},
            "country": {"default": draw(probs)},
        },
    }


@settings(max_examples=40)
@given(
    net=small_networks(), which=st.integers(0, 100), extra=st.floats(0.05, 1.0), seed=st.integers(0, 2**32)
)
def test_raising_one_probability_never_improves_any_trial(
    net: dict, which: int, extra: float, seed: int
) -> None:
    # One demand class without verification: the audit's serving model is then monotone in the set of down
    # nodes (fewer executors, more load on the rest, replicas no closer), so per trial, with the same
    # uniforms, more failures never serve more. Stake lost, halted, replicas and the consensus part of harm
    # are monotone too (fragile is not: losing the dominant domain can end fragility).
    sc = parse_scenario(net)
    lo = run_trials(sc, 1000, seed=seed)
    fd = lo.domains
    d = which % fd.n_domains
    dim, value = fd.dimensions[int(fd.dim[d])], fd.values[d]
    spec = net["failures"][dim]
    p_hi = min(1.0, float(fd.probability[d]) + extra)
    spec_hi = {"default": spec.get("default", 0.0), "values": dict(spec.get("values", {})) | {value: p_hi}}
    hi = run_trials(parse_scenario(net | {"failures": net["failures"] | {dim: spec_hi}}), 1000, seed=seed)
    f_lo, f_hi = lo.failed(), hi.failed()
    assert np.all(f_hi >= f_lo)  # coupling: a superset of failed domains in every trial
    assert np.array_equal(np.delete(f_hi, d, axis=1), np.delete(f_lo, d, axis=1))  # others unchanged
    assert np.all(hi.served <= lo.served + 1e-12)
    assert hi.served.mean() <= lo.served.mean() + 1e-12
    assert np.all(hi.capacity_lost >= lo.capacity_lost - 1e-12)
    assert np.all(hi.stake_lost >= lo.stake_lost - 1e-12)
    assert np.all(hi.halted >= lo.halted)
    assert np.all(hi.harm() >= lo.harm() - 1e-9)
    assert np.all(hi.unreplicated >= lo.unreplicated)


def test_failed_is_uniform_below_probability() -> None:
    u = np.array([[0.0, 0.5, 0.999], [0.3, 0.3, 0.3]])
    assert failed_domains(u, np.array([0.0, 0.5, 1.0])).tolist() == [
        [False, False, True],
        [False, True, True],
    ]
