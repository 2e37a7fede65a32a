"""The base install (``pip install -e .``, no extras) runs every command but ``serve``.

Extras and test-only packages are hidden from a subprocess by setting their ``sys.modules`` entry to
``None`` (any import of them then raises ImportError), exactly what a machine without them would see.
"""

from __future__ import annotations

import subprocess
import sys

# Packages the base install does not have: the service extra and the test extra.
_NOT_IN_BASE = [
    "fastapi",
    "uvicorn",
    "httpx",
    "starlette",
    "ray",
    "pandas",
    "scipy",
    "jsonschema",
    "playwright",
    "hypothesis",
    "pytest",
]

_PRELUDE = (
    f"import sys\nfor _m in {_NOT_IN_BASE!r}:\n    sys.modules[_m] = None\nfrom nodeplan.cli import main\n"
)


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    code = _PRELUDE + f"raise SystemExit(main({args!r}))\n"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )


def test_demo_and_analysis_commands_need_no_extra() -> None:
    for args in (
        ["demo"],
        ["audit", "--json"],
        ["route", "-m", "llama-3-8b-q4", "--from", "Paris"],
        ["validate"],
        ["simulate", "failures", "--trials", "256"],
    ):
        proc = _run(args)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr


def test_serve_without_the_service_extra_says_what_to_install() -> None:
    proc = _run(["serve", "--insecure-dev", "--port", "0"])
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: serve: ")
    assert "pip install -e '.[service]'" in proc.stderr
    assert "Traceback" not in proc.stderr
