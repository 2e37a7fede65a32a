"""Test-wide settings: Hypothesis runs derandomized (same examples every run, on every machine)."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("nodeplan", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("nodeplan")
