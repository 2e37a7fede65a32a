"""``nodeplan audit``: decentralization and trust audit of a scenario or a real node list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nodeplan.exceptions import DataImportError, LatencyModelError, ScenarioError
from nodeplan.metrics.audit import Weight, audit_scenario
from nodeplan.metrics.measures import UnknownPolicy
from nodeplan.scenario.io import resolve_scenario

__all__ = ["audit_cmd"]

_PRESETS = ("solana", "ethereum")


def audit_cmd(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="Scenario file (.yaml/.json) or built-in name; default: the built-in opengradient."
        ),
    ] = None,
    nodes: Annotated[
        Path | None,
        typer.Option("--nodes", help="Audit a real node list (CSV) instead of a scenario; needs --preset."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="Column mapping of --nodes: solana or ethereum (or a mapping .yaml)."),
    ] = None,
    dimension: Annotated[
        list[str] | None,
        typer.Option(
            "--dimension",
            help="With --nodes: read this attribute column (e.g. doublezero) as a dependency dimension, "
            "measured like a provider. Repeatable.",
        ),
    ] = None,
    weight: Annotated[
        Weight, typer.Option("--weight", help="What a node counts for: count, capacity (slots) or stake.")
    ] = Weight.COUNT,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role", help="Role(s) to measure: all, execution, verification, storage, coordination."
        ),
    ] = None,
    unknown: Annotated[
        UnknownPolicy,
        typer.Option(
            "--unknown", help="Unknown values: entity (one 'unknown' entity, EDI), exclude, singletons."
        ),
    ] = UnknownPolicy.ENTITY,
    cluster: Annotated[
        list[str] | None,
        typer.Option(
            "--cluster", help="Merge names of this dimension by first word (EDI organisation clustering)."
        ),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Failure rows to print.")] = 15,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the versioned JSON (docs/audit.md) only.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained offline HTML report to FILE.")
    ] = None,
    rtt_matrix: Annotated[
        Path | None,
        typer.Option(
            "--rtt-matrix",
            help="Measured RTTs, CSV with header from,to,rtt_ms (names: demand sources and node ids); they "
            "replace the fitted RTT for those pairs in the serving check (docs/latency.md).",
        ),
    ] = None,
    wide: Annotated[
        bool | None,
        typer.Option(
            "--wide/--narrow",
            help="All columns (Gini, Theil, 2^H, components, largest surviving stake, model names) or the "
            "100-column layout with a legend; default: wide when the terminal has 150+ columns.",
        ),
    ] = None,
) -> None:
    """Measure how decentralized a network really is, and what each single provider/ASN/country failure does.

    Prints the headline (apparent vs effective decentralization), concentration measures per dimension (Nakamoto, HHI, entropy, Gini, ...) and the single-domain failure table, worst first. See docs/audit.md.

    Examples:

      [bold]nodeplan audit[/]  (built-in opengradient scenario)

      [bold]nodeplan audit --nodes solana_validators_epoch860.csv --preset solana --weight stake --html solana.html[/]

      [bold]nodeplan audit my-network.yaml --role verification --json > audit.json[/]

      [bold]nodeplan audit --rtt-matrix measured.csv[/]  (measured RTTs replace the fit where given)

      [bold]nodeplan audit --wide[/]  (every measure and column; needs ~150 columns)
    """
    if nodes is not None:
        if scenario is not None:
            raise ScenarioError(f"scenario: give a scenario ({scenario!r}) or --nodes, not both")
        if preset is None:
            raise DataImportError(
                f"--preset: needed with --nodes (one of {', '.join(_PRESETS)}, or a mapping .yaml)"
            )
        from nodeplan.scenario.importers import import_nodes

        scn = import_nodes(nodes, preset, dimensions=dimension or ()).scenario
    else:
        if preset is not None:
            raise DataImportError("--preset: only used with --nodes CSV")
        if dimension:
            raise DataImportError(
                "--dimension: only used with --nodes CSV; in a scenario file, move the attribute to the "
                "nodes' dims"
            )
        scn = resolve_scenario(scenario)
    rtt = None
    if rtt_matrix is not None:
        from nodeplan.model.matrix_io import load_rtt_matrix
        from nodeplan.model.rtt import default_rtt_model

        measured = load_rtt_matrix(rtt_matrix)
        known = {s.name for s in scn.sources} | {n.id for n in scn.nodes}
        if not known.intersection(measured.names):
            shown = ", ".join(repr(n) for n in measured.names[:3])
            raise LatencyModelError(
                f"--rtt-matrix: {rtt_matrix}: none of its {len(measured.names)} names ({shown}, ...) is a "
                f"demand source or node id of scenario {scn.name!r}"
            )
        rtt = default_rtt_model().with_measured(measured)
    result = audit_scenario(
        scn,
        weight,
        roles=tuple(role) if role else None,
        unknown=unknown,
        cluster=tuple(cluster or ()),
        rtt=rtt,
    )
    if html is not None:
        from nodeplan.report.html import write_html

        try:
            write_html(result, scn, html)
        except OSError as exc:
            raise ScenarioError(f"--html: cannot write {html}: {exc.strerror or exc}") from None
    if as_json:
        typer.echo(result.to_json())
        return
    from nodeplan.report.tables import print_audit

    console = Console()
    print_audit(result, console, limit=rows, wide=wide)
    if html is not None:
        console.print(f"HTML report written to {html}")
