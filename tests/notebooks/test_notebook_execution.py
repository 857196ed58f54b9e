"""Every notebook runs top to bottom, on small parameters, in a kernel of the project's Python; then
each executed notebook is opened in JupyterLab and as an HTML export in headless Chromium with the
network cut off, and every chart must have drawn.

Executing is the slow part, so each notebook runs once per module (`executed`) and both checks read
the result; keeping them in one file keeps them on one test worker (`--dist loadfile`).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from browser_support import chromium_context
from lab_support import jupyter_lab
from nbconvert import HTMLExporter
from nbformat.sign import NotebookNotary
from notebook_browser import ChartCheck, chart_count, check_charts, offline
from notebook_support import SMALL, execute, notebook_names, read_notebook, stream_text

NEEDS = {
    "04-email-preview": ["recovery_sim.emails.samples", "recovery_sim.emails.render"],
    "05-stripe-replay": [
        "recovery_sim.stripe.export",
        "recovery_sim.stripe.importer",
        "recovery_sim.stripe.replay",
        "recovery_sim.stripe.calibrate",
    ],
}
"""Modules a notebook needs beyond the core; until they exist the notebook is an expected failure."""
CHARTS = {
    "01-quickstart": 1,
    "02-policy-what-if": 2,
    "03-recovery-analysis": 7,
    "04-email-preview": 0,
    "05-stripe-replay": 1,
}
"""Charts each notebook draws at the test sizes: a notebook losing one is caught."""
PREFIX = "import sys\nprint(sys.prefix)"


def _missing(name: str) -> list[str]:
    return [m for m in NEEDS.get(name, []) if importlib.util.find_spec(m) is None]


def _cases() -> list:
    cases = []
    for name in notebook_names():
        missing = _missing(name)
        marks = [pytest.mark.xfail(reason=f"waits for {', '.join(missing)}", run=False)] if missing else []
        cases.append(pytest.param(name, marks=marks, id=name))
    return cases


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


@pytest.fixture(scope="module")
def executed(kernel_name: str, workdir: Path) -> Callable[[str], nbformat.NotebookNode]:
    """Run a notebook once (small sizes from the environment, files under `workdir`); later calls
    return the same executed notebook, also saved as `workdir/run/<name>.ipynb`."""
    done: dict[str, nbformat.NotebookNode] = {}
    (workdir / "run").mkdir()

    def run(name: str) -> nbformat.NotebookNode:
        if name not in done:
            nb = read_notebook(name)
            nb.cells.append(nbformat.v4.new_code_cell(PREFIX))
            with pytest.MonkeyPatch.context() as env:
                for key, value in SMALL.items():
                    env.setenv(key, value)
                env.setenv("RECOVERY_SIM_OUTPUT", str(workdir / "out"))
                env.setenv("TMPDIR", str(workdir))  # the Stripe notebook's sample export goes here
                execute(nb, kernel_name, workdir)
            done[name] = nb
            nbformat.write(nb, workdir / "run" / f"{name}.ipynb")
        return done[name]

    return run


@pytest.mark.parametrize("name", _cases())
def test_notebook_runs(name: str, executed, workdir: Path):
    nb = executed(name)
    assert stream_text(nb.cells[-1]).strip() == sys.prefix, "the kernel is not the project's Python"
    assert chart_count(nb) == CHARTS[name], f"{name} drew {chart_count(nb)} charts"
    written = sorted(p.name for p in (workdir / "out").rglob("*") if p.is_file())
    if name == "03-recovery-analysis":
        assert any(n.endswith(".png") for n in written) and any(n.endswith(".svg") for n in written)
    if name == "05-stripe-replay":
        assert "calibrated.toml" in written


@pytest.fixture(scope="module")
def browser():
    with chromium_context(viewport={"width": 1280, "height": 1000}) as context:
        yield context


@pytest.fixture(scope="module")
def lab(workdir: Path):
    """JupyterLab on a folder the executed notebooks are copied into, signed (trusted) as a notebook
    the user ran is; it starts no kernel, so the page shows what was saved."""
    root = workdir / "lab-root"
    root.mkdir()
    with jupyter_lab(root, workdir / "lab", starts_kernels=False) as server:
        yield server, root


@pytest.mark.browser
@pytest.mark.parametrize("name", _cases())
def test_charts_draw_offline_in_jupyterlab(name: str, executed, lab, browser):
    server, root = lab
    nb = executed(name)
    NotebookNotary(data_dir=str(server.data_dir)).sign(nb)
    nbformat.write(nb, root / f"{name}.ipynb")
    with offline(browser, allow=server.url) as page:
        page.goto(server.page(f"lab/tree/{name}.ipynb") + "&reset")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        check = check_charts(page, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook", CHARTS[name])
    check.assert_ok(name, live=True)


@pytest.mark.browser
@pytest.mark.parametrize("name", _cases())
def test_charts_draw_offline_in_the_html_export(name: str, executed, workdir: Path, browser):
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(executed(name))
    export = workdir / "html" / f"{name}.html"
    export.parent.mkdir(exist_ok=True)
    export.write_text(body)
    # The page template itself links require.js and MathJax (for widgets and maths); charts need neither.
    template_assets = (HTMLExporter.require_js_url.default_value, HTMLExporter.mathjax_url.default_value)
    with offline(browser, allow="file://", tolerate=template_assets) as page:
        page.goto(export.as_uri())
        check: ChartCheck = check_charts(page, "body", CHARTS[name])
    check.assert_ok(name, live=True)


@pytest.mark.browser
def test_an_untrusted_notebook_still_shows_its_charts(executed, lab, browser):
    """Opened from elsewhere (not signed here), JupyterLab runs no script of the notebook: each chart
    then stays the static SVG drawn in the kernel, never an error or a blank."""
    server, root = lab
    copy = nbformat.from_dict(executed("01-quickstart"))
    copy.metadata["title"] = (
        "a copy from elsewhere"  # other content: the signature of the original no longer fits
    )
    nbformat.write(copy, root / "untrusted.ipynb")
    with offline(browser, allow=server.url) as page:
        page.goto(server.page("lab/tree/untrusted.ipynb") + "&reset")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .rs-chart img", timeout=60_000)
        check = check_charts(page, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook", 1, live=False)
    check.assert_ok("untrusted 01-quickstart", live=False)
    assert all(chart["drawn"] == "" and chart["static"] for chart in check.charts), check.charts
