"""``nodeplan route`` end to end: JSON output, --compare, errors, the built-in scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodeplan.cli import main
from nodeplan.routing import POLICIES
from nodeplan.scenario.io import load_builtin, save_scenario
from nodeplan.scenario.model import DemandSource, Model, Node, Role, Scenario, VerificationMode


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    big = Model(id="llama-8b", size_bytes=16_000_000_000, load_s=8.0, init_s=12.0, service_s={"gpu": 0.5})
    sc = Scenario(
        name="tiny-net",
        nodes=(
            Node(
                id="paris",
                lat=48.86,
                lon=2.35,
                roles={"execution"},
                hardware="gpu",
                gpu_memory_gb=80,
                capacity=2,
                provider="ovh",
            ),
            Node(
                id="ashburn",
                lat=39.04,
                lon=-77.49,
                roles={"execution"},
                hardware="gpu",
                gpu_memory_gb=80,
                capacity=2,
                provider="aws",
                warm_models=("llama-8b",),
            ),
            Node(id="store", lat=50.11, lon=8.68, roles={"storage"}, stored_models=("llama-8b",)),
        ),
        models=(big,),
        sources=(
            DemandSource(name="Paris", lat=48.86, lon=2.35),
            DemandSource(name="Sydney", lat=-33.87, lon=151.21),
        ),
    )
    path = tmp_path / "net.yaml"
    save_scenario(sc, path)
    return path


def test_route_json_picks_the_warm_distant_node(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["route", "--model", "llama-8b", "--from", "PARIS", "--scenario", str(scenario_file), "--json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["executor"] == "ashburn"
    assert out["time_ms"]["cold_start"] == 0.0
    assert out["verification"] == "none"


def test_route_from_lat_lon_with_negative_numbers(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "route",
            "-m",
            "llama-8b",
            "--from",
            "-33.87,151.21",
            "-s",
            str(scenario_file),
            "--json",
            "--policy",
            "nearest",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["policy"] == "nearest"
    assert out["executor"] == "ashburn"  # Sydney: Ashburn (15,700 km) is nearer than Paris (16,960 km)


def test_compare_lists_every_policy(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["route", "-m", "llama-8b", "--from", "paris", "-s", str(scenario_file), "--compare", "--json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in out] == list(POLICIES)
    by = {r["policy"]: r for r in out}
    assert by["nearest"]["executor"] == "paris"
    assert by["nearest"]["source"] == "store"
    assert by["nodeplan"]["time_ms"]["total"] < by["nearest"]["time_ms"]["total"]


def test_table_output_names_the_parts(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "-m", "llama-8b", "--from", "paris", "-s", str(scenario_file)]) == 0
    out = capsys.readouterr().out
    assert "ashburn (aws, gpu), model warm" in out
    assert "cold start 0.0" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-m", "llama8b", "--from", "paris"],
            "error: --model: unknown model 'llama8b' (close matches: llama-8b)",
        ),
        (
            ["-m", "llama-8b", "--from", "pariss"],
            "error: --from: unknown city 'pariss' in scenario 'tiny-net' (close matches: Paris)",
        ),
        (
            ["-m", "llama-8b", "--from", "95,10"],
            "error: --from: '95,10' is outside lat [-90, 90], lon [-180, 180]",
        ),
        (["-m", "llama-8b", "--from", "paris", "--policy", "fast"], "error: --policy: unknown policy 'fast'"),
        (
            ["-m", "llama-8b", "--from", "paris", "--verify", "tee", "-k", "1"],
            "error: verification: model 'llama-8b' does not support 'tee'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    scenario_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["route", *args, "-s", str(scenario_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_builtin_opengradient_tee_route_is_checked_off_aws(capsys: pytest.CaptureFixture[str]) -> None:
    # NETWORKS.md: every OpenGradient TEE attests against the AWS Nitro root, so all TEE executors run on
    # AWS; full nodes (validators) check attestations. An independent verifier must therefore be a
    # validator outside AWS, sharing no provider, ASN, operator, data center or TEE vendor.
    sc = load_builtin("opengradient")
    model = next(d.model for d in sc.demand if d.verification is VerificationMode.TEE)
    city = sc.sources[0].name
    assert main(["route", "-m", model, "--from", city, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verification"] == "tee"
    executor = sc.node(out["executor"])
    assert VerificationMode.TEE in executor.verification_modes
    assert executor.provider == "aws"
    assert out["degraded"] is False
    (verifier,) = (sc.node(v) for v in out["verifiers"])
    assert Role.COORDINATION in verifier.roles
    assert verifier.provider != "aws"
    assert out["independence"]["pairs"][0]["shared"] == []


def test_rtt_matrix_overrides_the_user_to_node_rtt_for_a_named_city(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # by the fit, Paris -> ashburn is ~6,200 km (~80 ms): the nearest node is paris. A measured 1.5 ms
    # (as if ashburn sat next door) makes ashburn the nearest, and the route reports that RTT.
    pings = tmp_path / "pings.csv"
    pings.write_text("from,to,rtt_ms\nParis,ashburn,1.5\n")
    args = ["route", "-m", "llama-8b", "--from", "paris", "-s", str(scenario_file), "--json", "-p", "nearest"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["executor"] == "paris"
    assert main([*args, "--rtt-matrix", str(pings)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["executor"] == "ashburn"
    assert out["time_ms"]["network"] == 1.5
    # a LAT,LON origin has no name in the matrix: the fit applies
    assert main([*args[:4], "48.86,2.35", *args[5:], "--rtt-matrix", str(pings)]) == 0
    assert json.loads(capsys.readouterr().out)["executor"] == "paris"


def test_rtt_matrix_for_another_scenario_is_an_error(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pings = tmp_path / "pings.csv"
    pings.write_text("from,to,rtt_ms\nBerlin,og-1,3\n")
    code = main(
        ["route", "-m", "llama-8b", "--from", "paris", "-s", str(scenario_file), "--rtt-matrix", str(pings)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --rtt-matrix: none of the 2 names in ")
    assert "is a node id or demand source of scenario 'tiny-net'" in err
    assert err.count("\n") == 1
