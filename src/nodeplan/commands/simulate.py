"""``nodeplan simulate``: Monte Carlo over correlated failures (``simulate failures``)."""

from __future__ import annotations

import functools
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nodeplan.scenario.io import resolve_scenario
from nodeplan.simulation.result import MonteCarloResult

__all__ = ["failures_cmd", "print_result", "simulate_app"]

simulate_app = typer.Typer(
    name="simulate",
    help="Simulate the network: Monte Carlo over correlated failures of its dependency graph.\n\n"
    "Example: [bold]nodeplan simulate failures --trials 20000 --seed 1[/]",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

_PROGRESS_MIN_TRIALS = 20_000  # below this a run takes a few seconds: no bar


@simulate_app.callback()
def _simulate() -> None:
    """Simulate the network: Monte Carlo over correlated failures of its dependency graph."""


def _pct(x: float | None, nd: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{nd}f}%"


def _n(k: int, noun: str) -> str:
    """``k`` and the noun in the right number.

    >>> _n(1, "node"), _n(3, "failure domain")
    ('1 node', '3 failure domains')
    """
    return f"{k:,} {noun}{'' if k == 1 else 's'}"


def _pm(p: float | None, n: int) -> str:
    """``p ± se`` in percent."""
    if p is None:
        return "n/a"
    se = (max(p * (1 - p), 0.0) / n) ** 0.5
    return f"{100 * p:.2f}% ± {100 * se:.2f}"


def print_result(r: MonteCarloResult, console: Console) -> None:
    """Rich tables of a Monte Carlo failure run: distribution, events, attribution."""
    dims = f"{_n(len(r.dimensions), 'dimension')} ({', '.join(r.dimensions)})"
    console.print(
        f"[bold]{r.scenario}[/]: {r.trials:,} trials (seed {r.seed}), {_n(r.domains, 'failure domain')} in "
        f"{dims} over {_n(r.nodes, 'node')}.\n"
        f"{_pct(r.p_no_failure)} of trials lose no domain; on average {r.mean_failed_domains:.2f} domains "
        f"fail and {r.mean_down_nodes:.2f} nodes go down per trial."
    )
    if r.domains == 0:
        console.print(
            "[yellow]note:[/] no node has a known value in the dimensions of 'failures': nothing can fail. "
            "Set those attributes on the nodes, or name other dimensions."
        )
    dist = Table(title="Outcome per trial (share)", title_justify="left")
    for col, just in (("outcome", "left"), ("no failure", "right"), ("mean ± se", "right")):
        dist.add_column(col, justify=just)  # type: ignore[arg-type]
    for col in ("p5", "p50", "p95"):
        dist.add_column(col, justify="right")
    rows = (
        ("demand served within SLO", r.baseline_served, r.served),
        ("verified by an independent verifier", r.baseline_verified, r.verified),
        ("execution capacity lost", 0.0, r.capacity_lost),
        ("coordination stake alive", 1.0 if r.stake_alive is not None else None, r.stake_alive),
    )
    for name, base, st in rows:
        if st is None:
            continue
        dist.add_row(
            name,
            _pct(base),
            f"{100 * st.mean:.2f}% ± {100 * st.se:.2f}",
            _pct(st.p5),
            _pct(st.p50),
            _pct(st.p95),
        )
    console.print(dist)
    ev = Table(
        title="Probability over the planning window (± standard error, in points)", title_justify="left"
    )
    ev.add_column("event")
    ev.add_column("probability", justify="right")
    target = _pct(r.slo_target, 0)
    ev.add_row(f"demand served within SLO < {target}", _pm(r.p_served_below_target, r.trials))
    ev.add_row(f"verified share < {target}", _pm(r.p_verified_below_target, r.trials))
    ev.add_row("consensus halts (live stake <= 2/3)", _pm(r.p_halted, r.trials))
    ev.add_row("consensus fragile (runs; a surviving domain >= 1/3)", _pm(r.p_fragile, r.trials))
    ev.add_row("some model has no live storage replica", _pm(r.p_any_unreplicated, r.trials))
    for m, p in r.model_unreplicated[:5]:
        ev.add_row(f"  {m} has no live replica", _pm(p, r.trials))
    console.print(ev)
    if r.baseline_dominant:
        held = ", ".join(f"{d.dimension}={d.value} ({_pct(d.share, 0)})" for d in r.baseline_dominant[:4])
        console.print(
            f"[yellow]note:[/] with no failure, {held} of the live stake: consensus is fragile before "
            "anything fails, and stays fragile in every trial that keeps it running and one of these domains "
            "whole."
        )
    if r.attribution:
        at = Table(
            title=f"Worst {_pct(r.tail, 0)} of trials ({r.tail_trials:,} with harm > 0): domains down more "
            "often than their base rate",
            title_justify="left",
        )
        for col in ("domain", "p", "base rate", "in worst", "lift", "worst trials", "excess"):
            at.add_column(col, justify="left" if col == "domain" else "right")
        for a in r.attribution:
            at.add_row(
                f"{a.dimension}={a.value}",
                f"{a.probability:g}",
                _pct(a.base_rate, 2),
                _pct(a.tail_rate, 1),
                f"{a.lift:.1f}x",
                f"{a.tail_trials:,}",
                f"{a.excess:.0f}",
            )
        console.print(at)
    else:
        console.print("No trial did any harm: nothing to attribute.")
    for d, v in r.unmatched:
        console.print(f"[yellow]note:[/] failures.{d} lists {v!r}, which no node has (ignored).")


def failures_cmd(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="Scenario file (.yaml/.json) or built-in name; default: the built-in opengradient. It needs "
            "a 'failures' section."
        ),
    ] = None,
    trials: Annotated[int, typer.Option("--trials", "-n", help="Number of Monte Carlo trials.")] = 10_000,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed (integer >= 0); same seed, same numbers. Default: fresh, printed."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="Local processes; the result does not depend on it.")
    ] = 1,
    target: Annotated[
        float, typer.Option("--target", help="Served/verified share below which a trial counts as a miss.")
    ] = 0.9,
    tail: Annotated[
        float, typer.Option("--tail", help="Share of worst trials (by harm) used for the attribution.")
    ] = 0.05,
    top: Annotated[int, typer.Option("--top", help="Domains listed in the attribution.")] = 10,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the versioned JSON (docs/simulate.md) only.")
    ] = False,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="Where the chunks run: 'local' (this process, or --workers processes) or 'ray' (one Ray "
            "task per chunk; needs: pip install 'nodeplan\\[ray]'). Same seed, same result.",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --backend ray: Ray cluster to connect to (e.g. ray://head:10001 or auto). "
            "Default: start a small local Ray instance for the run.",
        ),
    ] = None,
) -> None:
    """Sample correlated failures of providers, regions, data centers, countries, operators... and report what survives.

    Each failure domain (a value of a dimension in the scenario's 'failures' section) fails independently with its probability over the planning window; a provider's failure takes down all its regions and data centers, a jurisdiction's all its countries. Per trial: demand served within SLO, demand verified by an independent verifier, execution capacity lost, coordination stake lost, consensus halted or fragile, models left with no storage replica. Then the distribution, the probability of each bad event, and which domains drive the worst 5% of trials. See docs/simulate.md.

    Examples:

      [bold]nodeplan simulate failures[/]  (built-in opengradient scenario, 10,000 trials)

      [bold]nodeplan simulate failures net.yaml --trials 100000 --seed 7 --workers 2[/]

      [bold]nodeplan simulate failures --seed 1 --json > mc.json[/]

      [bold]nodeplan simulate failures --trials 200000 --seed 1 --backend ray[/]  (Ray tasks; same numbers)
    """
    from nodeplan.simulation.montecarlo import monte_carlo_failures

    scn = resolve_scenario(scenario)
    console = Console()
    err = Console(stderr=True)
    show_bar = not as_json and err.is_terminal and isinstance(trials, int) and trials >= _PROGRESS_MIN_TRIALS
    run = functools.partial(
        monte_carlo_failures,
        scn,
        trials,
        seed=seed,
        workers=workers,
        slo_target=target,
        tail=tail,
        top=top,
        backend=backend,
        ray_address=ray_address,
    )
    if show_bar:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("sampling chunks", total=None)

            def report(stage: str, done: int, total: int) -> None:
                what = "sampling chunks" if stage == "sampling" else "serving checks (distinct down sets)"
                bar.update(task, description=what, completed=done, total=total)

            result = run(progress=report)
    else:
        result = run()
    if as_json:
        typer.echo(result.to_json())
        return
    print_result(result, console)


simulate_app.command("failures")(failures_cmd)
import nodeplan.commands.simulate_requests  # noqa: E402, F401  (registers "simulate requests")
