"""``nodeplan simulate failures``: one-line errors, JSON, reproducible output, tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodeplan.cli import main

SMALL = """
name: small
nodes:
  - {id: a, lat: 50.1, lon: 8.7, roles: [execution, coordination, storage], stake: 2, provider: A,
     warm_models: [m], stored_models: [m], gpu_memory_gb: 1, disk_gb: 1}
  - {id: b, lat: 48.9, lon: 2.4, roles: [execution, coordination, storage], stake: 1, provider: B,
     warm_models: [m], stored_models: [m], gpu_memory_gb: 1, disk_gb: 1}
  - {id: c, lat: 40.7, lon: -74.0, roles: [execution, coordination], stake: 1, provider: C,
     warm_models: [m], gpu_memory_gb: 1}
models:
  - {id: m, size_bytes: 0, service_s: {cpu: 0.01}}
sources:
  - {name: Frankfurt, lat: 50.1, lon: 8.7}
demand:
  - {model: m, rate_rps: 1.0, slo_ms: 200}
failures:
  provider: {default: 0.05, values: {A: 0.2, Z: 0.5}}
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(SMALL, encoding="utf-8")
    return p


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["simulate", "failures", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "error: trials: must be between 1 and 20,000,000 (got 0)"),
        (["--trials", "-5"], "error: trials: must be between 1 and 20,000,000 (got -5)"),
        (["--workers", "0"], "error: workers: must be between 1 and 256 (got 0)"),
        (["--seed", "-1"], "error: seed: must be >= 0 (got -1)"),
        (["--target", "2"], "error: slo_target: must be in [0, 1] (got 2.0)"),
    ],
)
def test_bad_options_one_line(
    small: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _run(capsys, str(small), *args)
    assert code == 2
    assert err.strip() == message
    assert out == ""


def test_scenario_without_failures_explains_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "nofail.yaml"
    p.write_text("nodes:\n  - {id: a, lat: 0, lon: 0, roles: [storage], provider: x}\n", encoding="utf-8")
    code, _, err = _run(capsys, str(p))
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(
        "error: failures: the scenario has no failure probabilities; add e.g. 'failures: {provider:"
    )


def test_json_is_reproducible_and_independent_of_workers(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out1, _ = _run(capsys, str(small), "--trials", "3000", "--seed", "9", "--json")
    assert code == 0
    _, out2, _ = _run(capsys, str(small), "--trials", "3000", "--seed", "9", "--json")
    _, out3, _ = _run(capsys, str(small), "--trials", "3000", "--seed", "9", "--json", "--workers", "2")
    assert out1 == out2
    d1, d3 = json.loads(out1), json.loads(out3)
    assert d1 == d3 | {"workers": 1}
    assert d1["unmatched"] == [{"dimension": "provider", "value": "Z"}]
    # P(halted): A (half the stake) down, or B and C both down = 1 - 0.8 * (1 - 0.05 * 0.05) = 0.202.
    # P(fragile): whenever consensus runs, A is up and holds >= 1/3 of what survives: 1 - 0.202 = 0.798.
    # 3000 trials give standard errors of ~0.007.
    h, f = d1["events"]["halted"], d1["events"]["fragile"]
    assert abs(h["p"] - 0.202) < 4 * h["se"]
    assert abs(f["p"] - 0.798) < 4 * f["se"]
    assert h["p"] + f["p"] == pytest.approx(1.0)


def test_tables(small: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = _run(capsys, str(small), "--trials", "2048", "--seed", "1")
    assert code == 0
    assert "small: 2,048 trials (seed 1), 3 failure domains in 1 dimension (provider) over 3 nodes." in out
    assert "demand served within SLO" in out
    assert "consensus halts" in out
    assert "consensus fragile" in out
    assert "Worst 5% of trials" in out
    assert "provider=A" in out
    assert "failures.provider lists 'Z', which no node has (ignored)." in out


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "failures", "--help"]) == 0
    assert (
        "nodeplan simulate failures net.yaml --trials 100000 --seed 7 --workers 2" in capsys.readouterr().out
    )
