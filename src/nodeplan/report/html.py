"""Self-contained, offline HTML report of an audit: node map, concentration bars, failure heat map.

The page inlines the plotly.js bundle shipped with the ``plotly`` package and the ``world_110m``
topojson of the same plotly.js version (vendored in ``assets/plotly-geo-world_110m.js``, MIT, from the
``plotly.js`` npm package's ``dist/plotly-geo-assets.js``): plotly.js looks a base map up in
``window.PlotlyGeoAssets`` before it would fetch it from its CDN, so the map draws with no network.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from nodeplan.metrics.audit import ALL_ROLES, AuditResult
from nodeplan.model.codes import compile_network
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Scenario

__all__ = [
    "GEO_ASSET",
    "audit_figures",
    "geo_assets_js",
    "render_html",
    "world_topojson",
    "write_html",
]

#: File name of the vendored base map under ``nodeplan/report/assets``.
GEO_ASSET = "plotly-geo-world_110m.js"
_ASSET_PLOTLYJS_VERSION = "4.1.1"  # the plotly.js release the topojson was taken from
_MAX_PROVIDERS = 10  # map colours: the largest providers, then "other" and "unknown"
_MAX_ROWS = 25  # failure rows in the heat map
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
)


@cache
def geo_assets_js() -> str:
    """JavaScript that registers the ``world_110m`` base map in ``window.PlotlyGeoAssets``."""
    return resources.files("nodeplan.report").joinpath("assets", GEO_ASSET).read_text(encoding="utf-8")


def world_topojson() -> dict[str, Any]:
    """The vendored ``world_110m`` topojson as a mapping (e.g. to write ``world_110m.json`` for kaleido)."""
    text = geo_assets_js()
    start = text.index("world_110m =") + len("world_110m =")
    return json.loads(text[start:].strip().rstrip(";"))


def _provider_traces(arrays: ScenarioArrays, codes_col: int) -> list[go.Scattergeo]:
    codes = arrays.dim_codes[:, codes_col]
    names = arrays.dim_values[codes_col]
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    top = [int(i) for i in np.argsort(-counts, kind="stable")[:_MAX_PROVIDERS] if counts[i] > 0]
    groups: list[tuple[str, np.ndarray, str]] = [
        (names[c], codes == c, _PALETTE[i % len(_PALETTE)]) for i, c in enumerate(top)
    ]
    other = (codes >= 0) & ~np.isin(codes, top)
    if other.any():
        groups.append(("other providers", other, "#7f7f7f"))
    if (codes < 0).any():
        groups.append(("unknown provider", codes < 0, "#c7c7c7"))
    traces = []
    ids = np.array(arrays.node_ids, dtype=object)
    for name, mask, colour in groups:
        up = arrays.up[mask]
        traces.append(
            go.Scattergeo(
                lat=arrays.lat[mask],
                lon=arrays.lon[mask],
                mode="markers",
                name=f"{name} ({int(mask.sum())})",
                text=[f"{i}{'' if u else ' (down)'}" for i, u in zip(ids[mask], up, strict=True)],
                hovertemplate="%{text}<br>" + html.escape(name) + "<extra></extra>",
                marker={"size": 6, "color": colour, "opacity": 0.75, "line": {"width": 0}},
            )
        )
    return traces


def _map_figure(arrays: ScenarioArrays) -> go.Figure:
    fig = go.Figure(_provider_traces(arrays, arrays.dim_index("provider")))
    fig.update_geos(
        projection_type="natural earth",
        showcountries=True,
        countrycolor="#9a9a9a",
        showland=True,
        landcolor="#f2efe9",
        showocean=True,
        oceancolor="#dde8f0",
        resolution=110,
    )
    fig.update_layout(
        title="Nodes by provider", height=520, margin={"l": 0, "r": 0, "t": 40, "b": 0}, legend={"x": 0.0}
    )
    return fig


def _concentration_figure(result: AuditResult, role: str) -> go.Figure:
    cuts = [m for m in result.measures if m.role == role]
    ranks = 5
    fig = go.Figure()
    dims = [m.dimension for m in cuts]
    for k in range(ranks):
        x, text = [], []
        for m in cuts:
            top = m.measures.top
            share, name = (top[k][1], top[k][0]) if k < len(top) else (0.0, "")
            x.append(share)
            text.append(name)
        fig.add_bar(
            y=dims,
            x=x,
            orientation="h",
            name=f"#{k + 1}",
            text=text,
            textposition="inside",
            hovertemplate="%{y}: %{text} %{x:.1%}<extra>#" + str(k + 1) + "</extra>",
        )
    rest = [max(0.0, 1.0 - sum(s for _, s in m.measures.top[:ranks])) for m in cuts]
    fig.add_bar(
        y=dims,
        x=rest,
        orientation="h",
        name="rest",
        marker_color="#d9d9d9",
        hovertemplate="%{y}: rest %{x:.1%}<extra></extra>",
    )
    labels = [
        f"{m.dimension} (N={m.measures.nakamoto_50}, eff={m.measures.effective_hhi:.1f})"
        if m.measures.effective_hhi is not None
        else m.dimension
        for m in cuts
    ]
    fig.update_yaxes(tickvals=dims, ticktext=labels, autorange="reversed")
    fig.update_layout(
        barmode="stack",
        title=f"Concentration per dimension ({role}, by {result.weight.value}): top 5 shares",
        xaxis={"tickformat": ".0%", "range": [0, 1]},
        height=80 + 34 * max(len(cuts), 1),
        margin={"l": 10, "r": 10, "t": 40, "b": 30},
    )
    return fig


def _heatmap_figure(result: AuditResult) -> go.Figure:
    rows = result.failure_rows[:_MAX_ROWS]
    base = result.baseline
    cols: list[tuple[str, list[float | None]]] = [
        (f"{result.weight.value} lost", [r.share_lost for r in rows])
    ]
    if result.weight.value != "capacity":
        cols.append(("capacity lost", [r.capacity_lost for r in rows]))
    if result.weight.value != "stake":
        cols.append(("stake lost", [r.stake_lost for r in rows]))
    if base.demand_served is not None:
        cols.append(
            ("SLO demand lost", [max(0.0, base.demand_served - (r.demand_served or 0.0)) for r in rows])
        )
    if base.verified is not None:
        cols.append(("verification lost", [max(0.0, base.verified - (r.verified or 0.0)) for r in rows]))
    cols.append(("models w/o replica", [float(len(r.models_unreplicated) > 0) for r in rows]))
    cols.append(("consensus halted", [None if r.halted is None else float(r.halted) for r in rows]))
    # Columns with nothing to show (no capacity, no stake, no models) would only add white space.
    cols = [(c, v) for c, v in cols if any(x for x in v)] or cols[:1]
    z = np.array([[np.nan if v is None else v for v in vals] for _, vals in cols], dtype=float).T
    y = [f"{r.dimension}={r.value}" for r in rows]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[c for c, _ in cols],
            y=y,
            zmin=0,
            zmax=1,
            colorscale="Reds",
            hovertemplate="%{y}<br>%{x}: %{z:.1%}<extra></extra>",
            colorbar={"tickformat": ".0%"},
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=f"Single-domain failures, worst {len(rows)} by harm",
        height=120 + 22 * max(len(rows), 1),
        margin={"l": 10, "r": 10, "t": 40, "b": 40},
    )
    return fig


def audit_figures(
    result: AuditResult, scenario: Scenario, *, arrays: ScenarioArrays | None = None, role: str | None = None
) -> dict[str, go.Figure]:
    """The three figures of the report: ``map``, ``concentration`` and ``failures``."""
    # colour the map by the providers the audit derived from ASNs, when it derived any
    a = (
        compile_network(scenario, derive_providers=bool(result.derived_providers))
        if arrays is None
        else arrays
    )
    main = role or (result.roles[0] if result.roles else ALL_ROLES)
    return {
        "map": _map_figure(a),
        "concentration": _concentration_figure(result, main),
        "failures": _heatmap_figure(result),
    }


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _summary_html(result: AuditResult) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "role",
            "live nodes",
            "countries",
            "locations",
            "effective independent domains",
            "effective providers",
            "largest provider",
        )
    )
    body = []
    for s in result.summary:
        prov = next(
            (m.measures for m in result.measures if m.dimension == "provider" and m.role == s.role), None
        )
        eff_p = "–" if prov is None or prov.effective_hhi is None else f"{prov.effective_hhi:.1f}"
        known = [(n, x) for n, x in (prov.top if prov else ()) if not n.startswith("unknown")]
        top = f"{html.escape(known[0][0])} {_pct(known[0][1])}" if known else "–"
        eff = "–" if s.effective_domains is None else f"{s.effective_domains:.1f}"
        cells = (html.escape(s.role), s.nodes, s.countries, s.locations, eff, eff_p, top)
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _derived_note(result: AuditResult) -> str:
    if not result.derived_providers:
        return ""
    n = sum(k for _, k in result.derived_providers)
    which = ", ".join(f"{html.escape(p)} {k}" for p, k in result.derived_providers)
    return f" Provider derived from the ASN for {n} node(s): {which}."


def _consensus_note(result: AuditResult) -> str:
    """One paragraph on consensus with no failure and how many single failures halt it or leave it fragile."""
    c = result.baseline_consensus
    if c is None:
        return ""
    rows = result.failure_rows
    state = "halted" if c.halted else ("runs but is fragile" if c.fragile else "runs")
    text = f"Consensus with no failure: {state} ({_pct(c.alive_share)} of the stake alive"
    if c.largest is not None:
        text += (
            f"; largest domain {html.escape(c.largest.dimension)} {html.escape(c.largest.value)} holds "
            f"{_pct(c.largest.share)} of it"
        )
    text += (
        f"). Of {len(rows)} single-domain failures, {sum(1 for r in rows if r.halted)} halt it and "
        f"{sum(1 for r in rows if r.fragile)} leave it running but fragile (one surviving domain holds 1/3 "
        "or more of the surviving stake). The heat map shows halts."
    )
    return f'<p class="consensus">{text}</p>'


def render_html(
    result: AuditResult,
    scenario: Scenario,
    *,
    arrays: ScenarioArrays | None = None,
    role: str | None = None,
    title: str | None = None,
) -> str:
    """The complete report as one HTML string (plotly.js and the base map inlined; no network needed)."""
    if get_plotlyjs_version() != _ASSET_PLOTLYJS_VERSION:
        # The topojson format has been stable across plotly.js releases; record the mismatch in the page.
        note = f"<!-- base map from plotly.js {_ASSET_PLOTLYJS_VERSION}, bundle {get_plotlyjs_version()} -->"
    else:
        note = ""
    figs = audit_figures(result, scenario, arrays=arrays, role=role)
    config = {"displaylogo": False, "responsive": True}
    divs = "\n".join(
        f'<section id="{name}">'
        + fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{name}", config=config)
        + "</section>"
        for name, fig in figs.items()
    )
    page_title = html.escape(title or f"nodeplan audit: {result.scenario}")
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:22px}"
        "p.headline{font-size:16px;background:#fff4e5;border-left:4px solid #f0a030;padding:8px 12px}"
        "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th{background:#f4f4f4}section{margin:18px 0}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{page_title}</title><style>{style}</style>{note}\n"
        f"<script>{geo_assets_js()}</script>\n<script>{get_plotlyjs()}</script>\n</head><body>"
        f'<h1>{page_title}</h1><p class="headline">{html.escape(result.headline)}</p>'
        f"<p>Weight: {html.escape(result.weight.value)}; {result.live_nodes} of {result.nodes} nodes live; "
        f"unknown values: {html.escape(result.unknown_policy.value)}.{_derived_note(result)}</p>"
        f"{_consensus_note(result)}"
        f"{_summary_html(result)}\n{divs}\n</body></html>\n"
    )


def write_html(
    result: AuditResult,
    scenario: Scenario,
    path: str | Path,
    *,
    arrays: ScenarioArrays | None = None,
    role: str | None = None,
) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    p = Path(path)
    p.write_text(render_html(result, scenario, arrays=arrays, role=role), encoding="utf-8")
    return p
