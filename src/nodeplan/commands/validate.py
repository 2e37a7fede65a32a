"""``nodeplan validate``: check a scenario file and summarise it."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nodeplan.scenario.io import resolve_scenario
from nodeplan.scenario.model import Role

__all__ = ["validate_cmd"]


def validate_cmd(
    scenario: Annotated[
        str,
        typer.Argument(help="Scenario file (.yaml/.yml/.json) or built-in name (opengradient)."),
    ] = "opengradient",
) -> None:
    """Validate a scenario and print what it holds.

    Exits 0 when the file is valid; otherwise prints one line naming the field and the bad value and exits 2.

    Example: [bold]nodeplan validate my-network.yaml[/]
    """
    s = resolve_scenario(scenario)
    console = Console()
    roles = Counter(r for n in s.nodes for r in n.roles)
    table = Table(title=f"{s.name}: valid", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("nodes", str(len(s.nodes)))
    for role in Role:
        table.add_row(f"  {role.value}", str(roles.get(role, 0)))
    table.add_row("nodes down", str(sum(n.status.value == "down" for n in s.nodes)))
    table.add_row("models", str(len(s.models)))
    table.add_row("demand sources", str(len(s.sources)))
    table.add_row("demand classes", str(len(s.demand)))
    table.add_row("total demand, req/s", f"{sum(d.rate_rps for d in s.demand):g}")
    table.add_row("countries", str(len({n.country for n in s.nodes if n.country})))
    table.add_row("providers", str(len({n.provider for n in s.nodes if n.provider})))
    console.print(table)
