// nodeplan dashboard: draws the figures of /v1/dashboard/figures and runs the what-if control.
// Plain browser JavaScript, no framework; every request goes to the page's own origin.
"use strict";

function pct(x) {
  return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%";
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

async function getJSON(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

let valuesByDim = {};

function fillValues() {
  const dim = document.getElementById("whatif-dimension").value;
  const sel = document.getElementById("whatif-value");
  sel.replaceChildren();
  for (const v of valuesByDim[dim] || []) {
    const opt = document.createElement("option");
    opt.value = v;
    opt.textContent = v;
    sel.appendChild(opt);
  }
}

async function runWhatIf() {
  const dim = document.getElementById("whatif-dimension").value;
  const val = document.getElementById("whatif-value").value;
  const status = document.getElementById("whatif-status");
  status.textContent = "…";
  try {
    const q = new URLSearchParams({ dimension: dim, value: val });
    const w = await getJSON("/v1/whatif?" + q.toString());
    const r = w.row;
    const cells = [
      r.dimension + "=" + r.value,
      String(r.nodes),
      pct(r.share_lost),
      pct(r.capacity_lost),
      pct(r.demand_served) + " (baseline " + pct(w.baseline.demand_served) + ")",
      pct(r.verified) + " (baseline " + pct(w.baseline.verified) + ")",
      r.models_unreplicated.length ? r.models_unreplicated.join(", ") : "none",
      r.halted === null ? "–" : r.halted ? "HALTED" : "no",
      r.fragile === null
        ? "–"
        : r.fragile
          ? "fragile (" + r.largest_surviving.dimension + " " + r.largest_surviving.value + " " +
            pct(r.largest_surviving.share) + " of surviving stake)"
          : "no",
    ];
    const row = document.getElementById("whatif-row");
    row.replaceChildren();
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c;
      row.appendChild(td);
    }
    row.dataset.domain = r.dimension + "=" + r.value;
    status.textContent = "";
  } catch (err) {
    status.textContent = String(err.message || err);
  }
}

async function load() {
  const figs = await getJSON("/v1/dashboard/figures");
  setText("headline", figs.headline);
  setText("live", figs.live_nodes + " of " + figs.nodes + " nodes live");
  const cfg = { displaylogo: false, responsive: true };
  await Plotly.newPlot("fig-map", figs.map.data, figs.map.layout, cfg);
  await Plotly.newPlot("fig-concentration", figs.concentration.data, figs.concentration.layout, cfg);
  valuesByDim = figs.whatif;
  const dimSel = document.getElementById("whatif-dimension");
  for (const d of Object.keys(valuesByDim)) {
    const opt = document.createElement("option");
    opt.value = d;
    opt.textContent = d;
    dimSel.appendChild(opt);
  }
  fillValues();
  dimSel.addEventListener("change", fillValues);
  document.getElementById("whatif-run").addEventListener("click", runWhatIf);
  document.body.dataset.ready = "1";
}

load().catch((err) => setText("headline", "error: " + (err.message || err)));
