"""The HTML report: what it says, the files beside it, and that it opens cleanly in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import PageProblems, chromium_context  # tests/ is on sys.path (rootdir conftest)

from recovery_sim.analysis.report import REPORT_POLICIES, build_report, verdict
from recovery_sim.experiments.compare import compare
from recovery_sim.experiments.executors import InlineExecutor
from recovery_sim.settings.config import Policy


@pytest.fixture(scope="module")
def report(tmp_path_factory, small_scenario) -> Path:
    out = tmp_path_factory.mktemp("report")
    seen = []
    index = build_report(out, scenario=small_scenario, replications=3, seed=5, executor=InlineExecutor(),
                         progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen[-1][0] == seen[-1][1] == len(REPORT_POLICIES) * 3 * 1  # one shard of 600 customers
    return index


def test_report_files_are_complete(report: Path) -> None:
    folder = report.parent
    assert report.name == "index.html"
    charts = sorted(p.name for p in (folder / "charts").iterdir())
    assert charts == ["decline-eur.svg", "funnel-eur.svg", "month-eur.svg", "revenue-brl.svg",
                      "revenue-eur.svg", "time-eur.svg"]  # fmt: skip
    assert (folder / "table.csv").stat().st_size > 0 and (folder / "replicates.parquet").stat().st_size > 0
    assert not list(folder.rglob("*.tmp"))
    assert oct(report.stat().st_mode & 0o777) == "0o644"


def test_report_states_the_winner_with_a_paired_interval(report: Path) -> None:
    html = report.read_text()
    assert re.search(r"<strong>[\w-]+</strong> collects the most EUR\.", html)
    assert "paired 95% CI" in html
    assert "3 replications" in html or "simulated 3 times" in html
    for policy in REPORT_POLICIES:
        assert f'<th scope="row">{policy}</th>' in html
    # One plain-language reading per chart, and no template placeholders left behind.
    assert html.count("<figcaption>") == 7
    assert "{{" not in html and "{%" not in html


@pytest.mark.browser
def test_report_opens_in_chromium_without_errors(report: Path) -> None:
    with chromium_context(viewport={"width": 1280, "height": 900}) as context:
        problems = PageProblems()
        page = problems.watch(context.new_page())
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => ({src: i.getAttribute('src'), "
            "ok: i.complete && i.naturalWidth > 0}))"
        )
        heading = page.text_content("h1")
    assert not problems, problems
    assert len(images) == 7 and all(image["ok"] for image in images), images
    assert heading == "Which customer emails recover the most revenue?"


def test_verdict_without_intervals_or_rivals(small_scenario) -> None:
    tiny = small_scenario.scaled(customers=200, months=2)
    policies = {name: Policy.named(name) for name in ("none", "all-on")}
    once = compare(tiny, policies, replications=1, seed=1, executor=InlineExecutor())
    assert "a single replication, so no interval" in verdict(once, "EUR")["sentence"]
    alone = compare(tiny, {"all-on": policies["all-on"]}, replications=2, seed=1, executor=InlineExecutor())
    assert verdict(alone, "EUR")["sentence"].startswith("Only one policy was run")
