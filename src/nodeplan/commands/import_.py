"""``nodeplan import``: turn a real node list (CSV) into a scenario file and summarise what was read."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from nodeplan.exceptions import DataImportError
from nodeplan.scenario.importers import PRESETS, ImportResult, import_nodes, load_overrides, resolve_mapping
from nodeplan.scenario.io import save_scenario
from nodeplan.scenario.mapping import as_dimensions
from nodeplan.scenario.model import DEPENDENCY_DIMENSIONS

__all__ = ["columns_table", "import_cmd", "print_summary"]

#: Above this many nodes, suggest JSON: PyYAML (pure Python) took ~24 s to write and ~64 s to read the
#: 17,356-node Ethereum import on our 2-core machine; JSON took ~1 s to read.
_YAML_HINT_NODES = 2000


def print_summary(result: ImportResult, console: Console, top: int = 8) -> None:
    """Rows read/used/skipped by reason, countries and providers found, and the importer's notes."""
    s = result.scenario
    console.print(f"{result.source}: {result.mapping.name} mapping -> scenario {s.name!r}")
    rows = Table()
    rows.add_column("rows")
    rows.add_column("count", justify="right")
    rows.add_row("read", f"{result.rows_read:,}")
    rows.add_row("used", f"{result.rows_used:,}")
    for reason, n in result.skipped.items():
        rows.add_row(f"skipped: {reason}", f"{n:,}")
    console.print(rows)

    total_stake = sum(n.stake for n in s.nodes)
    countries = Counter(n.country or "(unknown)" for n in s.nodes)
    known = len([c for c in countries if c != "(unknown)"])
    ct = Table(title=f"countries: {known} known")
    ct.add_column("country")
    ct.add_column("nodes", justify="right")
    ct.add_column("share", justify="right")
    for c, n in countries.most_common(top):
        ct.add_row(c, f"{n:,}", f"{100 * n / len(s.nodes):.1f}%")
    console.print(ct)

    count: Counter[str] = Counter()
    stake: defaultdict[str, float] = defaultdict(float)
    for node in s.nodes:
        key = node.provider or "(unknown)"
        count[key] += 1
        stake[key] += node.stake
    weighted = total_stake > 0
    order = sorted(count, key=lambda k: -(stake[k] if weighted else count[k]))
    pt = Table(
        title=f"providers: {len([k for k in count if k != '(unknown)'])} known"
        + (", by stake" if weighted else "")
    )
    pt.add_column("provider")
    pt.add_column("nodes", justify="right")
    pt.add_column("node share", justify="right")
    if weighted:
        pt.add_column("stake share", justify="right")
    for k in order[:top]:
        cells = [k, f"{count[k]:,}", f"{100 * count[k] / len(s.nodes):.1f}%"]
        if weighted:
            cells.append(f"{100 * stake[k] / total_stake:.1f}%")
        pt.add_row(*cells)
    console.print(pt)
    console.print(columns_table(result))
    if result.unused_columns:
        console.print(f"not read: {', '.join(result.unused_columns)}")
    for note in result.notes:
        console.print(f"- {note}")


def _values(values: list[bool | str | None]) -> str:
    """``true 73.8%, false 26.2%`` for a few values, else the number of values and the largest's share."""
    count = Counter(
        "(unknown)" if v is None else str(v).lower() if isinstance(v, bool) else v for v in values
    )
    total = len(values)
    if len(count) <= 3:
        return ", ".join(f"{v} {100 * k / total:.1f}%" for v, k in count.most_common())
    top, k = count.most_common(1)[0]
    return f"{len(count) - ('(unknown)' in count):,}; top {top} {100 * k / total:.1f}%"


