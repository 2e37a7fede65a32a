"""Validation of the scenario model: every bad input gives one line naming the field and the value."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeplan.exceptions import ScenarioError
from nodeplan.scenario.arrays import compile_scenario
from nodeplan.scenario.io import parse_scenario
from nodeplan.scenario.model import Role, VerificationMode


def base() -> dict[str, Any]:
    """A small valid scenario: two executors (one warm), one storage node, one validator."""
    return {
        "name": "tiny",
        "nodes": [
            {
                "id": "paris",
                "lat": 48.85,
                "lon": 2.35,
                "roles": ["execution", "verification"],
                "capacity": 4,
                "hardware": "h100",
                "gpu_memory_gb": 80,
                "provider": "ovh",
                "asn": 16276,
                "country": "fr",
                "verification_modes": ["none", "reexec"],
            },
            {
                "id": "nyc",
                "lat": 40.71,
                "lon": -74.0,
                "roles": ["execution"],
                "capacity": 4,
                "hardware": "h100",
                "gpu_memory_gb": 80,
                "warm_models": ["llm"],
                "provider": "aws",
                "asn": 16509,
                "country": "US",
                "dims": {"grid": "pjm"},
            },
            {
                "id": "store",
                "lat": 50.11,
                "lon": 8.68,
                "roles": ["storage"],
                "disk_gb": 2000,
                "stored_models": ["llm", "tiny"],
                "provider": "hetzner",
            },
            {"id": "val", "lat": 1.35, "lon": 103.8, "roles": ["coordination"], "stake": 10.0},
        ],
        "models": [
            {
                "id": "llm",
                "size_bytes": 14_960_000_000,
                "load_s": 14,
                "init_s": 30,
                "service_s": {"h100": 1.2},
                "verification": {"none": 1, "tee": 2.5, "reexec": 2},
            },
            {"id": "tiny", "size_bytes": 20_000_000, "service_s": {"h100": 0.01, "cpu": 0.05}},
        ],
        "sources": [{"name": "Paris", "lat": 48.85, "lon": 2.35, "weight": 11.0}],
        "demand": [
            {"model": "llm", "rate_rps": 2.0, "slo_ms": 5000, "verification": "reexec", "verifiers": 1}
        ],
        "failures": {"provider": {"default": 0.01, "values": {"aws": 0.02}}},
    }


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_base_is_valid_and_normalised() -> None:
    s = parse_scenario(base())
    assert s.node("paris").country == "FR"  # upper-cased ISO code
    assert s.node("paris").roles == frozenset({Role.EXECUTION, Role.VERIFICATION})
    assert s.model("llm").verification[VerificationMode.TEE] == 2.5
    assert s.dimensions()[-1] == "grid"  # user dimension after the built-in ones


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("nodes", 0, "lat"), math.nan, "nodes.0.lat: Input should be a finite number (got nan)"),
        (("nodes", 0, "lat"), 91.0, "nodes.0.lat: Input should be less than or equal to 90 (got 91.0)"),
        (
            ("nodes", 1, "lon"),
            -180.5,
            "nodes.1.lon: Input should be greater than or equal to -180 (got -180.5)",
        ),
        (
            ("nodes", 0, "capacity"),
            -1,
            "nodes.0.capacity: Input should be greater than or equal to 0 (got -1)",
        ),
        (("nodes", 2, "disk_gb"), -5, "nodes.2.disk_gb: Input should be greater than or equal to 0 (got -5)"),
        (("nodes", 1, "warm_models"), ["nope"], "nodes.1.warm_models: unknown model 'nope' on node 'nyc'"),
        (("nodes", 1, "id"), "paris", "nodes.1.id: duplicate node id 'paris'"),
        (("demand", 0, "model"), "gpt-9", "demand.0.model: unknown model 'gpt-9'"),
        (
            ("models", 0, "size_bytes"),
            -1,
            "models.0.size_bytes: Input should be greater than or equal to 0 (got -1)",
        ),
        (("sources", 0, "lat"), math.inf, "sources.0.lat: Input should be a finite number (got inf)"),
        (("demand", 0, "slo_ms"), 0, "demand.0.slo_ms: Input should be greater than 0 (got 0)"),
    ],
)
def test_bad_field_names_field_and_value(path: tuple[Any, ...], value: Any, expected: str) -> None:
    data = base()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert error_of(data) == expected


def test_missing_field_is_named() -> None:
    data = base()
    del data["nodes"][3]["lat"]
    assert error_of(data) == "nodes.3.lat: missing required field"


def test_unknown_field_is_rejected_not_ignored() -> None:
    data = base()
    data["nodes"][0]["capcity"] = 3  # typo must not silently fall back to the default
    assert error_of(data).startswith("nodes.0.capcity: Extra inputs are not permitted (got 3)")


def test_warm_models_must_fit_in_gpu_memory() -> None:
    data = base()
    data["nodes"][1]["gpu_memory_gb"] = 8
    assert (
        error_of(data)
        == "nodes.1.warm_models: warm models of node 'nyc' need 14.96 GB but gpu_memory_gb is 8.0"
    )


def test_verification_mode_must_apply_to_model() -> None:
    data = base()
    data["demand"][0]["verification"] = "zkml"
    assert error_of(data) == "demand.0.verification: model 'llm' does not support verification 'zkml'"


def test_verification_needs_verifiers() -> None:
    data = base()
    data["demand"][0]["verifiers"] = 0
    assert "needs verifiers >= 1" in error_of(data)


def test_unknown_dimension_in_failures_and_policy() -> None:
    data = base()
    data["failures"]["planet"] = {"default": 0.1}
    assert error_of(data) == "failures.planet: unknown dimension 'planet'"
    data = base()
    data["policy"] = {"independence": ["provider", "continent"]}
    assert error_of(data) == "policy.independence.1: unknown dimension 'continent'"
    data = base()
    data["failures"]["grid"] = {"values": {"pjm": 0.5}}  # user dimension is known
    assert parse_scenario(data).failures["grid"].values["pjm"] == 0.5


# --- attributes: shown, never dimensions ------------------------------------------------------------
def test_attributes_are_not_dimensions() -> None:
    data = base()
    data["nodes"][0]["attributes"] = {"doublezero": True, "hosting": "cloud"}
    data["nodes"][1]["attributes"] = {"doublezero": False}
    s = parse_scenario(data)
    assert s.node("paris").attributes == {"doublezero": True, "hosting": "cloud"}
    assert s.attribute_names() == ("doublezero", "hosting")
    assert "doublezero" not in s.dimensions()
    assert "hosting" not in s.dimensions()
    a = compile_scenario(s)
    assert a.dims == s.dimensions()
    # coded apart from the dimensions: booleans first, then text; -1 where a node lacks the attribute
    assert a.attributes == ("doublezero", "hosting")
    assert a.attribute_values == ((False, True), ("cloud",))
    assert a.attribute_codes.tolist() == [[1, 0], [0, -1], [-1, -1], [-1, -1]]
    assert s.node("paris").dim("doublezero") is None  # not a dimension value either


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            {"dz": 1},
            "nodes.0.attributes.dz: an attribute is non-empty text or true/false; leave an unknown value out "
            "(got 1)",
        ),
        (
            {"dz": None},
            "nodes.0.attributes.dz: an attribute is non-empty text or true/false; leave an unknown value out (got None)",
        ),
        (
            {"dz": ""},
            "nodes.0.attributes.dz: an attribute is non-empty text or true/false; leave an unknown value out (got '')",
        ),
        (
            {"dz": [True]},
            "nodes.0.attributes.dz: an attribute is non-empty text or true/false; leave an unknown value out (got [True])",
        ),
        (
            {"provider": "aws"},
            "nodes.0.attributes: 'provider' is a built-in dimension; set it as a node field, not an attribute "
            "(got {'provider': 'aws'})",
        ),
        (
            {"double zero": True},
            "nodes.0.attributes: attribute name 'double zero': 1-64 characters, no spaces or control "
            "characters (got {'double zero': True})",
        ),
        ("yes", "nodes.0.attributes: Input should be a valid dictionary (got 'yes')"),
    ],
)
def test_bad_attributes_give_one_line(attributes: Any, expected: str) -> None:
    data = base()
    data["nodes"][0]["attributes"] = attributes
    assert error_of(data) == expected


def test_a_key_is_a_dimension_or_an_attribute() -> None:
    data = base()
    data["nodes"][1]["attributes"] = {"grid": True}  # nyc has dims {grid: pjm}
    assert error_of(data) == (
        "nodes.1.attributes: 'grid' is also in dims; a key is a dimension or an attribute, not both "
        "(got {'grid': True})"
    )
    data = base()
    data["nodes"][0]["attributes"] = {"grid": True}  # another node has grid as a dimension
    assert error_of(data) == (
        "nodes.0.attributes.grid: 'grid' is a dimension (dims) on other nodes; a key is a dimension or an "
        "attribute"
    )


@pytest.mark.parametrize(
    ("place", "expected_loc"),
    [("failures", "failures.dz"), ("policy", "policy.independence.1")],
)
def test_naming_an_attribute_as_a_domain_says_how_to_opt_in(place: str, expected_loc: str) -> None:
    data = base()
    data["nodes"][0]["attributes"] = {"dz": True}
    if place == "failures":
        data["failures"]["dz"] = {"default": 0.1}
    else:
        data["policy"] = {"independence": ["provider", "dz"]}
    assert error_of(data) == (
        f"{expected_loc}: 'dz' is a node attribute, not a dimension: move it to the nodes' dims "
        "(or import with --dimension dz) to make it a failure domain"
    )
    # the opt-in: the same key under dims is a dimension that can be failed
    data["nodes"][0]["dims"] = {"dz": "true"}
    del data["nodes"][0]["attributes"]
    assert "dz" in parse_scenario(data).dimensions()


def test_probability_out_of_range() -> None:
    data = base()
    data["failures"]["provider"]["values"]["aws"] = 1.5
    assert error_of(data) == "failures.provider.values.aws: Input should be less than or equal to 1 (got 1.5)"


def test_top_level_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="expected a mapping at the top level, got list"):
        parse_scenario([1, 2])


def test_compile_codes_unknown_as_minus_one() -> None:
    a = compile_scenario(parse_scenario(base()))
    k = a.dim_index("provider")
    assert a.dim_values[k] == ("aws", "hetzner", "ovh")
    assert a.dim_codes[:, k].tolist() == [2, 0, 1, -1]  # validator has no provider
    assert a.warm[:, a.model_index("llm")].tolist() == [False, True, False, False]
    assert a.stored[2].tolist() == [True, True]
    assert a.role(Role.STORAGE).tolist() == [False, False, True, False]
    assert a.mode("reexec").tolist() == [True, False, False, False]
    assert a.dim_codes[:, a.dim_index("grid")].tolist() == [-1, 0, -1, -1]


# --- Hypothesis: random corruptions of a valid scenario never escape as tracebacks ----------------
# Each corrupted field must either be rejected with the documented one-line error, whose location starts
# with the field's own path and which quotes the bad value, or be accepted only if it really is valid.

_BAD_VALUES = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.floats(max_value=-1e-9),
    st.floats(min_value=1e3, max_value=1e12),
    st.text(max_size=5),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.booleans(),
)

# section -> (index range, fields); the prefix a rejection may name instead of the field itself
_SECTIONS: dict[str, tuple[int, list[str]]] = {
    "nodes": (
        4,
        [
            "lat",
            "lon",
            "capacity",
            "gpu_memory_gb",
            "disk_gb",
            "price_usd_per_hour",
            "stake",
            "id",
            "roles",
            "asn",
            "country",
            "warm_models",
            "verification_modes",
            "status",
            "bandwidth_gbps",
            "attributes",
        ],
    ),
    "models": (2, ["id", "size_bytes", "load_s", "init_s", "service_s", "verification", "min_gpu_memory_gb"]),
    "sources": (1, ["name", "lat", "lon", "weight"]),
    "demand": (1, ["model", "rate_rps", "slo_ms", "verification", "verifiers"]),
}
# Fields whose bad value is reported at a related place (a cross-reference check).
_RELATED = {
    ("nodes", "gpu_memory_gb"): ("warm_models",),
    ("nodes", "id"): ("id",),
    ("models", "id"): ("warm_models", "stored_models", "model"),
    ("models", "size_bytes"): ("warm_models",),
    ("models", "verification"): ("verification",),
    ("demand", "verification"): ("verification",),
    ("demand", "verifiers"): ("demand",),
    ("sources", "name"): ("sources",),
}


@st.composite
def _corruption(draw: st.DrawFn) -> tuple[str, int, str, Any]:
    section = draw(st.sampled_from(sorted(_SECTIONS)))
    n, fields = _SECTIONS[section]
    return section, draw(st.integers(0, n - 1)), draw(st.sampled_from(fields)), draw(_BAD_VALUES)


@settings(max_examples=400, deadline=None)
@given(case=_corruption())
def test_corrupted_field_gives_documented_error(case: tuple[str, int, str, Any]) -> None:
    section, i, field, value = case
    data = copy.deepcopy(base())
    data[section][i][field] = value
    try:
        s = parse_scenario(data)
    except ScenarioError as exc:
        msg = str(exc)
        assert "\n" not in msg
        loc = msg.split(": ", 1)[0]
        allowed = [f"{section}.{i}.{field}", *list(_RELATED.get((section, field), ()))]
        assert any(loc.startswith(a) or f".{a}" in loc or loc == a for a in allowed), (loc, msg)
        if loc.startswith(f"{section}.{i}.{field}") and (section, field) not in _RELATED:
            assert "(got " in msg or repr(value) in msg, msg  # the bad value is quoted
        return
    # Accepted: then the stored value must satisfy the field's documented constraint.
    obj = getattr(s, section)[i]
    stored = getattr(obj, field)
    if field == "lat":
        assert -90 <= stored <= 90
    elif field == "lon":
        assert -180 <= stored <= 180
    elif isinstance(stored, float | int) and not isinstance(stored, bool):
        assert math.isfinite(stored)
        assert stored >= 0


@settings(max_examples=150, deadline=None)
@given(drop=st.sampled_from(["id", "lat", "lon", "roles"]), node=st.integers(0, 3))
def test_missing_required_node_field(drop: str, node: int) -> None:
    data = copy.deepcopy(base())
    del data["nodes"][node][drop]
    assert error_of(data) == f"nodes.{node}.{drop}: missing required field"


@settings(max_examples=100, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=True), st.integers(-1000, 1000)))
def test_latitude_accepted_iff_finite_and_in_range(value: float) -> None:
    data = copy.deepcopy(base())
    data["nodes"][0]["lat"] = value
    ok = math.isfinite(value) and -90 <= value <= 90
    if ok:
        assert parse_scenario(data).nodes[0].lat == value
    else:
        msg = error_of(data)
        assert msg.startswith("nodes.0.lat: ")
        assert f"(got {value!r})" in msg


@pytest.mark.parametrize(
    ("section", "index", "field", "value", "expected"),
    [
        (
            "nodes",
            0,
            "capacity",
            10**26,
            "nodes.0.capacity: Input should be less than or equal to 1000000000 (got 100000000000000000000000000)",
        ),
        (
            "nodes",
            0,
            "asn",
            2**32,
            "nodes.0.asn: Input should be less than or equal to 4294967295 (got 4294967296)",
        ),
        (
            "models",
            0,
            "size_bytes",
            2**64,
            "models.0.size_bytes: Input should be less than or equal to 9007199254740992 (got 18446744073709551616)",
        ),
        (
            "nodes",
            0,
            "id",
            "a\x00b",
            r"nodes.0.id: String should match pattern '^[^\s\x00-\x1f\x7f]+$' (got 'a\x00b')",
        ),
    ],
)
def test_values_that_would_overflow_or_corrupt_are_rejected(
    section: str, index: int, field: str, value: Any, expected: str
) -> None:
    # A capacity beyond int64 used to pass validation and crash the numpy view (OverflowError).
    data = base()
    data[section][index][field] = value
    assert error_of(data) == expected


def test_huge_but_valid_capacity_compiles() -> None:
    data = base()
    data["nodes"][0]["capacity"] = 10**9
    assert compile_scenario(parse_scenario(data)).capacity[0] == 10**9
