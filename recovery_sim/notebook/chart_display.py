"""Altair charts that draw in a notebook with no network: the Vega libraries travel with each chart.

Altair's default renderer loads Vega from a CDN, so offline (and in HTML exports read offline) every
chart shows "Error loading script". This renderer puts into each chart's HTML output the Vega, Vega-Lite
and Vega-Embed bundle that vl-convert ships (gzipped, about 0.4 MB per chart; unpacked once per page),
and a static SVG drawn by vl-convert that the live, interactive chart (tooltips included) replaces. A
front end that runs no scripts, such as an untrusted notebook in JupyterLab, still shows the SVG (as an
image: JupyterLab's sanitizer removes inline SVG but keeps a data-URI image).
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
from collections.abc import Sequence
from pathlib import Path

RENDERER = "recovery-sim"
EMBED_OPTIONS = {"renderer": "svg", "actions": False}
"""SVG keeps charts crisp in exports; no action menu, since its editor link needs the network."""

_SCRIPT = """
(function () {
  const box = document.currentScript.previousElementSibling;
  const bundle = "%(bundle)s";
  async function unpack() {
    const bytes = Uint8Array.from(atob(bundle), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    new Function(await new Response(stream).text())();
    return window.vegaEmbed;
  }
  window.recoverySimVega = window.recoverySimVega || unpack();
  window.recoverySimVega
    .then((embed) => embed(box.querySelector(".rs-chart-live"), %(spec)s, %(options)s))
    .then(() => { box.querySelector(".rs-chart-static").remove(); box.dataset.drawn = "live"; })
    .catch((error) => { box.dataset.drawn = "static"; console.warn("recovery_sim chart:", error); });
})();
"""


@functools.cache
def _bundle() -> str:
    """vl-convert's Vega-Embed bundle, gzipped and base64-encoded (built once per process)."""
    import vl_convert as vlc

    return base64.b64encode(gzip.compress(vlc.javascript_bundle().encode(), 9)).decode("ascii")


def chart_html(spec: dict) -> str:
    """The HTML of one chart: a static SVG, then the live chart once the bundled Vega has drawn it."""
    import vl_convert as vlc

    svg = base64.b64encode(vlc.vegalite_to_svg(spec).encode()).decode("ascii")
    title = html.escape(_title(spec), quote=True)
    script = _SCRIPT % {
        "bundle": _bundle(),
        "spec": _json_for_script(spec),
        "options": json.dumps(EMBED_OPTIONS),
    }
    return (
        f'<div class="rs-chart" role="figure" aria-label="{title}"><div class="rs-chart-static">'
        f'<img src="data:image/svg+xml;base64,{svg}" alt="{title}"></div><div class="rs-chart-live"></div>'
        f"</div><script>{script}</script>"
    )


def render(spec: dict, **metadata) -> dict[str, str]:
    """The altair renderer: HTML (static SVG + live chart) and a plain-text line for text front ends."""
    return {"text/html": chart_html(spec), "text/plain": f"<chart: {_title(spec) or 'untitled'}>"}


def enable() -> None:
    """Make every altair chart draw offline from now on (`alt.renderers.enable("default")` undoes it)."""
    import altair as alt

    if RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, render)
    alt.renderers.enable(RENDERER)


def enable_in_notebook() -> None:
    """On `import recovery_sim` in a notebook kernel: enable, unless someone chose a renderer already."""
    import altair as alt

    if alt.renderers.active == "default":
        enable()


def _title(spec: dict) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if not title:
        for key in ("hconcat", "vconcat", "layer", "concat"):
            parts = spec.get(key) or []
            title = next((t for t in map(_title, parts) if t), "")
            if title:
                break
    return " ".join(title) if isinstance(title, list) else str(title or "")


def _json_for_script(value: dict) -> str:
    """JSON that cannot close the script tag it sits in."""
    return json.dumps(value).replace("</", "<\\/")


def save(chart, folder: str | Path, name: str, formats: Sequence[str] = ("png", "svg")):
    """Write `chart` into `folder` as `name.png` and `name.svg` (no browser needed), and return it so
    a notebook cell both keeps the files and shows the chart."""
    from recovery_sim.analysis import charts

    for suffix in formats:
        charts.export(chart, Path(folder) / f"{name}.{suffix}")
    return chart
