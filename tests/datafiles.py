"""The one way tests and benchmarks find their data: :func:`data_path` under ``tests/data``.

The files are copies of public third-party data kept in the repository (provenance in
``tests/data/README.md``), so the suite runs from a clone anywhere; nothing reads data through an absolute
path or outside the repository. Benchmarks import this module through ``bench/benchdata.py``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "data_path"]

#: Root of the test and benchmark data.
DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    """Absolute path of ``name`` (a file or folder, relative to ``tests/data``, ``/``-separated).

    Raises
    ------
    FileNotFoundError
        ``name`` is not in ``tests/data`` (the message names it and where the data is described), or it
        tries to leave that folder.
    """
    path = (DATA_DIR / name).resolve()
    if not path.is_relative_to(DATA_DIR):
        raise FileNotFoundError(f"test data {name!r}: must be a path inside {DATA_DIR}")
    if not path.exists():
        raise FileNotFoundError(
            f"test data {name!r} not found at {path}; "
            "tests/data/README.md lists the files and where they come from"
        )
    return path
