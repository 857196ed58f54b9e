"""Sensitivity: a setting with no effect gets no bar, a planted flip is found where a scan finds it,
Morris ranks settings, the same seed gives the same tables, and the command writes them or exits 2."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from recovery_sim.cli.sensitivity import register
from recovery_sim.experiments.compare import compare
from recovery_sim.experiments.executors import InlineExecutor
from recovery_sim.experiments.sensitivity import Range, sensitivity
from recovery_sim.settings.config import ConfigError, Policy, Scenario

SEED = 5
REPLICATIONS = 2
PROPENSITY = "behaviour.reminder_cancel_propensity"
NO_TRIALS = Range("behaviour.trial_cancel_share", 0.0, 0.6, 0.2)  # nobody in the world is on a trial
CANCELS = Range(PROPENSITY, 0.0, 0.3, 0.03)


def tiny_world() -> Scenario:
    """Monthly card customers whose cards expire often, no trials, no card updater: a renewal reminder
    both saves payments (customers update the card) and costs some customers (they cancel)."""
    world = Scenario.model_validate(
        {
            "name": "tiny",
            "start_date": "2026-01-01",
            "horizon_months": 6,
            "card_updater_rate": 0.0,
            "cohorts": [
                {
                    "name": "base",
                    "customers": 240,
                    "signup_month": "2025-01",
                    "signup_spread_months": 12,
                    "card_expiry_months_max": 6,
                    "first_attempt_failure_rate": 0.05,
                    "plans": [{"name": "monthly", "price": 4900, "currency": "EUR", "share": 1.0}],
                    "countries": [{"code": "FR", "share": 1.0, "timezone": "Europe/Paris"}],
                    "payment_mix": {"card": 1.0, "sepa_debit": 0.0, "boleto": 0.0},
                }
            ],
        }
    )
    return world.with_setting("behaviour.act_on_email.upcoming_renewal", 0.9)


def policies() -> dict[str, Policy]:
    reminders = (
        Policy.named("none")
        .with_setting("name", "reminders")
        .with_setting("emails.upcoming_renewal", True)
        .with_setting("emails.upcoming_renewal_intervals", ["month"])
    )
    return {"none": Policy.named("none"), "reminders": reminders}


def run(ranges, **options):
    options = {"replications": REPLICATIONS, "seed": SEED, "executor": InlineExecutor()} | options
    return sensitivity(tiny_world(), policies(), ranges, **options)


@pytest.fixture(scope="module")
def oat():
    return run([NO_TRIALS, CANCELS])


def winner(scenario: Scenario) -> str:
    """Who collects the most, by the public compare on the same seed (ties go to the control)."""
    cmp = compare(scenario, policies(), REPLICATIONS, SEED, InlineExecutor())
    means = dict(cmp.table.filter(pl.col("metric") == "collected").select("arm", "mean").iter_rows())
    return "reminders" if means["reminders"] > means["none"] else "none"


def test_a_setting_with_no_effect_gets_no_bar(oat) -> None:
    bars = oat.tornado.group_by("setting").agg(pl.col("swing").max(), pl.col("diff_mean").n_unique())
    swings = dict(bars.select("setting", "swing").iter_rows())
    assert swings[NO_TRIALS.setting] == 0.0
    assert swings[PROPENSITY] > 0.0  # the other range does move the difference
    assert oat.tornado.get_column("setting")[0] == PROPENSITY  # widest bar first


def test_the_tornado_reports_both_ends_against_the_control(oat) -> None:
    rows = oat.tornado.filter(pl.col("setting") == PROPENSITY)
    assert sorted(rows.get_column("end")) == ["high", "low"]
    assert set(rows.get_column("policy")) == {"reminders"} and set(rows.get_column("control")) == {"none"}
    low, high = (rows.filter(pl.col("end") == e).row(0, named=True) for e in ("low", "high"))
    assert (low["value"], high["value"]) == (0.0, 0.3)
    assert low["diff_mean"] > low["default_diff"] > high["diff_mean"]  # more cancellations cost more
    assert low["diff_ci_low"] <= low["diff_mean"] <= low["diff_ci_high"]


def test_a_planted_flip_is_found_where_a_scan_finds_it(oat) -> None:
    flips = oat.flips.filter(pl.col("setting") == PROPENSITY)
    assert flips.height == 1, oat.flips
    flip = flips.row(0, named=True)
    assert (flip["winner_below"], flip["winner_above"]) == ("reminders", "none")
    step = 0.02
    grid = [round(k * step, 4) for k in range(int(CANCELS.high / step) + 1)]
    scan = [winner(tiny_world().with_setting(PROPENSITY, p)) for p in grid]
    assert scan[0] == "reminders" and scan[-1] == "none"
    last = max(i for i, w in enumerate(scan) if w == "reminders")
    tolerance = (CANCELS.high - CANCELS.low) / 2**6  # six bisection steps
    assert grid[last] - tolerance <= flip["flip_value"] <= grid[last + 1] + tolerance
    assert winner(tiny_world().with_setting(PROPENSITY, flip["bracket_low"])) == "reminders"
    assert winner(tiny_world().with_setting(PROPENSITY, flip["bracket_high"])) == "none"
    assert f"It flips when {PROPENSITY} passes" in oat.verdict["EUR"]
    assert "(default 0.03)" in oat.verdict["EUR"]


def test_without_a_flip_the_ranking_holds() -> None:
    pinned = Range("behaviour.fatigue", 0.8, 0.8, 0.8)
    held = run([NO_TRIALS, Range(PROPENSITY, 0.0, 0.01, 0.0), pinned], bisection_steps=0)
    assert held.flips.is_empty() and held.fixed == [pinned.setting]
    assert pinned.setting not in set(held.tornado.get_column("setting"))
    assert held.verdict["EUR"].startswith("The ranking holds across every range")


def test_morris_gives_one_row_per_setting_with_mu_star_at_least_zero() -> None:
    ranges = [NO_TRIALS, CANCELS, Range("behaviour.act_on_email.upcoming_renewal", 0.3, 1.0, 0.9)]
    found = run(ranges, method="morris", replications=1, trajectories=3)
    assert sorted(found.morris.get_column("setting")) == sorted(r.setting for r in ranges)
    assert (found.morris.get_column("mu_star") >= 0).all()
    mu_star = dict(found.morris.select("setting", "mu_star").iter_rows())
    assert mu_star[NO_TRIALS.setting] == 0.0 and mu_star[PROPENSITY] > 0.0
    assert found.tornado.is_empty() and "EUR" in found.verdict


def test_the_same_seed_gives_identical_tables(oat) -> None:
    again = run([NO_TRIALS, CANCELS])
    assert again.tornado.equals(oat.tornado) and again.flips.equals(oat.flips)
    assert again.verdict == oat.verdict


def test_progress_counts_every_unit_to_the_end() -> None:
    calls: list[tuple[int, int]] = []
    run([CANCELS], replications=1, bisection_steps=2, progress=lambda d, t: calls.append((d, t)))
    done, total = calls[-1]
    assert done == total == len(calls) == 2 * (3 + 2)  # policies × (default, low, high, two steps)


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([Range("behaviour.no_such_rate", 0.0, 1.0, 0.5)], "no setting 'behaviour.no_such_rate'"),
        ([Range(PROPENSITY, 0.2, 0.1, 0.15)], "low (0.2) must not be above high (0.1)"),
        ([Range(PROPENSITY, 0.1, 0.1, 0.1)], "nothing to vary"),
        ([Range(PROPENSITY, 0.0, 1.5, 0.03)], PROPENSITY),
        ([], "at least one range"),
    ],
)
def test_bad_ranges_are_refused_before_any_run(ranges, message) -> None:
    with pytest.raises(ConfigError) as problem:
        run(ranges, executor=None)  # no pool is started: the check comes first
    assert message in str(problem.value)


app = typer.Typer()
register(app)
TINY = ["--customers", "200", "--months", "2", "-r", "1", "--workers", "1", "-p", "none", "-p", "all-on"]


def test_the_command_writes_its_tables(tmp_path: Path) -> None:
    out = tmp_path / "sens"
    args = ["sensitivity", *TINY, "--range", f"{PROPENSITY}=0:0.1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    tornado = pl.read_csv(out / "tornado.csv")
    assert set(tornado.get_column("setting")) == {PROPENSITY}
    assert pl.read_parquet(out / "tornado.parquet").height == tornado.height == 4  # low, high × EUR, BRL
    assert {p.name for p in out.iterdir()} >= {"flips.csv", "morris.parquet", "verdict.csv"}
    assert "EUR:" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--range", "behaviour.nope=0:1"], "no setting 'behaviour.nope'"),
        (["--range", "behaviour.fatigue"], "expected setting=low:high"),
        (["--method", "sobol"], "--method must be one of oat, morris"),
    ],
)
def test_the_command_exits_2_on_bad_input(tmp_path: Path, extra: list[str], message: str) -> None:
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["sensitivity", *TINY, *extra, "--out", str(out)])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output
    assert not out.exists()


def test_the_tornado_chart_starts_each_bar_at_the_defaults(oat) -> None:
    from recovery_sim.analysis import charts

    spec = charts.tornado(oat.tornado, "EUR").to_dict()
    assert spec["facet"]["row"]["field"] == "policy"
    bars = spec["spec"]["layer"][0]
    assert bars["mark"]["type"] == "bar"
    assert (bars["encoding"]["x"]["field"], bars["encoding"]["x2"]["field"]) == (
        "default_diff_major",
        "diff_mean_major",
    )
    assert bars["encoding"]["y"]["sort"][0].startswith(PROPENSITY)  # widest first
    values = next(iter(spec["datasets"].values()))
    flat = [v for v in values if v["setting"] == NO_TRIALS.setting]
    assert flat and all(v["default_diff_major"] == v["diff_mean_major"] for v in flat)  # no bar
    moved = [v for v in values if v["setting"] == PROPENSITY and v["end"] == "high"]
    assert moved[0]["diff_mean_major"] == pytest.approx(moved[0]["diff_mean"] / 100)  # euros, not cents


def test_the_report_section_says_how_robust_the_verdict_is(tmp_path: Path) -> None:
    from recovery_sim.analysis import report

    section = report.robustness(
        tiny_world(), policies(), tmp_path, [NO_TRIALS, CANCELS],
        replications=REPLICATIONS, seed=SEED, executor=InlineExecutor(),
    )  # fmt: skip
    assert (tmp_path / section["figure"].file).read_text().startswith("<svg")
    assert pl.read_csv(tmp_path / "sensitivity" / "flips.csv").height == 1
    report.flag_other_winners(section, [{"currency": "EUR", "winner": "reminders"}])  # agrees: no note
    html = report._environment().get_template("robustness.html.j2").render(robustness=section)
    assert "How robust is this verdict?" in html and "240 customers over 6 months" in html
    assert f"It flips when {PROPENSITY} passes" in html and "full comparison" not in html
    report.flag_other_winners(section, [{"currency": "EUR", "winner": "none"}])
    assert "not none as in the full comparison" in section["verdicts"][0]["sentence"]
    assert report.robustness(tiny_world(), {"none": Policy.named("none")}, tmp_path) is None
