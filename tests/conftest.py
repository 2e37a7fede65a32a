"""Test-wide settings.

* Hypothesis runs derandomized: the same examples on every run and every machine.
* Under CI (``CI`` set), a skipped test fails the run: Chromium and the test extras are installed there
  (the real data ships in ``tests/data``), so a skip means a missing install step, not an optional check.
* Ray's usage statistics are off (``RAY_USAGE_STATS_ENABLED=0``) for every Ray a test starts, set here
  before any test runs (the Ray fixture, the ray backend and CLI runs of ``--backend ray`` all inherit it).
* Tests read their data through :func:`datafiles.data_path` (``tests/data``, provenance in its README).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

settings.register_profile("nodeplan", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("nodeplan")


def _skipped(config: pytest.Config) -> int:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return len(reporter.stats.get("skipped", [])) if reporter is not None else 0


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if os.environ.get("CI") and _skipped(config):
        terminalreporter.write_line(
            f"error: {_skipped(config)} test(s) skipped under CI: a test dependency is missing (see the reasons above)",
            red=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") and exitstatus == 0 and _skipped(session.config):
        session.exitstatus = 1
