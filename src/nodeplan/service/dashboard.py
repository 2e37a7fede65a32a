"""The dashboard page: one self-contained HTML document that works offline.

It reuses the audit report's pieces (:mod:`nodeplan.report.html`): plotly.js inlined from the ``plotly``
package, the vendored ``world_110m`` base map, and the map and concentration figures. The page then asks
its own server for ``/v1/dashboard/figures`` (the live state) and ``/v1/whatif`` (one failure-table row);
nothing is fetched from any other origin.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from plotly.offline import get_plotlyjs

from nodeplan.metrics.audit import AuditResult
from nodeplan.report.html import audit_figures, geo_assets_js
from nodeplan.scenario.model import NodeStatus, Scenario

__all__ = ["WHATIF_DIMENSIONS", "dashboard_figures", "dashboard_html"]

#: Dimensions offered by the what-if control, in this order (those with failure rows).
WHATIF_DIMENSIONS: tuple[str, ...] = ("provider", "country", "asn", "operator", "tee_vendor", "jurisdiction")

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:22px}"
    "#headline{font-size:16px;background:#fff4e5;border-left:4px solid #f0a030;padding:8px 12px}"
    "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px}"
    "th{background:#f4f4f4}section{margin:18px 0}select,button{font-size:14px;margin-right:8px}"
)

_BODY = """
<h1>nodeplan: live network</h1>
<p id="headline">loading…</p>
<p id="live"></p>
<section><div id="fig-map" style="height:520px"></div></section>
<section><div id="fig-concentration"></div></section>
<section id="whatif">
<h2>What if this domain fails?</h2>
<label>dimension <select id="whatif-dimension"></select></label>
<label>value <select id="whatif-value"></select></label>
<button id="whatif-run" type="button">fail it</button><span id="whatif-status"></span>
<table><thead><tr><th>domain</th><th>nodes</th><th>share lost</th><th>capacity lost</th>
<th>demand served in SLO</th><th>verified</th><th>models without replica</th><th>consensus halted</th>
<th>consensus fragile</th></tr></thead>
<tbody><tr id="whatif-row"><td colspan="9">pick a domain and press “fail it”</td></tr></tbody></table>
</section>
"""


@cache
def dashboard_html() -> str:
    """The page (≈4.7 MB: plotly.js and the base map are inlined so it needs no network)."""
    script = (
        resources.files("nodeplan.service").joinpath("assets", "dashboard.js").read_text(encoding="utf-8")
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>nodeplan dashboard</title>'
        f'<link rel="icon" href="data:,"><style>{_STYLE}</style>\n'
        f"<script>{geo_assets_js()}</script>\n<script>{get_plotlyjs()}</script>\n</head><body>{_BODY}"
        f"<script>{script}</script></body></html>\n"
    )


def dashboard_figures(result: AuditResult, scenario: Scenario) -> dict[str, Any]:
    """JSON of the live map and concentration figures, the headline and the what-if choices.

    The map shows the live nodes only (``scenario`` nodes with status ``up``), coloured by provider.
    """
    live = tuple(n for n in scenario.nodes if n.status is NodeStatus.UP)
    figs = audit_figures(result, scenario.model_copy(update={"nodes": live}))
    figs["map"].update_layout(title=f"Live nodes by provider ({len(live)})")
    choices: dict[str, list[str]] = {}
    for dim in WHATIF_DIMENSIONS:
        vals = [r.value for r in result.failure_rows if r.dimension == dim]
        if vals:
            choices[dim] = sorted(vals)
    return {
        "headline": result.headline,
        "nodes": len(scenario.nodes),
        "live_nodes": len(live),
        "map": json.loads(figs["map"].to_json()),
        "concentration": json.loads(figs["concentration"].to_json()),
        "whatif": choices,
    }
