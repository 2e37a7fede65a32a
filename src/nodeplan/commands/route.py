"""``nodeplan route``: where would one request run, how long would it take, what would it cost."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from nodeplan.exceptions import LatencyModelError, RoutingError
from nodeplan.model.matrix_io import load_rtt_matrix
from nodeplan.model.rtt import RttModel, default_rtt_model
from nodeplan.routing.policies import POLICIES
from nodeplan.routing.router import route
from nodeplan.routing.state import RouterState
from nodeplan.routing.types import Request, Route
from nodeplan.scenario.io import resolve_scenario
from nodeplan.scenario.model import Scenario, VerificationMode

__all__ = ["load_measured_rtt", "parse_origin", "route_cmd"]

_LATLON = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?)\s*,\s*([-+]?\d+(?:\.\d*)?)\s*$")


def parse_origin(text: str, scenario: Scenario) -> tuple[str, float, float]:
    """``CITY`` (a demand source of the scenario, any case) or ``LAT,LON`` -> (label, lat, lon).

    >>> from nodeplan.scenario.model import Scenario, Node, DemandSource
    >>> sc = Scenario(nodes=[Node(id="a", lat=0, lon=0, roles={"execution"})],
    ...               sources=[DemandSource(name="Paris", lat=48.86, lon=2.35)])
    >>> parse_origin("paris", sc), parse_origin("-33.9,151.2", sc)
    (('Paris', 48.86, 2.35), ('-33.9,151.2', -33.9, 151.2))
    """
    m = _LATLON.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if abs(lat) > 90 or abs(lon) > 180:
            raise RoutingError(f"--from: {text!r} is outside lat [-90, 90], lon [-180, 180]")
        return text.strip(), lat, lon
    by_name = {s.name.lower(): s for s in scenario.sources}
    src = by_name.get(text.strip().lower())
    if src is not None:
        return src.name, src.lat, src.lon
    near = difflib.get_close_matches(text.strip().lower(), list(by_name), n=4, cutoff=0.5)
    if not near:
        near = [k for k in by_name if text.strip().lower() in k][:4]
    hint = ", ".join(by_name[k].name for k in near) if near else "none; give LAT,LON instead"
    raise RoutingError(f"--from: unknown city {text!r} in scenario {scenario.name!r} (close matches: {hint})")


def load_measured_rtt(path: Path, scenario: Scenario) -> RttModel:
    """The default RTT model with the measured matrix in ``path`` (CSV ``from,to,rtt_ms``) as overrides.

    Raises :class:`LatencyModelError` when the file is unreadable or names no node id or demand source
    of ``scenario`` (a matrix for another scenario would silently change nothing).
    """
    measured = load_rtt_matrix(path)
    known = {n.id for n in scenario.nodes} | {s.name for s in scenario.sources}
    if not known.intersection(measured.names):
        shown = ", ".join(measured.names[:4]) + (", ..." if len(measured.names) > 4 else "")
        raise LatencyModelError(
            f"--rtt-matrix: none of the {len(measured.names)} names in {path} ({shown}) is a node id or "
            f"demand source of scenario {scenario.name!r}"
        )
    return default_rtt_model().with_measured(measured)


def _check_model(model: str, scenario: Scenario) -> None:
    ids = [m.id for m in scenario.models]
    if model in ids:
        return
    near = difflib.get_close_matches(model, ids, n=4, cutoff=0.4) or [
        i for i in ids if model.lower() in i.lower()
    ]
    hint = ", ".join(near) if near else ", ".join(ids) or "none"
    raise RoutingError(f"--model: unknown model {model!r} (close matches: {hint})")


def _node_label(scenario: Scenario, node_id: str) -> str:
    n = scenario.node(node_id)
    bits = [b for b in (n.provider, n.country, n.hardware) if b]
    return f"{node_id} ({', '.join(bits)})" if bits else node_id


def _print_route(console: Console, r: Route, scenario: Scenario, origin: str) -> None:
    t = r.time
    k = len(r.verifiers)
    head = f"{r.model} from {origin}: policy {r.policy}, verification {r.verification.value}"
    head += f" x{k}" if r.verification is not VerificationMode.NONE else ""
    console.print(f"[bold]{head}[/]")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("executor", _node_label(scenario, r.executor) + ("" if t.cold_start_ms else ", model warm"))
    if r.verifiers:
        table.add_row("verifiers", ", ".join(_node_label(scenario, v) for v in r.verifiers))
    table.add_row(
        "model source", r.source or ("none (warm)" if not t.cold_start_ms else "executor's own disk")
    )
    table.add_row(
        "expected time",
        f"{t.total_ms:,.1f} ms = network {t.network_ms:,.1f} + queue {t.queue_ms:,.1f} + cold start "
        f"{t.cold_start_ms:,.1f} + service {t.service_ms:,.1f} + verification {t.verification_ms:,.1f}",
    )
    slo = "none" if r.slo_ms is None else f"{r.slo_ms:,.0f} ms: {'met' if r.meets_slo else 'MISSED'}"
    table.add_row("SLO", slo)
    table.add_row("price", f"${r.price_usd:.8f} per request")
    for p in r.independence.pairs:
        shared = ("shares " + ", ".join(p.shared)) if p.shared else "independent"
        unknown = f" (unknown: {', '.join(p.unknown)})" if p.unknown else ""
        table.add_row("independence", f"{p.a} ~ {p.b}: {shared}{unknown}")
    if r.degraded:
        table.add_row("[red]DEGRADED[/]", r.reason)
    console.print(table)


def _print_compare(console: Console, routes: list[Route], head: str) -> None:
    console.print(f"[bold]{head}[/]")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column("", style="bold", no_wrap=True)
    for r in routes:
        table.add_column(r.policy, justify="right", no_wrap=True)

    def indep(r: Route) -> str:
        shared = sorted({d for p in r.independence.pairs for d in p.shared})
        if not r.verifiers:
            return "-"
        if not r.degraded:
            return "yes"
        return f"NO ({len(shared)} shared)" if shared else "NO (too few)"

    rows: list[tuple[str, Callable[[Route], str]]] = [
        ("executor", lambda r: r.executor),
        ("verifiers", lambda r: ", ".join(r.verifiers) or "-"),
        ("model source", lambda r: r.source or "-"),
        ("network ms", lambda r: f"{r.time.network_ms:,.0f}"),
        ("queue ms", lambda r: f"{r.time.queue_ms:,.0f}"),
        ("cold start ms", lambda r: f"{r.time.cold_start_ms:,.0f}"),
        ("service ms", lambda r: f"{r.time.service_ms:,.0f}"),
        ("verification ms", lambda r: f"{r.time.verification_ms:,.0f}"),
        ("total ms", lambda r: f"{r.time.total_ms:,.0f}"),
        ("SLO", lambda r: "-" if r.slo_ms is None else ("met" if r.meets_slo else "MISSED")),
        ("USD/request", lambda r: f"{r.price_usd:.6f}"),
        ("independent", indep),
    ]
    for label, fn in rows:
        table.add_row(label, *(fn(r) for r in routes))
    console.print(table)


def route_cmd(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model id of the scenario, e.g. llama-3-8b-q4.")
    ],
    origin: Annotated[
        str, typer.Option("--from", help="Where the user is: a city of the scenario (any case) or LAT,LON.")
    ],
    verify: Annotated[
        VerificationMode | None,
        typer.Option(
            "--verify", help="Verification mode; default: the scenario's demand for this model, else none."
        ),
    ] = None,
    verifiers: Annotated[
        int | None,
        typer.Option("--verifiers", "-k", min=0, max=16, help="Number of verifiers K (default 1)."),
    ] = None,
    slo_ms: Annotated[
        float | None,
        typer.Option("--slo-ms", min=0.001, help="Latency objective, ms; default: the scenario's."),
    ] = None,
    policy: Annotated[
        str, typer.Option("--policy", "-p", help=f"Routing policy: {', '.join(POLICIES)}.")
    ] = "nodeplan",
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario file (.yaml/.json) or built-in name.")
    ] = "opengradient",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    compare: Annotated[
        bool, typer.Option("--compare", help="Show every policy's choice for the same request side by side.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random policy.")] = 0,
    rtt_matrix: Annotated[
        Path | None,
        typer.Option(
            "--rtt-matrix",
            help="Measured RTTs, CSV with header from,to,rtt_ms (names: node ids, or city names of the "
            "scenario for user -> node RTTs); they override the fitted RTT where given.",
        ),
    ] = None,
) -> None:
    """Choose executor, verifiers and model source for one request, with its expected time and price.

    Time = network (user -> executor RTT) + queue + cold start (fetch + load + init, 0 when warm) + service
    (x the mode's slowdown) + verification (executor -> verifier RTT + check, or a full re-run for reexec).
    The nodeplan policy minimises it within the SLO, with verifiers that share no provider, ASN, operator,
    data center or TEE vendor with the executor; --compare shows the baselines next to it.

    With --rtt-matrix, measured RTTs replace the fit for node <-> node hops (verifiers, model fetches)
    and, when --from names a city that the file lists, for user -> node.

    Examples: [bold]nodeplan route --model llama-3-8b-q4 --from paris[/]
    [bold]nodeplan route -m llama-3-70b-q4 --from 35.68,139.69 --verify tee -k 1 --compare[/]
    [bold]nodeplan route -m llama-3-8b-q4 --from paris --rtt-matrix pings.csv[/]
    """
    sc = resolve_scenario(scenario)
    _check_model(model, sc)
    label, lat, lon = parse_origin(origin, sc)
    demand = next(
        (d for d in sc.demand if d.model == model and (verify is None or d.verification is verify)), None
    )
    mode = verify if verify is not None else (demand.verification if demand else VerificationMode.NONE)
    k = (
        verifiers
        if verifiers is not None
        else (
            0 if mode is VerificationMode.NONE else (demand.verifiers if demand and demand.verifiers else 1)
        )
    )
    slo = slo_ms if slo_ms is not None else (demand.slo_ms if demand else None)
    rtt = load_measured_rtt(rtt_matrix, sc) if rtt_matrix is not None else None
    city = label if any(s.name == label for s in sc.sources) else None
    state = RouterState.from_scenario(sc, rtt=rtt, seed=seed)
    console = Console(highlight=False, soft_wrap=True)
    names = list(POLICIES) if compare else [policy]
    if policy not in POLICIES:
        raise RoutingError(f"--policy: unknown policy {policy!r} (known: {', '.join(POLICIES)})")
    routes = [
        route(Request(model, lat, lon, mode, k, slo_ms=slo, policy=p, origin=city), state, commit=False)
        for p in names
    ]
    if as_json:
        out = [r.to_dict() for r in routes]
        typer.echo(json.dumps(out if compare else out[0], indent=2))
        return
    if compare:
        head = f"{model} from {label}: verification {mode.value}" + (f" x{k}" if k else "")
        head += f", SLO {slo:,.0f} ms" if slo is not None else ""
        _print_compare(console, routes, head)
        return
    _print_route(console, routes[0], sc, label)
