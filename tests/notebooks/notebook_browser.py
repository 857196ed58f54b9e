"""Looking at notebooks in headless Chromium with the network cut off: did every chart draw?

Every request that does not go to the allowed origin (the local JupyterLab, or file:// for an export)
is aborted and recorded, so a chart that needed a CDN fails twice: it does not draw, and the request
shows up. A chart "drew" when the offline renderer marked it (`data-drawn="live"`: the bundled Vega
replaced the static SVG, tooltips included) and its SVG holds marks; where no script may run (an
untrusted notebook), the static SVG image must have loaded instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import nbformat

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # no Playwright: the browser tests skip (or fail under REQUIRE_BROWSER=1) before any wait
    PlaywrightTimeout = TimeoutError

DRAW_SECONDS = 60
ERROR_TEXTS = ("Error loading script", "Javascript Error", "Traceback (most recent call last)")
PASSTHROUGH = ("data:", "blob:", "about:")
_CHART = 'class="rs-chart"'


def chart_count(nb: nbformat.NotebookNode) -> int:
    """Charts in an executed notebook's outputs (the offline renderer's HTML)."""
    return sum(
        output.get("data", {}).get("text/html", "").count(_CHART)
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )


@dataclass
class ChartCheck:
    expected: int
    charts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    tooltip: str | None = None
    remote: list[str] = field(default_factory=list)

    def assert_ok(self, name: str, live: bool) -> None:
        assert not self.remote, f"{name}: requests left the machine: {self.remote}"
        assert not self.errors, f"{name}: error text on the page: {self.errors}"
        assert len(self.charts) == self.expected, (
            f"{name}: {len(self.charts)} charts, expected {self.expected}"
        )
        for i, chart in enumerate(self.charts):
            assert chart["marks"] > 0 and chart["width"] > 50, f"{name}: chart {i} is empty: {chart}"
            if live:
                assert chart["drawn"] == "live", f"{name}: chart {i} did not draw live: {chart}"
        if live and self.expected:
            assert self.tooltip, f"{name}: hovering a mark of the first chart showed no tooltip"


@contextmanager
def offline(context: Any, allow: str, tolerate: tuple[str, ...] = ()) -> Iterator[Any]:
    """A new page that may only reach `allow`; other requests are aborted and, unless they start with
    one of `tolerate`, reported as `page.remote_requests`."""
    page = context.new_page()
    remote: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith((allow, *PASSTHROUGH)):
            request_route.continue_()
            return
        if not url.startswith(tolerate):
            remote.append(url)
        request_route.abort()

    page.route("**/*", route)
    page.remote_requests = remote
    try:
        yield page
    finally:
        page.close()


def check_charts(page: Any, scope: str, expected: int, live: bool = True) -> ChartCheck:
    """Wait for `expected` charts under `scope` to settle (`live`: drawn by the bundled Vega), then
    report on each; hover the first."""
    check = ChartCheck(expected)
    charts = f"{scope} .rs-chart"
    if expected and _settles(
        page, "([sel, n]) => document.querySelectorAll(sel).length >= n", [charts, expected]
    ):
        for box in page.locator(charts).all():  # scroll each into view: a lazily drawn output draws now
            box.scroll_into_view_if_needed()
            if live:
                _settles(page, "(el) => el.dataset.drawn", box.element_handle())
    check.charts = page.eval_on_selector_all(
        charts,
        """boxes => boxes.map(b => {
            const svg = b.querySelector('.rs-chart-live svg');
            const image = b.querySelector('.rs-chart-static img');
            const shown = svg || image;
            const box = shown ? shown.getBoundingClientRect() : {width: 0};
            const marks = svg ? svg.querySelectorAll('path, rect, line, text').length
                : (image && image.complete && image.naturalWidth > 0 ? 1 : 0);
            return {drawn: b.dataset.drawn || '', width: box.width, marks: marks, static: !svg && !!image};
        })""",
    )
    text = page.inner_text(scope)
    check.errors = [t for t in ERROR_TEXTS if t in text]
    if expected and live:
        check.tooltip = _hover_first_mark(page, charts)
    check.remote = list(page.remote_requests)
    return check


def _settles(page: Any, condition: str, arg: Any) -> bool:
    """Wait for `condition`; on timeout go on, so that the check reports what the page shows instead."""
    try:
        page.wait_for_function(condition, arg=arg, timeout=DRAW_SECONDS * 1000)
    except PlaywrightTimeout:
        return False
    return True


def _hover_first_mark(page: Any, charts: str) -> str | None:
    """Move the mouse over marks of the first chart until Vega's tooltip shows; its text, or None."""
    marks = page.locator(f"{charts} >> nth=0").locator(".rs-chart-live svg [role=graphics-symbol]")
    for index in range(min(marks.count(), 12)):
        mark = marks.nth(index)
        mark.scroll_into_view_if_needed()
        mark.hover(force=True)
        tooltip = page.locator("#vg-tooltip-element.visible")
        try:
            tooltip.wait_for(timeout=1500)
        except PlaywrightTimeout:  # no tooltip on this mark: try the next
            continue
        return re.sub(r"\s+", " ", html.unescape(tooltip.inner_text())).strip()
    return None
