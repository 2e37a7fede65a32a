"""The command line: exit codes and one-line errors, in-process and through the installed script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nodeplan.cli import main


def test_bad_scenario_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: bad\nnodes:\n  - {id: a, lat: .nan, lon: 0, roles: [execution]}\n", encoding="utf-8")
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: nodes.0.lat: Input should be a finite number (got nan)"


def test_unknown_scenario_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "atlantis"]) == 2
    assert "'atlantis' is neither a file nor a built-in scenario" in capsys.readouterr().err


def test_valid_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "ok.yaml"
    p.write_text(
        "name: ok\nnodes:\n  - {id: a, lat: 1, lon: 2, roles: [execution, storage], country: de}\n"
        "  - {id: b, lat: 3, lon: 4, roles: [coordination], country: FR, status: down}\n",
        encoding="utf-8",
    )
    assert main(["validate", str(p)]) == 0
    out = capsys.readouterr().out
    assert "ok: valid" in out
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") == 3
    }
    assert rows["nodes"] == "2"
    assert rows["nodes down"] == "1"
    assert rows["countries"] == "2"


def test_usage_error_is_not_zero() -> None:
    assert main(["validate", "--no-such-flag"]) == 2


def test_console_script_reports_error(tmp_path: Path) -> None:
    p = tmp_path / "neg.json"
    p.write_text(
        '{"nodes": [{"id": "a", "lat": 0, "lon": 0, "roles": ["storage"], "disk_gb": -3}]}', encoding="utf-8"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "nodeplan", "validate", str(p)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "error: nodes.0.disk_gb: Input should be greater than or equal to 0 (got -3)"
    )
    assert "Traceback" not in proc.stderr


def test_error_text_is_printed_verbatim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Square brackets in a message are text, not terminal markup (a value such as "[bold]" must survive).
    p = tmp_path / "b.yaml"
    p.write_text(
        "nodes:\n  - {id: a, lat: 0, lon: 0, roles: [execution], country: '[bold]'}\n", encoding="utf-8"
    )
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: nodes.0.country: String should have at most 2 characters (got '[bold]')"
