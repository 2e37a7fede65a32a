"""``nodeplan place`` end to end: tables, JSON, --pareto, one-line errors for bad arguments."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from nodeplan.cli import main


def test_place_one_model_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["place", "--model", "llama-3-70b-fp16", "--replicas", "2", "--min-providers", "2", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)  # nothing but JSON on stdout (the HiGHS banner is suppressed)
    assert data["status"] == "optimal"
    (m,) = data["models"]
    assert m["model"] == "llama-3-70b-fp16"
    assert len(m["after"]["nodes"]) == 2
    assert m["after"]["providers"] == 2
    assert sum(m["demand_share"]) == pytest.approx(1.0)
    assert sum(m["contribution_ms"]) == pytest.approx(m["after"]["mean_ms"])
    assert data["objective"] == pytest.approx(data["latency_ms"])  # price weight 0


def test_place_table_names_nodes_and_comparison(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["place", "--model", "llama-3-8b-fp16", "--replicas", "3", "--max-provider-share", "0.34"])
    out = capsys.readouterr().out
    assert code == 0
    assert "llama-3-8b-fp16: 3 warm replica(s)" in out
    assert "today vs placed" in out
    assert "binding constraints:" in out
    assert "status optimal" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicas", "-2"], "--replicas: must be an integer >= 1 (got -2)"),
        (["--solver", "mlip"], "--solver: unknown value 'mlip' (choose: milp, heuristic, auto)"),
        (["--share-of", "replica"], "--share-of: unknown value 'replica' (choose: replicas, capacity)"),
        (["--rel-gap", "-1"], "--rel-gap: must be in [0, 1) (got -1)"),
        (["--rel-gap", "1"], "--rel-gap: must be in [0, 1) (got 1)"),
        (["--time-limit", "0"], "--time-limit: must be > 0 (got 0)"),
        (["--time-limit", "inf"], "--time-limit: must be > 0 and finite (got inf)"),
        (["--time-limit", "nan"], "--time-limit: must be > 0 and finite (got nan)"),
        (["--node-limit", "0"], "--node-limit: must be an integer >= 1 (got 0)"),
        (["--seed", "-1"], "--seed: must be an integer >= 0 (got -1)"),
        (["--budget", "-1"], "--budget: must be >= 0 (got -1)"),
        (["--max-utilisation", "1.5"], "--max-utilisation: must be in (0, 1] (got 1.5)"),
        (["--max-provider-share", "1.5"], "--max-provider-share: must be in (0, 1] (got 1.5)"),
        (["--max-provider-share", "0"], "--max-provider-share: must be in (0, 1] (got 0.0)"),
        (["--model", "llama-3-8"], "--model: unknown model 'llama-3-8'"),
        (["--max-share", "galaxy=0.5"], "--max-share: unknown dimension 'galaxy'"),
        (["--min-distinct", "country=x"], "--min-distinct: count must be an integer >= 1"),
        (["--model", "llama-3-70b-fp16", "--replicas", "9"], "replicas: 9 replicas of 'llama-3-70b-fp16'"),
    ],
)
def test_bad_arguments_give_one_line_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["place", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_infeasible_rules_name_the_constraint(capsys: pytest.CaptureFixture[str]) -> None:
    # llama-3-70b-fp16 fits 4 nodes in 4 providers: 2 replicas cannot span 3 providers.
    code = main(["place", "--model", "llama-3-70b-fp16", "--replicas", "2", "--min-providers", "3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "min_distinct: 2 replicas of 'llama-3-70b-fp16' cannot span 3 distinct provider values" in err


def test_pareto_prints_a_monotone_trade_off(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["place", "--model", "llama-3-8b-fp16", "--replicas", "2", "--pareto", "--json"])
    points = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [p["price_weight_ms_per_usd_hour"] for p in points] == [0.0, 0.3, 1.0, 3.0, 10.0]
    # A larger price weight never buys a dearer or faster placement (weighted-sum optima are monotone).
    usd = [p["usd_per_hour"] for p in points]
    lat = [p["latency_ms"] for p in points]
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(usd))
    assert all(a <= b + 1e-6 for a, b in itertools.pairwise(lat))


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    main(["place", "--help"])
    out = capsys.readouterr().out
    assert "nodeplan place --model llama-3-70b-q4" in out
    assert "--pareto" in out


def test_zero_rate_demand_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = tmp_path / "zerorate.yaml"
    sc.write_text(
        "name: zerorate\n"
        "models: [{id: m, size_bytes: 0, service_s: {cpu: 0.1}}]\n"
        "nodes: [{id: a, lat: 48.85, lon: 2.35, roles: [execution], capacity: 4, warm_models: [m]}]\n"
        "sources: [{name: Paris, lat: 48.85, lon: 2.35}]\n"
        "demand: [{model: m, rate_rps: 0, slo_ms: 100}]\n"
    )
    assert main(["place", str(sc)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: demand: no demand with rate_rps > 0 for model 'm'; nothing to place"
    )


def test_today_with_nothing_served_shows_n_a(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = tmp_path / "cold.yaml"
    sc.write_text(
        "name: cold\n"
        "models: [{id: m, size_bytes: 0, service_s: {cpu: 0.1}}]\n"
        "nodes: [{id: a, lat: 48.85, lon: 2.35, roles: [execution], capacity: 4, provider: p1}]\n"
        "sources: [{name: Paris, lat: 48.85, lon: 2.35}]\n"
        "demand: [{model: m, rate_rps: 1, slo_ms: 1000}]\n"
    )
    assert main(["place", str(sc), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["before"]["latency_ms"] is None
    assert data["before"]["unserved_share"] == 1.0
    assert data["models"][0]["before"]["slo_miss_share"] == 1.0
    assert main(["place", str(sc)]) == 0
    out = capsys.readouterr().out
    assert "(today n/a)" in out
    today = [line for line in out.splitlines() if line.strip().startswith("m ") and "today" in line]
    assert len(today) == 1
    assert "n/a" in today[0]
    assert "100%" in today[0]


def test_huge_price_weight_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["place", "--model", "llama-3-8b-q4", "--price-weight", "1e308"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --price-weight: must be in [0, 1e+12] (got 1e+308)")