def columns_table(result: ImportResult) -> Table:
    """Which columns became dependency dimensions (failure domains), node status, a row filter or attributes."""
    m = result.mapping
    nodes = result.scenario.nodes
    t = Table(title="columns: dimensions (failure domains) and attributes (never failed)")
    for head in ("kind", "name", "column", "values, share of nodes"):
        t.add_column(head)
    for d in result.scenario.dimensions():
        if d in DEPENDENCY_DIMENSIONS:
            col = m.columns.get(d)
            if col is None and d == "provider" and m.derive_provider:
                col = "(from asn, org)" if "org" in m.columns else "(from asn)"
            elif col is None and d == "provider_region" and m.provider_region_pattern:
                col = f"(from {m.columns.get('org', 'org')})"
        else:
            col = m.dims.get(d)
        if col is not None:
            kind = "dimension" if d in DEPENDENCY_DIMENSIONS else "user dimension"
            t.add_row(kind, d, col, _values([n.dim(d) for n in nodes]))
    if "status" in m.columns:
        t.add_row("node status", "status", m.columns["status"], _values([n.status.value for n in nodes]))
    if "active" in m.columns:
        inactive = result.skipped.get("inactive", 0)
        t.add_row("row filter", "active", m.columns["active"], f"{inactive:,} inactive rows skipped")
    for a in result.scenario.attribute_names() or m.attributes:
        kind = "flag attribute" if a in result.flag_columns else "attribute"
        t.add_row(kind, a, m.attributes.get(a, "?"), _values([n.attributes.get(a) for n in nodes]))
    return t


def import_cmd(
    preset_or_mapping: Annotated[
        str,
        typer.Argument(
            metavar="PRESET_OR_MAPPING",
            help=f"A preset ({', '.join(sorted(PRESETS))}) or a column-mapping .yaml file.",
        ),
    ],
    file: Annotated[Path, typer.Argument(help="The node list, a CSV file with a header row.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Scenario file to write (.yaml/.yml or .json).")
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help=(
                "YAML file whose keys override the preset's mapping (e.g. roles, skip_zero_stake); "
                "its columns, dims and attributes are merged into the preset's."
            ),
        ),
    ] = None,
    dimension: Annotated[
        list[str] | None,
        typer.Option(
            "--dimension",
            help="Import this attribute (e.g. a flag column such as doublezero) as a dependency dimension: "
            "measured and failable like a provider. Repeatable.",
        ),
    ] = None,
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows", help="Count rows with malformed values as skipped instead of stopping."
        ),
    ] = False,
    name: Annotated[str | None, typer.Option("--name", help="Scenario name (default: the preset's).")] = None,
) -> None:
    """Import a real node list (CSV) into a scenario file that every other command reads.

    Presets: [bold]solana[/] (validators.app export; stake-weighted coordination nodes, delinquent = down).

    [bold]ethereum[/] (execution-layer nodes as /24 prefixes; coordination nodes counted by number).

    Provider = the node's ASN, else its org string, looked up in the shipped providers.csv; else unknown.

    Unusable rows are counted by reason. A malformed value stops with a line naming line, column, value.

    Flag columns (t/f, true/false, yes/no, 1/0) are kept as node attributes: shown, never failed. --dimension NAME makes one a dependency dimension.

    Example: [bold]nodeplan import solana solana_validators_epoch860.csv -o solana.yaml[/]
    """
    base = resolve_mapping(preset_or_mapping)
    overrides: dict[str, Any] = load_overrides(mapping) if mapping is not None else {}
    given = {k: overrides[k] for k in ("columns", "dims", "attributes") if isinstance(overrides.get(k), dict)}
    for key, entries in given.items():  # merged entry by entry, so a file can add one column
        overrides[key] = {**getattr(base, key), **entries}
    for key, other in (("dims", "attributes"), ("attributes", "dims")):
        if key in given:  # a name the file moves (e.g. a preset attribute under dims) leaves the other list
            moved = given[key].keys() - given.get(other, {}).keys()
            overrides[other] = {
                k: v for k, v in overrides.get(other, getattr(base, other)).items() if k not in moved
            }
    if skip_bad_rows:
        overrides["skip_bad_rows"] = True
    resolved = as_dimensions(resolve_mapping(base, **overrides), dimension or ())
    if output.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise DataImportError(f"--output: {output} must end in .yaml, .yml or .json")
    result = import_nodes(file, resolved, name=name, dimensions=dimension or ())
    save_scenario(result.scenario, output)
    console = Console()
    print_summary(result, console)
    console.print(f"wrote {output} ({len(result.scenario.nodes):,} nodes)")
    if len(result.scenario.nodes) > _YAML_HINT_NODES and output.suffix.lower() != ".json":
        console.print("tip: for thousands of nodes write .json; it reads and writes far faster than YAML")
