"""Shared harness of the headless-Chromium tests: launch flags, event capture, non-blank screenshots.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``scripts/test``), driven by Playwright with
``executable_path``; Playwright's own browser download is never used.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Generous wait for what a figure draws (the 2-core machine is shared); tests never sleep a fixed time.
WAIT_MS = 60_000

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium not installed at /usr/bin/chromium"
)

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
  return {mean: mean, variance: s2 / n - mean * mean, width: c.width, height: c.height};
}"""


@dataclass
class Session:
    """An open page with what it logged: console/page errors and failed requests, and every request URL."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def screenshot_stats(self, name: str) -> dict[str, float]:
        """Save a full-page screenshot as ``artifacts/<name>`` and return its size and grey-level variance
        (0 for a blank page), measured in the page itself (no image library needed)."""
        ARTIFACTS.mkdir(exist_ok=True)
        png = self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        stats: dict[str, float] = self.page.evaluate(_PIXEL_STATS, base64.b64encode(png).decode())
        return stats


@contextmanager
def chromium_page(width: int = 1280, height: int = 1400) -> Iterator[Session]:
    """Launch headless Chromium and yield a :class:`Session` on a new page; the browser is always closed."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            s = Session(page)
            page.on("console", lambda m: s.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: s.errors.append(str(e)))
            page.on("requestfailed", lambda r: s.errors.append(f"failed request {r.url}"))
            page.on("request", lambda r: s.requests.append(r.url))
            yield s
        finally:
            browser.close()
