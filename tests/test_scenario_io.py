"""Scenario files: YAML/JSON round trips are exact; malformed files give one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodeplan.exceptions import ScenarioError
from nodeplan.scenario.io import (
    dump_scenario,
    load_scenario,
    parse_scenario,
    resolve_scenario,
    save_scenario,
)
from nodeplan.scenario.model import Scenario

from .test_scenario_model import base


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_exact(tmp_path: Path, suffix: str) -> None:
    s = parse_scenario(base())
    path = tmp_path / f"s{suffix}"
    save_scenario(s, path)
    back = load_scenario(path)
    assert back == s
    # Saving again gives byte-identical text (stable order of sets and keys).
    path2 = tmp_path / f"t{suffix}"
    save_scenario(back, path2)
    assert path.read_bytes() == path2.read_bytes()


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_attributes_round_trip_byte_identical(tmp_path: Path, suffix: str) -> None:
    data = base()
    data["nodes"][0]["attributes"] = {"doublezero": True, "jito": False, "hosting": "t", "note": "yes"}
    s = parse_scenario(data)
    path = tmp_path / f"s{suffix}"
    save_scenario(s, path)
    back = load_scenario(path)
    assert back.node("paris").attributes == {"doublezero": True, "jito": False, "hosting": "t", "note": "yes"}
    assert back.node("paris").attributes["note"] == "yes"  # text stays text, not YAML's boolean
    save_scenario(back, tmp_path / f"t{suffix}")
    assert path.read_bytes() == (tmp_path / f"t{suffix}").read_bytes()
    text = path.read_text(encoding="utf-8")
    assert ("doublezero: true" if suffix == ".yaml" else '"doublezero": true') in text
    assert ("note: 'yes'" if suffix == ".yaml" else '"note": "yes"') in text


def test_yaml_and_json_agree(tmp_path: Path) -> None:
    s = parse_scenario(base())
    save_scenario(s, tmp_path / "a.yaml")
    save_scenario(s, tmp_path / "a.json")
    assert load_scenario(tmp_path / "a.yaml") == load_scenario(tmp_path / "a.json")


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nnodes:\n  - id: a\n    lat: [1, 2\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: malformed YAML at line \d+ col \d+"):
        load_scenario(p)


def test_malformed_json_names_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{"nodes": [\n  {"id": "a",]\n}', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.json: malformed JSON at line 2 col 14"):
        load_scenario(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_empty_file_is_not_a_mapping(tmp_path: Path) -> None:
    p = tmp_path / "empty.yaml"
    p.write_text("", encoding="utf-8")
    with pytest.raises(ScenarioError, match="expected a mapping at the top level, got NoneType"):
        load_scenario(p)


def test_unknown_builtin() -> None:
    with pytest.raises(ScenarioError, match="'nowhere' is neither a file nor a built-in scenario"):
        resolve_scenario("nowhere")
    with pytest.raises(ScenarioError, match=r"file not found: nowhere\.yaml"):
        resolve_scenario("nowhere.yaml")


_ROLE = st.sampled_from(["execution", "verification", "storage", "coordination"])
_FINITE_LAT = st.floats(-90, 90, allow_nan=False)
_FINITE_LON = st.floats(-180, 180, allow_nan=False)


_ATTRIBUTE = (
    st.booleans()
    | st.sampled_from(["t", "f", "true", "False", "yes", "no", "1", "0", "null", "~"])
    | st.text(min_size=1, max_size=4)
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    nodes = []
    for i in range(n):
        nodes.append(
            {
                "id": f"n{i}",
                "lat": draw(_FINITE_LAT),
                "lon": draw(_FINITE_LON),
                "roles": draw(st.lists(_ROLE, min_size=1, max_size=4, unique=True)),
                "capacity": draw(st.integers(0, 64)),
                "price_usd_per_hour": draw(st.floats(0, 100, allow_nan=False)),
                "stake": draw(st.floats(0, 1e12, allow_nan=False)),
                "verification_modes": draw(
                    st.lists(
                        st.sampled_from(["none", "tee", "zkml", "reexec"]),
                        min_size=1,
                        max_size=4,
                        unique=True,
                    )
                ),
                "provider": draw(st.none() | st.sampled_from(["aws", "gcp", "hetzner"])),
                "asn": draw(st.none() | st.integers(0, 400000)),
                "dims": draw(
                    st.dictionaries(
                        st.sampled_from(["grid", "rack"]), st.text(min_size=1, max_size=4), max_size=2
                    )
                ),
                # text that reads as a YAML boolean or number must come back as text, and booleans as booleans
                "attributes": draw(
                    st.dictionaries(st.sampled_from(["dz", "hosting", "jito"]), _ATTRIBUTE, max_size=3)
                ),
            }
        )
    return {"name": draw(st.text(max_size=10)), "nodes": nodes}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios())
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, data: dict[str, Any]) -> None:
    s = parse_scenario(data)
    assert parse_scenario(dump_scenario(s)) == s
    d = tmp_path_factory.mktemp("rt")
    for suffix in (".yaml", ".json"):
        save_scenario(s, d / f"x{suffix}")
        back = load_scenario(d / f"x{suffix}")
        assert back == s
        # value types survive too (True == 1 in Python, so compare types explicitly)
        for a, b in zip(back.nodes, s.nodes, strict=True):
            assert {k: type(v) for k, v in a.attributes.items()} == {
                k: type(v) for k, v in b.attributes.items()
            }
        save_scenario(back, d / f"y{suffix}")
        assert (d / f"x{suffix}").read_bytes() == (d / f"y{suffix}").read_bytes()
    assert isinstance(s, Scenario)
