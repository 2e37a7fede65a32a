"""The dashboard in real headless Chromium, served by the running service on loopback (``-m browser``).

Checks: no console errors, no request leaves 127.0.0.1, the map draws country geometry and one point per
live node, the what-if control shows the failure-table row of the chosen domain after a click, and the
screenshot is not blank.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from nodeplan.scenario.io import load_builtin
from nodeplan.service import ServerThread, ServiceSettings, create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ADMIN = "admin-token-for-tests-0123456789"

_PIXEL_STATS = """async (b64) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.width; c.height = img.height;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0, s = 0, s2 = 0;
  for (let i = 0; i < d.length; i += 4) { const g = (d[i] + d[i + 1] + d[i + 2]) / 3; n++; s += g; s2 += g * g; }
  const mean = s / n;
  return {mean: mean, variance: s2 / n - mean * mean, width: c.width};
}"""


def test_dashboard_page_is_self_contained(tmp_path: Path) -> None:
    st = ServiceSettings(db_path=tmp_path / "d.db", admin_token=ADMIN, clock=lambda: 1.0e9)
    with ServerThread(create_app(st)) as srv, httpx.Client(base_url=srv.url) as c:
        page = c.get("/").text
    assert "https://" not in page.split("<script>", 1)[0]  # no external stylesheet or script in the head
    assert '<script src="http' not in page
    assert "PlotlyGeoAssets" in page
    assert 'id="whatif-run"' in page


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed at /usr/bin/chromium")
def test_dashboard_in_headless_chromium(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    sc = load_builtin()
    n_aws = sum(n.provider == "aws" for n in sc.nodes)
    n_de = sum(n.country == "DE" for n in sc.nodes)
    st = ServiceSettings(db_path=tmp_path / "d.db", admin_token=ADMIN, clock=lambda: 1.0e9)
    ARTIFACTS.mkdir(exist_ok=True)
    with ServerThread(create_app(st)) as srv:
        with httpx.Client(base_url=srv.url) as c:  # one node down: the map shows live nodes only
            r = c.put(
                "/v1/nodes/cpu-hetzner-fsn-1/status",
                json={"status": "down"},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            assert r.status_code == 200
        n_live = len(sc.nodes) - 1
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1400})
                errors: list[str] = []
                requests: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("requestfailed", lambda r: errors.append(f"failed request {r.url}"))
                page.on("request", lambda r: requests.append(r.url))
                page.goto(srv.url + "/")
                wait = 60_000  # generous: the 2-core machine is shared; never a fixed sleep
                page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=wait)
                page.wait_for_function(
                    "() => ['countries', 'land'].every(c => "
                    "(document.querySelector('#fig-map g.' + c + ' path')?.getAttribute('d') || '').length > 0)",
                    timeout=wait,
                )
                lengths = page.evaluate(
                    "() => ['countries', 'land'].map(c => "
                    "(document.querySelector('#fig-map g.' + c + ' path')?.getAttribute('d') || '').length)"
                )
                assert min(lengths) > 50_000, lengths  # real country geometry from the vendored topojson
                assert page.locator("#fig-map .scattergeo path.point").count() == n_live
                assert page.locator("#fig-concentration .bars path").count() > 10
                assert page.locator("#live").inner_text() == f"{n_live} of {len(sc.nodes)} nodes live"

                page.select_option("#whatif-dimension", "provider")
                page.select_option("#whatif-value", "aws")
                page.click("#whatif-run")
                page.wait_for_function(
                    "() => document.getElementById('whatif-row').dataset.domain === 'provider=aws'",
                    timeout=wait,
                )
                cells = page.locator("#whatif-row td").all_inner_texts()
                assert cells[0] == "provider=aws"
                assert cells[1] == str(n_aws)
                assert cells[2] == f"{100 * n_aws / n_live:.1f}%"  # weight = node count of live nodes

                page.select_option("#whatif-dimension", "country")
                page.select_option("#whatif-value", "DE")
                page.click("#whatif-run")
                page.wait_for_function(
                    "() => document.getElementById('whatif-row').dataset.domain === 'country=DE'",
                    timeout=wait,
                )
                cells = page.locator("#whatif-row td").all_inner_texts()
                assert cells[1] == str(n_de - 1)  # the downed Hetzner node is in DE

                assert errors == []
                assert [u for u in requests if not u.startswith(srv.url)] == []
                shot = ARTIFACTS / "service_dashboard.png"
                png = page.screenshot(path=str(shot), full_page=True)
                stats = page.evaluate(_PIXEL_STATS, base64.b64encode(png).decode())
                assert stats["width"] == 1280
                assert stats["variance"] > 100.0, stats  # a blank page has variance 0
            finally:
                browser.close()
