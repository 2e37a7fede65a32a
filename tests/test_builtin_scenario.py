"""The embedded default scenario 'opengradient': loads, holds what the demos need, round-trips."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from nodeplan.model.geo import great_circle_km
from nodeplan.scenario.io import load_builtin, load_scenario, resolve_scenario, save_scenario
from nodeplan.scenario.model import Role, Scenario, VerificationMode
from nodeplan.scenario.providers import provider_of_asn

GB = 1e9


@pytest.fixture(scope="module")
def og() -> Scenario:
    return load_builtin("opengradient")


def test_is_the_default(og: Scenario) -> None:
    assert resolve_scenario(None) == og
    assert og.name == "opengradient"
    assert 40 <= len(og.nodes) <= 80


def test_demand_sources(og: Scenario) -> None:
    names = [s.name for s in og.sources]
    assert len(names) >= 50
    assert len(set(names)) == len(names)
    by = {s.name: s for s in og.sources}
    # WUP 2018 estimates (thousands) of the five largest urban agglomerations
    assert [by[c].weight for c in ("Tokyo", "Delhi", "Shanghai", "Sao Paulo", "Mexico City")] == [
        37468,
        28514,
        25582,
        21650,
        21581,
    ]
    assert max(og.sources, key=lambda s: s.weight).name == "Tokyo"
    # every continent with people appears
    assert any(s.lat < -30 and s.lon > 110 for s in og.sources)  # Australia
    assert any(s.lat < 0 and s.lon < -30 for s in og.sources)  # South America
    assert any(-35 < s.lat < 35 and -20 < s.lon < 50 for s in og.sources)  # Africa


def test_models_sizes_from_published_facts(og: Scenario) -> None:
    sizes = {m.id: m.size_bytes for m in og.models}
    assert len(sizes) >= 5
    assert min(sizes.values()) < 100e6  # a small ONNX model
    assert max(sizes.values()) > 100 * GB  # the fp16 70B
    # weight sizes quoted in the data README
    assert sizes["llama-3-8b-fp16"] == 14_960_000_000
    assert sizes["llama-3-8b-q4"] == 4_580_000_000
    assert sizes["llama-3-70b-fp16"] == 131_420_000_000
    assert sizes["llama-3-70b-q4"] == 39_590_000_000
    m70 = og.model("llama-3-70b-fp16")
    assert (m70.load_s, m70.init_s) == (84.0, 130.0)  # ServerlessLLM Llama-2-70B; vLLM 70B on 8 GPUs
    small = og.model("credit-risk-onnx")
    assert small.format == "onnx"
    assert VerificationMode.ZKML in small.verification
    for m in og.models:
        tee = m.verification.get(VerificationMode.TEE)
        if tee is not None:
            assert 2.0 <= tee <= 3.0  # documented TEE overhead
        zk = m.verification.get(VerificationMode.ZKML)
        if zk is not None:
            assert 100 <= zk <= 1000  # documented zkML overhead
            assert m.format == "onnx"
        if VerificationMode.REEXEC in m.verification:
            assert m.verification[VerificationMode.REEXEC] == 2.0


def test_all_roles_and_concentrations(og: Scenario) -> None:
    for role in Role:
        assert any(role in n.roles for n in og.nodes), role
    tee = [n for n in og.nodes if VerificationMode.TEE in n.verification_modes and Role.EXECUTION in n.roles]
    assert len(tee) >= 10
    assert {n.provider for n in tee} == {"aws"}  # Nitro attestation: every TEE executor on AWS
    assert {n.tee_vendor for n in tee} == {"aws-nitro"}
    # Attestations are checked by full nodes (validators), which do not run models [NET].
    checkers = [
        n for n in og.nodes if VerificationMode.TEE in n.verification_modes and Role.EXECUTION not in n.roles
    ]
    assert checkers
    assert all(Role.COORDINATION in n.roles and n.capacity == 0 for n in checkers)
    assert {n.tee_vendor for n in tee} == {"aws-nitro"}
    assert len({n.provider_region for n in tee}) >= 5
    vals = [n for n in og.nodes if Role.COORDINATION in n.roles]
    assert 7 <= len(vals) <= 10
    total = sum(n.stake for n in vals)
    aws = sum(n.stake for n in vals if n.provider == "aws")
    assert aws / total >= 1 / 3  # the PoA set is itself concentrated enough that AWS alone halts it
    storage_providers = {n.provider for n in og.nodes if Role.STORAGE in n.roles}
    assert len(storage_providers) >= 4
    # the provider written in the scenario agrees with the shipped ASN mapping
    for n in og.nodes:
        if n.asn is not None:
            assert provider_of_asn(n.asn) == n.provider, n.id


def test_ids_readable(og: Scenario) -> None:
    assert all(n.id.islower() and " " not in n.id for n in og.nodes)
    assert og.node("tee-aws-use1-1").provider_region == "us-east-1"


def _km(a, b) -> float:
    return float(great_circle_km(a.lat, a.lon, b.lat, b.lon))


def test_near_cold_far_warm_pair_for_large_model(og: Scenario) -> None:
    """Some city has a node within 1,000 km that can hold the 70B fp16 model cold, while every node that
    has it warm is more than 5,000 km away: the warm-beats-near demo."""
    m = og.model("llama-3-70b-fp16")
    capable = [n for n in og.nodes if Role.EXECUTION in n.roles and n.gpu_memory_gb >= m.min_gpu_memory_gb]
    warm = [n for n in capable if m.id in n.warm_models]
    cold = [n for n in capable if m.id not in n.warm_models and m.id not in n.stored_models]
    assert warm
    assert cold
    pairs = [
        (src.name, c.id)
        for src in og.sources
        for c in cold
        if _km(src, c) < 1000 and min(_km(src, w) for w in warm) > 5000
    ]
    assert pairs, "no city with a near cold node and only distant warm nodes"
    # for the tiny model the same near node is cold too, and a replica sits in its metro
    tiny = og.model("credit-risk-onnx")
    for _, cid in pairs:
        node = og.node(cid)
        assert tiny.id not in node.warm_models
        replicas = [n for n in og.nodes if Role.STORAGE in n.roles and tiny.id in n.stored_models]
        assert min(_km(node, r) for r in replicas) < 50


def test_warm_models_fit_and_can_run(og: Scenario) -> None:
    models = {m.id: m for m in og.models}
    for n in og.nodes:
        for mid in n.warm_models:
            m = models[mid]
            assert n.hardware in m.service_s, (n.id, mid)
            assert n.gpu_memory_gb >= m.min_gpu_memory_gb, (n.id, mid)


def test_failure_specs_named_domains_exist(og: Scenario) -> None:
    for dim, spec in og.failures.items():
        present = {n.dim(dim) for n in og.nodes}
        for value in spec.values:
            assert value in present, (dim, value)
    assert og.failures["provider_region"].values["us-east-1"] > og.failures["provider_region"].default


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(og: Scenario, tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"og{suffix}"
    save_scenario(og, p)
    assert load_scenario(p) == og


def test_every_number_line_is_commented_or_structural() -> None:
    """Each block-style numeric field in the YAML carries a comment, or sits in a block whose header says
    where its numbers come from (service_s/verification tables)."""
    text = resources.files("nodeplan.scenario").joinpath("data", "opengradient.yaml").read_text("utf-8")
    header_commented = False
    missing = []
    for line in text.splitlines():
        code = line.split("#")[0].strip()
        if not code or code.startswith(("-", "{")):
            continue
        if code.endswith(":"):
            header_commented = "#" in line
            continue
        _, _, value = code.partition(": ")
        if value.replace(".", "", 1).isdigit() and "#" not in line and not header_commented:
            missing.append(code)
    assert not missing, missing
