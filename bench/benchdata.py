"""Benchmarks' door to the data: the same :func:`data_path` as the tests (``tests/datafiles.py``).

Benchmarks run as scripts (``python bench/bench_x.py``), so ``bench/`` is on ``sys.path`` and
``from benchdata import data_path`` works; this module puts the repository root on the path and re-exports
the tests' helper, so there is one helper, not two.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.append(_REPO)

from tests.datafiles import DATA_DIR, data_path  # noqa: E402

__all__ = ["DATA_DIR", "data_path"]
