"""Tests and benchmarks read their data through one helper (``tests/datafiles.py``), from the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .datafiles import DATA_DIR, data_path

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "tests").glob("*.py"), *(REPO / "bench").glob("*.py")])
#: Text that locates data outside the repository.
OUTSIDE = re.compile(r"/work/|/root/|/home/|shared/data|\.\./shared")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_data_path_outside_the_repository(path: Path) -> None:
    """No string (docstrings aside) names a data location outside the repository, and no path climbs
    above the repository root (``Path(__file__).parents[2]`` and beyond)."""
    if path.name == "test_datafiles.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            assert not OUTSIDE.search(node.value), f"{path.name}:{node.lineno}: {node.value!r}"
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            assert node.slice.value <= 1, (
                f"{path.name}:{node.lineno}: parents[{node.slice.value}] leaves the repository"
            )


def test_data_path_finds_files_and_folders() -> None:
    assert data_path("nodes/solana_validators_epoch860.csv").is_file()
    assert data_path("latency").is_dir()
    assert data_path("latency").parent == DATA_DIR
    assert DATA_DIR == REPO / "tests" / "data"


def test_data_path_names_what_is_missing() -> None:
    with pytest.raises(
        FileNotFoundError, match=r"test data 'nodes/nope\.csv' not found at .*tests/data/README\.md"
    ):
        data_path("nodes/nope.csv")
    with pytest.raises(FileNotFoundError, match="must be a path inside"):
        data_path("../conftest.py")


def test_every_data_folder_has_its_provenance() -> None:
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for folder in sorted(p for p in DATA_DIR.iterdir() if p.is_dir()):
        assert f"## {folder.name}/" in readme, folder.name
        for f in folder.rglob("*"):
            if f.is_file():
                stem = re.sub(r"\d+$", "", f.stem)  # pmed3 is described as pmed1.txt ... pmed20.txt
                assert stem in readme, f"{f.relative_to(DATA_DIR)} is not described in tests/data/README.md"
