"""The bad-input catalogue: every way a user can hand the CLI something wrong, as data.

Each `Case` is one command line run against the real `recovery-sim` CLI in an empty folder (`{tmp}`),
after writing `files` (and calling `prepare`, for copied Stripe exports). Every case must exit with
code 2, print a message containing each fragment of `expect` (which name the file, the field or line,
and what is allowed), print no traceback, and leave the output path untouched: `out` must not exist
afterwards, and a pre-existing output file (`keep`) keeps its bytes and its mtime.

`docs/errors.md` is generated from this table: `python tests/bad_inputs/bad_input_cases.py > docs/errors.md`
(test_bad_inputs.py checks the document is up to date).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STRIPE_SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "stripe" / "sample"
STRIPE_DASHBOARD = Path(__file__).resolve().parents[1] / "fixtures" / "stripe" / "dashboard"


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    what: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    prepare: Callable[[Path], None] | None = None
    out: str | None = "out"
    """Output path (relative to {tmp}) that must not exist after the run."""
    keep: str | None = None
    """Output file (relative to {tmp}) created before the run that must keep its bytes and mtime."""
    needs: str | None = None
    """A sub-command that must be mounted on the CLI (the case is skipped until it is)."""


# ------------------------------------------------------------------------------------------ inputs

SCENARIO = """\
name = "tiny"
start_date = "2026-01-01"
horizon_months = 3
account_timezone = "Europe/Paris"

[[cohorts]]
name = "base"
customers = 50
signup_month = "2025-06"
signup_spread_months = 6
first_attempt_failure_rate = 0.1
plans = [
  { name = "Monthly", interval = "month", price = 1900, currency = "EUR", share = 0.7 },
  { name = "Annual", interval = "year", price = 19000, currency = "EUR", share = 0.3 },
]
countries = [
  { code = "FR", share = 1.0, timezone = "Europe/Paris", locale = "fr" },
]
payment_mix = { card = 0.9, sepa_debit = 0.1, boleto = 0.0 }

[behaviour]
act_delay_days = 1.5
"""

POLICY = """\
name = "mine"
end_action = "cancel"

[emails]
payment_failed = true
upcoming_renewal = true
upcoming_renewal_days = 7

[retries]
mode = "fixed"
fixed_offsets_days = [3.0, 8.0]
"""

BRAND = """\
name = "Tiny Co"
"""


def edit(base: str, old: str, new: str) -> str:
    """`base` with `old` (which must occur exactly once) replaced: a wrong edit fails at import time."""
    if base.count(old) != 1:
        raise AssertionError(f"{old!r} occurs {base.count(old)} times in the base file")
    return base.replace(old, new)


def scenario(old: str, new: str) -> str:
    return edit(SCENARIO, old, new)


def policy(old: str, new: str) -> str:
    return edit(POLICY, old, new)


RUN = ("run", "--customers", "40", "--months", "2", "--out", "{tmp}/out")
RUN_SCENARIO = ("run", "--scenario", "{tmp}/scenario.toml", "--out", "{tmp}/out")
RUN_POLICY = (
    "run",
    "--policy",
    "{tmp}/policy.toml",
    "--customers",
    "40",
    "--months",
    "2",
    "--out",
    "{tmp}/out",
)
SWEEP = ("sweep", "--customers", "40", "--months", "2", "-r", "1", "--workers", "1", "--out", "{tmp}/out")
RENDER = ("emails", "render", "payment_failed", "--out", "{tmp}/out/email.html")


def scenario_case(id: str, what: str, old: str, new: str, *expect: str) -> Case:
    return Case(id, "scenario TOML", what, RUN_SCENARIO, ("{tmp}/scenario.toml: ", *expect),
                files={"scenario.toml": scenario(old, new)})  # fmt: skip


def policy_case(id: str, what: str, old: str, new: str, *expect: str) -> Case:
    return Case(id, "policy TOML", what, RUN_POLICY, ("{tmp}/policy.toml: ", *expect),
                files={"policy.toml": policy(old, new)})  # fmt: skip


def template_case(id: str, what: str, html: str, *expect: str) -> Case:
    return Case(
        id, "email templates", what, (*RENDER, "--templates", "{tmp}/templates"), expect,
        files={"templates/payment_failed.html.j2": html},
    )  # fmt: skip


# ------------------------------------------------------------------------------------ Stripe exports


def _copy_sample(tmp: Path) -> Path:
    target = tmp / "export"
    shutil.copytree(STRIPE_SAMPLE, target)
    (target / "invoices.csv").unlink()  # the JSON Lines objects only; the CSV has its own cases
    return target


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write_jsonl(path: Path, objects: list[dict]) -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")


def _truncated(tmp: Path) -> None:
    path = _copy_sample(tmp) / "invoices.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4][:60]  # line 5 cut off mid-object, as a broken download would
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _truncated_file(tmp: Path) -> None:
    path = _copy_sample(tmp) / "customers.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the last line ends mid-object


def _csv_columns(tmp: Path) -> None:
    folder = tmp / "export"
    folder.mkdir()
    text = (STRIPE_DASHBOARD / "invoices.csv").read_text(encoding="utf-8")
    (folder / "invoices.csv").write_text(text.replace("Amount Due", "Amount", 1), encoding="utf-8")


def _duplicate_ids(tmp: Path) -> None:
    path = _copy_sample(tmp) / "customers.jsonl"
    objects = _jsonl(path)
    _write_jsonl(path, [*objects, objects[1]])


def _inconsistent_currency(tmp: Path) -> None:
    path = _copy_sample(tmp) / "invoices.jsonl"
    objects = _jsonl(path)
    objects[5]["currency"] = "usd"
    _write_jsonl(path, objects)


def _unknown_currency(tmp: Path) -> None:
    path = _copy_sample(tmp) / "charges.jsonl"
    objects = _jsonl(path)
    objects[3]["currency"] = "xyz"
    _write_jsonl(path, objects)


def _wrong_type(tmp: Path) -> None:
    path = _copy_sample(tmp) / "charges.jsonl"
    objects = _jsonl(path)
    objects[6]["amount"] = "49.00"
    _write_jsonl(path, objects)


def _not_utf8(tmp: Path) -> None:
    path = _copy_sample(tmp) / "subscriptions.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"active"', b'"\xe9\xff"', 1))


IMPORT = ("import", "stripe", "{tmp}/export", "--out", "{tmp}/out", "--calibrate", "{tmp}/out/fitted.toml")


def stripe_case(id: str, what: str, prepare: Callable[[Path], None], *expect: str) -> Case:
    return Case(id, "Stripe export", what, IMPORT, expect, prepare=prepare, needs="import")


# ---------------------------------------------------------------------------------------------- cases

CASES: list[Case] = [
    # Scenario files
    scenario_case(
        "scenario-unknown-field",
        "a misspelt top-level setting",
        "horizon_months = 3",
        'horizon_months = 3\ncolour = "blue"',
        "colour: unknown field",
    ),
    scenario_case(
        "scenario-unknown-cohort-field",
        "a misspelt cohort setting",
        "signup_spread_months = 6",
        "signup_spread_months = 6\ncustomer = 5",
        "cohorts.0.customer: unknown field",
    ),
    scenario_case(
        "scenario-wrong-type",
        "text where a number is expected",
        "customers = 50",
        'customers = "fifty"',
        "cohorts.0.customers: Input should be a valid integer",
    ),
    scenario_case(
        "scenario-probability-above-1",
        "a probability above 1",
        "first_attempt_failure_rate = 0.1",
        "first_attempt_failure_rate = 1.5",
        "cohorts.0.first_attempt_failure_rate:",
        "less than or equal to 1",
    ),
    scenario_case(
        "scenario-negative-probability",
        "a negative probability",
        "act_delay_days = 1.5",
        "act_delay_days = 1.5\nfatigue = -0.2",
        "behaviour.fatigue:",
        "greater than or equal to 0",
    ),
    scenario_case(
        "scenario-negative-price",
        "a negative plan price",
        "price = 1900,",
        "price = -1900,",
        "cohorts.0.plans.0.price: Input should be greater than 0",
    ),
    scenario_case(
        "scenario-unknown-currency",
        "a currency that is not ISO 4217",
        'price = 1900, currency = "EUR"',
        'price = 1900, currency = "EUX"',
        "cohorts.0.plans.0.currency:",
        "unknown ISO 4217 currency 'EUX'",
    ),
    scenario_case(
        "scenario-month-13",
        "signup_month 2026-13",
        'signup_month = "2025-06"',
        'signup_month = "2026-13"',
        "cohorts.0.signup_month:",
        "must be YYYY-MM, got '2026-13'",
    ),
    scenario_case(
        "scenario-february-30",
        "start_date 2026-02-30",
        'start_date = "2026-01-01"',
        'start_date = "2026-02-30"',
        "start_date:",
        "day value is outside expected range",
    ),
    scenario_case(
        "scenario-cohort-after-horizon",
        "a cohort signing up after the horizon",
        'signup_month = "2025-06"',
        'signup_month = "2027-06"',
        "cohorts.0.signup_month:",
        "after the horizon ends (2026-04-01)",
    ),
    scenario_case(
        "scenario-zero-customers",
        "an empty cohort (customers = 0)",
        "customers = 50",
        "customers = 0",
        "cohorts.0.customers: Input should be greater than 0",
    ),
    Case(
        "scenario-no-plans",
        "scenario TOML",
        "a cohort with no plans",
        RUN_SCENARIO,
        ("{tmp}/scenario.toml: cohorts.0.plans: List should have at least 1 item",),
        files={
            "scenario.toml": scenario(
                SCENARIO[SCENARIO.index("plans = [") : SCENARIO.index("countries")], "plans = []\n"
            )
        },
    ),
    scenario_case(
        "scenario-no-cohorts",
        "no cohort at all",
        "[[cohorts]]",
        "[[old]]",
        "cohorts: Field required",
        "old: unknown field",
    ),
    scenario_case(
        "scenario-plan-shares",
        "plan shares adding up to 0.8",
        "share = 0.3",
        "share = 0.1",
        "cohorts.0:",
        "plans shares must add up to 1, got 0.8",
    ),
    scenario_case(
        "scenario-payment-mix",
        "payment-method shares adding up to 1.1",
        "sepa_debit = 0.1",
        "sepa_debit = 0.2",
        "cohorts.0.payment_mix:",
        "card + sepa_debit + boleto must be 1, got 1.1",
    ),
    scenario_case(
        "scenario-unknown-timezone",
        "an unknown account time zone",
        'account_timezone = "Europe/Paris"',
        'account_timezone = "Mars/Olympus"',
        "account_timezone:",
        "unknown IANA time zone 'Mars/Olympus'",
    ),
    scenario_case(
        "scenario-unknown-locale",
        "a country with an unknown email locale",
        'locale = "fr"',
        'locale = "xx"',
        "cohorts.0.countries.0.locale:",
        "unknown locale 'xx'",
        "pt_BR",
    ),
    scenario_case(
        "scenario-unknown-decline-code",
        "a decline mix naming an unknown code",
        'account_timezone = "Europe/Paris"',
        'account_timezone = "Europe/Paris"\ndecline_mix = { insufficient_funds = 0.5, bad_luck = 0.5 }',
        "decline_mix:",
        "unknown decline code(s) ['bad_luck']",
    ),
    scenario_case(
        "scenario-horizon-99",
        "a 99-month horizon",
        "horizon_months = 3",
        "horizon_months = 99",
        "horizon_months: Input should be less than or equal to 60",
    ),
    scenario_case(
        "scenario-invalid-toml",
        "invalid TOML syntax (unclosed string)",
        'name = "base"',
        'name = "base',
        "not valid TOML",
        "line 7",
    ),
    Case(
        "scenario-not-utf8",
        "scenario TOML",
        "a Latin-1 file",
        RUN_SCENARIO,
        ("{tmp}/scenario.toml: not UTF-8 text",),
        files={"scenario.toml": scenario('name = "base"', 'name = "b\u00e9b\u00e9"').encode("latin-1")},
    ),
    Case(
        "scenario-missing-file",
        "scenario TOML",
        "a path that does not exist",
        RUN_SCENARIO,
        ("{tmp}/scenario.toml: file not found",),
    ),
    Case(
        "scenario-directory",
        "scenario TOML",
        "a directory instead of a file",
        RUN_SCENARIO,
        ("{tmp}/scenario.toml: is a directory, not a TOML file",),
        files={"scenario.toml/readme.txt": "not a scenario"},
    ),
    # Policy files
    policy_case(
        "policy-unknown-field",
        "a misspelt email switch",
        "payment_failed = true",
        "payment_faild = true",
        "emails.payment_faild: unknown field",
    ),
    policy_case(
        "policy-wrong-type",
        "text where a switch is expected",
        "payment_failed = true",
        'payment_failed = "often"',
        "emails.payment_failed: Input should be a valid boolean",
    ),
    policy_case(
        "policy-renewal-days",
        "upcoming_renewal_days = 10 (SPEC R7a allows 3, 7, 15, 30, 45, 60)",
        "upcoming_renewal_days = 7",
        "upcoming_renewal_days = 10",
        "emails.upcoming_renewal_days:",
        "must be one of 3, 7, 15, 30, 45, 60 (SPEC R7a), got 10",
    ),
    policy_case(
        "policy-end-action",
        "an unknown end-of-dunning action",
        'end_action = "cancel"',
        'end_action = "explode"',
        "end_action: Input should be",
    ),
    policy_case(
        "policy-retry-order",
        "retry offsets out of order",
        "fixed_offsets_days = [3.0, 8.0]",
        "fixed_offsets_days = [8.0, 3.0]",
        "retries.fixed_offsets_days:",
        "distinct and increasing",
    ),
    policy_case(
        "policy-max-attempts-0",
        "zero payment attempts",
        'mode = "fixed"',
        'mode = "fixed"\nmax_attempts = 0',
        "retries.max_attempts:",
        "greater than or equal to 1",
    ),
    policy_case(
        "policy-custom-link-without-url",
        "a custom update link with no URL (R3a)",
        "[retries]",
        '[links]\nupdate_payment = "custom"\nupdate_payment_url = "http://example.com"\n\n[retries]',
        "links:",
        "update_payment_url must be an https:// URL",
    ),
    policy_case(
        "policy-invalid-toml",
        "invalid TOML syntax (missing value)",
        "payment_failed = true",
        "payment_failed =",
        "not valid TOML",
        "line 5",
    ),
    Case(
        "policy-directory",
        "policy TOML",
        "a directory instead of a file",
        RUN_POLICY,
        ("{tmp}/policy.toml: is a directory, not a TOML file",),
        files={"policy.toml/readme.txt": "not a policy"},
    ),
    Case(
        "policy-not-utf8",
        "policy TOML",
        "a UTF-16 file",
        RUN_POLICY,
        ("{tmp}/policy.toml: not UTF-8 text",),
        files={"policy.toml": POLICY.encode("utf-16")},
    ),
    # Command-line arguments
    Case(
        "cli-unknown-policy",
        "arguments",
        "a policy name that is not shipped",
        ("run", "--policy", "nope", "--out", "{tmp}/out"),
        ("unknown policy 'nope'; shipped policies: aggressive, all-on",),
    ),
    Case(
        "cli-missing-policy-file",
        "arguments",
        "a policy path that does not exist",
        ("run", "--policy", "{tmp}/nowhere/policy.toml", "--out", "{tmp}/out"),
        ("{tmp}/nowhere/policy.toml: file not found",),
    ),
    Case(
        "cli-customers-0",
        "arguments",
        "--customers 0",
        ("run", "--customers", "0", "--out", "{tmp}/out"),
        ("Invalid value for '--customers'", "greater than or equal to 1"),
    ),
    Case(
        "cli-months-99",
        "arguments",
        "--months 99",
        ("run", "--months", "99", "--out", "{tmp}/out"),
        ("Invalid value for '--months'", "less than or equal to 60"),
    ),
    Case(
        "cli-seed-text",
        "arguments",
        "--seed abc",
        ("run", "--seed", "abc", "--out", "{tmp}/out"),
        ("Invalid value for '--seed'", "Input should be a valid integer"),
    ),
    Case(
        "cli-customers-below-cohorts",
        "arguments",
        "fewer customers than the scenario has cohorts",
        ("run", "--scenario", "{tmp}/scenario.toml", "--customers", "1", "--out", "{tmp}/out"),
        ("cannot scale 2 cohorts to 1 customers",),
        files={
            "scenario.toml": SCENARIO
            + edit(
                SCENARIO[SCENARIO.index("[[cohorts]]") : SCENARIO.index("[behav")],
                'name = "base"',
                'name = "second"',
            )
        },
    ),
    Case(
        "cli-compare-bad-dask",
        "arguments",
        "compare --dask with something that is not an address",
        (
            "compare",
            "--customers",
            "40",
            "--months",
            "2",
            "-r",
            "1",
            "--dask",
            "my laptop",
            "--out",
            "{tmp}/out",
        ),
        ("--dask must be 'local' or a scheduler address like tcp://host:8786, got 'my laptop'",),
    ),
    Case(
        "cli-compare-policy-twice",
        "arguments",
        "compare with the same policy twice",
        (
            "compare",
            "-p",
            "none",
            "-p",
            "none",
            "--customers",
            "40",
            "--months",
            "2",
            "-r",
            "1",
            "--out",
            "{tmp}/out",
        ),
        ("policy 'none' given twice",),
    ),
    Case(
        "cli-compare-replications-0",
        "arguments",
        "compare --replications 0",
        ("compare", "-r", "0", "--out", "{tmp}/out"),
        ("Invalid value for '--replications'",),
    ),
    Case(
        "cli-sweep-unknown-setting",
        "arguments",
        "sweep over a setting that does not exist",
        (*SWEEP, "--grid", "retries.max_attempt=2,4"),
        ("Policy: no setting 'retries.max_attempt'",),
    ),
    Case(
        "cli-sweep-unknown-scenario-setting",
        "arguments",
        "sweep over a scenario setting that does not exist",
        (*SWEEP, "--grid", "scenario.updater_rate=0.1"),
        ("Scenario: no setting 'updater_rate'",),
    ),
    Case(
        "cli-sweep-no-equals",
        "arguments",
        "a grid item without '='",
        (*SWEEP, "--grid", "retries.max_attempts"),
        ("--grid 'retries.max_attempts': expected setting=value1,value2",),
    ),
    Case(
        "cli-sweep-bad-value",
        "arguments",
        "a grid value of the wrong type",
        (*SWEEP, "--grid", "retries.max_attempts=two,4"),
        ("Policy setting retries.max_attempts: retries.max_attempts: Input should be a valid integer",),
    ),
    Case(
        "cli-sweep-bad-json-list",
        "arguments",
        "a grid JSON list that does not parse",
        (*SWEEP, "--grid", "retries.max_attempts=[2,4"),
        ("--grid 'retries.max_attempts=[2,4': not a JSON list",),
    ),
    Case(
        "cli-sweep-not-allowed-value",
        "arguments",
        "a grid value the setting does not allow (R7a)",
        (*SWEEP, "--grid", "emails.upcoming_renewal_days=7,10"),
        ("emails.upcoming_renewal_days:", "must be one of 3, 7, 15, 30, 45, 60 (SPEC R7a), got 10"),
    ),
    Case(
        "cli-sweep-duplicate-value",
        "arguments",
        "a grid listing a value twice",
        (*SWEEP, "--grid", "retries.max_attempts=2,2"),
        ("grid setting 'retries.max_attempts' lists a value twice",),
    ),
    Case(
        "cli-sweep-bad-dask",
        "arguments",
        "sweep --dask with a malformed address",
        (*SWEEP, "--grid", "retries.max_attempts=2,4", "--dask", "tcp://"),
        ("--dask must be 'local'",),
    ),
    Case(
        "cli-report-unknown-policy",
        "arguments",
        "report with an unknown policy",
        ("report", "-p", "none", "-p", "almost-all", "--out", "{tmp}/out"),
        ("unknown policy 'almost-all'",),
    ),
    Case(
        "cli-sweep-dask-unreachable",
        "arguments",
        "sweep --dask naming a scheduler nobody runs",
        (*SWEEP, "--grid", "retries.max_attempts=2,4", "--dask", "tcp://127.0.0.1:1"),
        ("cannot reach the Dask scheduler at tcp://127.0.0.1:1",),
    ),
    Case(
        "out-sweep-other-store",
        "output paths",
        "sweep --out naming the store of another sweep",
        (*SWEEP, "--grid", "retries.max_attempts=2,4"),
        ("{tmp}/out holds a different sweep", "use another --out or remove it"),
        files={
            "out/manifest.json": json.dumps({"format": 1, "kind": "recovery_sim.sweep", "replications": 1})
        },
        out=None,
    ),
    Case(
        "out-sweep-corrupt-manifest",
        "output paths",
        "sweep --out naming a store whose manifest is not JSON",
        (*SWEEP, "--grid", "retries.max_attempts=2,4"),
        ("{tmp}/out/manifest.json: unreadable manifest",),
        files={"out/manifest.json": '{"format": 1, "kind": '},
        out=None,
    ),
    # Output paths that cannot be written (root ignores permission bits: a path under a regular file)
    Case(
        "out-run-under-a-file",
        "output paths",
        "run --out under a regular file",
        ("run", "--customers", "30", "--months", "2", "--out", "{tmp}/blocker/out"),
        ("{tmp}/blocker/out: cannot write (Not a directory); nothing was written",),
        files={"blocker": "a regular file\n"},
        out=None,
    ),
    Case(
        "out-compare-under-a-file",
        "output paths",
        "compare --out under a regular file",
        (
            "compare",
            "-p",
            "none",
            "--customers",
            "30",
            "--months",
            "2",
            "-r",
            "1",
            "--workers",
            "1",
            "--out",
            "{tmp}/blocker/out",
        ),
        ("{tmp}/blocker/out", "cannot write (Not a directory)"),
        files={"blocker": "a regular file\n"},
        out=None,
    ),
    Case(
        "out-sweep-under-a-file",
        "output paths",
        "sweep --out under a regular file",
        (*SWEEP[:-1], "{tmp}/blocker/store", "--grid", "retries.max_attempts=2,4"),
        ("{tmp}/blocker/store", "cannot write (Not a directory)"),
        files={"blocker": "a regular file\n"},
        out=None,
    ),
    Case(
        "out-render-under-a-file",
        "output paths",
        "emails render --out under a regular file",
        ("emails", "render", "payment_failed", "--out", "{tmp}/blocker/email.html"),
        ("cannot write {tmp}/blocker/email.html",),
        files={"blocker": "a regular file\n"},
        out=None,
    ),
    Case(
        "out-preview-under-a-file",
        "output paths",
        "emails preview --out under a regular file",
        ("emails", "preview", "--locale", "en", "--type", "payment_failed", "--out", "{tmp}/blocker/gallery"),
        ("cannot write the gallery into {tmp}/blocker/gallery",),
        files={"blocker": "a regular file\n"},
        out=None,
    ),
    Case(
        "out-run-in-proc",
        "output paths",
        "run --out in /proc, which refuses new entries even to root",
        ("run", "--customers", "30", "--months", "2", "--out", "/proc/recovery-sim-out"),
        ("/proc/recovery-sim-out", "cannot write"),
        out=None,
    ),
    # Emails: locales, brands, types, templates
    Case(
        "emails-unknown-locale",
        "emails",
        "emails render --locale xx",
        (*RENDER, "--locale", "xx"),
        ("unknown locale 'xx'; allowed locales: en, fr, de, es, pt_BR",),
    ),
    Case(
        "emails-unknown-brand",
        "emails",
        "emails render --brand nope",
        (*RENDER, "--brand", "nope"),
        ("unknown brand 'nope'", "northwind"),
    ),
    Case(
        "emails-unknown-type",
        "emails",
        "emails render with an unknown email type",
        ("emails", "render", "payment_faild", "--out", "{tmp}/out/email.html"),
        ("unknown email type 'payment_faild'; allowed: payment_failed",),
    ),
    Case(
        "emails-bad-brand-file",
        "emails",
        "a brand TOML with an unknown field",
        (*RENDER, "--brand", "{tmp}/brand.toml"),
        ("{tmp}/brand.toml: colour: unknown field",),
        files={"brand.toml": BRAND + 'colour = "red"\n'},
    ),
    Case(
        "emails-brand-directory",
        "emails",
        "a brand path that is a directory",
        (*RENDER, "--brand", "{tmp}/brand.toml"),
        ("{tmp}/brand.toml: is a directory, not a TOML file",),
        files={"brand.toml/logo.svg": "<svg/>"},
    ),
    Case(
        "emails-brand-invalid-toml",
        "emails",
        "a brand TOML with a syntax error",
        (*RENDER, "--brand", "{tmp}/brand.toml"),
        ("{tmp}/brand.toml: not valid TOML", "line 2"),
        files={"brand.toml": BRAND + "accent = #ff0000\n"},
    ),
    Case(
        "emails-preview-unknown-locale",
        "emails",
        "emails preview --locale xx",
        ("emails", "preview", "--out", "{tmp}/out", "--locale", "en", "--locale", "xx"),
        ("unknown locale 'xx'",),
    ),
    Case(
        "emails-preview-missing-run",
        "emails",
        "emails preview --run with a folder that holds no run",
        ("emails", "preview", "--out", "{tmp}/out", "--run", "{tmp}/norun", "--locale", "en"),
        ("{tmp}/norun/emails.parquet: not found",),
        files={"norun/notes.txt": "empty"},
    ),
    Case(
        "emails-existing-output-kept",
        "emails",
        "a failing render keeps the existing output file",
        ("emails", "render", "payment_failed", "--locale", "xx", "--out", "{tmp}/email.html"),
        ("unknown locale 'xx'",),
        files={"email.html": "<p>the previous email</p>\n"},
        out=None,
        keep="email.html",
    ),
    template_case(
        "template-syntax-error",
        "a template with a syntax error",
        "<p>\n{% if customer_name %}\n{{ customer_name }\n</p>\n",
        "payment_failed.html.j2, line 3",
        "template syntax error",
    ),
    template_case(
        "template-missing-variable",
        "a template using a variable that does not exist",
        "<p>\n{{ no_such_thing }}\n</p>\n",
        "payment_failed.html.j2, line 2",
        "undefined variable 'no_such_thing'",
        "available variables:",
    ),
    template_case(
        "template-sandbox-escape",
        "a template walking ''.__class__.__mro__",
        "<p>{{ ''.__class__.__mro__[1].__subclasses__() }}</p>\n",
        "payment_failed.html.j2, line 1",
        "blocked by the template sandbox",
        "'__class__'",
    ),
    template_case(
        "template-unsafe-call",
        "a template calling a mutating method",
        "{% set xs = [1] %}<p>{{ xs.append(2) }}</p>\n",
        "payment_failed.html.j2",
        "blocked by the template sandbox",
    ),
    template_case(
        "template-include-outside",
        "a template including a file outside the template folders",
        '{% include "../../../../etc/passwd" %}\n',
        "template '../../../../etc/passwd' not found",
    ),
    template_case(
        "template-range-bomb",
        "a template looping ten million times",
        "{% for i in range(10**7) %}x{% endfor %}\n",
        "payment_failed.html.j2, line 1",
        "Range too big",
    ),
    template_case(
        "template-oversized-email",
        "a template rendering an email over 100 KB (clipped by mail clients)",
        "{% for i in range(30000) %}<p>{{ i }}</p>{% endfor %}\n",
        "payment_failed.html.j2: the rendered payment_failed email is",
        "must stay below 100,000 bytes",
    ),
    Case(
        "template-folder-missing",
        "email templates",
        "--templates naming a folder that does not exist",
        (*RENDER, "--templates", "{tmp}/nowhere"),
        ("{tmp}/nowhere: template folder not found",),
    ),
    # Stripe exports
    stripe_case(
        "stripe-truncated-line",
        "a JSON Lines object cut off on line 5",
        _truncated,
        "invoices.jsonl",
        "line 5",
        "not valid JSON",
    ),
    stripe_case(
        "stripe-truncated-file",
        "a JSON Lines file cut off half-way",
        _truncated_file,
        "customers.jsonl",
        "not valid JSON",
    ),
    stripe_case(
        "stripe-csv-columns",
        "a Dashboard CSV with a renamed column",
        _csv_columns,
        "invoices.csv",
        "line 1",
        "`Amount Due`",
    ),
    stripe_case(
        "stripe-duplicate-ids",
        "the same customer twice",
        _duplicate_ids,
        "customers.jsonl",
        "`id`",
        "duplicate",
    ),
    stripe_case(
        "stripe-inconsistent-currencies",
        "one customer billed in two currencies",
        _inconsistent_currency,
        "invoices.jsonl",
        "line 6",
        "`currency`",
        "inconsistent currencies",
    ),
    stripe_case(
        "stripe-unknown-currency",
        "a charge in currency 'xyz'",
        _unknown_currency,
        "charges.jsonl",
        "line 4",
        "`currency`",
        "'xyz'",
    ),
    stripe_case(
        "stripe-wrong-type",
        "an amount given as text",
        _wrong_type,
        "charges.jsonl",
        "line 7",
        "`amount`",
        "expected an integer",
    ),
    stripe_case("stripe-not-utf8", "a file that is not UTF-8", _not_utf8, "subscriptions.jsonl"),
    Case(
        "stripe-missing-folder",
        "Stripe export",
        "an export folder that does not exist",
        IMPORT,
        ("{tmp}/export: no such file or folder",),
        needs="import",
    ),
    Case(
        "stripe-bad-start",
        "Stripe export",
        "--start 2026-13-01",
        (*IMPORT, "--start", "2026-13-01"),
        ("--start", "month must be in 1..12"),
        prepare=_copy_sample,
        needs="import",
    ),
    Case(
        "stripe-import-unknown-policy",
        "Stripe export",
        "import with a replay policy that is not shipped",
        (*IMPORT, "--policy", "nope"),
        ("unknown policy 'nope'",),
        prepare=_copy_sample,
        needs="import",
    ),
    Case(
        "stripe-export-bad-format",
        "Stripe export",
        "export --format xml",
        ("export", "stripe", "--customers", "30", "--format", "xml", "--out", "{tmp}/out"),
        ("--format: expected jsonl or json, got 'xml'",),
        needs="export",
    ),
]


def by_id() -> dict[str, Case]:
    out: dict[str, Case] = {}
    for case in CASES:
        if case.id in out:
            raise AssertionError(f"duplicate case id {case.id}")
        out[case.id] = case
    return out


# ------------------------------------------------------------------------------------- docs/errors.md


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def errors_doc() -> str:
    """docs/errors.md, generated from CASES."""
    lines = [
        "# Errors on bad input",
        "",
        "Every `recovery-sim` command checks its input before doing any work. A bad file, setting or",
        "argument prints one message to stderr that names the file, the field (dotted as in the TOML) or",
        "the line, and what is allowed; the command exits with **code 2**, prints no traceback, and",
        "leaves its output untouched: the `--out` folder is not created, and an existing output file",
        "keeps its bytes and modification time.",
        "",
        "Output that cannot be written (`--out` under a regular file, a read-only or full disk) is",
        "reported the same way, naming the path (`docs/reliability.md`).",
        "",
        "The table below is generated from the test catalogue `tests/bad_inputs/bad_input_cases.py`,",
        "which runs every case against the real CLI (`tests/bad_inputs/test_bad_inputs.py`); regenerate",
        "it with `.venv/bin/python tests/bad_inputs/bad_input_cases.py > docs/errors.md`. `{tmp}` stands",
        "for the folder the case runs in. The message column lists fragments of what is printed.",
        "",
        f"{len(CASES)} cases.",
        "",
    ]
    area = None
    for case in CASES:
        if case.area != area:
            area = case.area
            lines += [
                "",
                f"## {area}",
                "",
                "| id | input | command | message contains |",
                "|---|---|---|---|",
            ]
        command = "recovery-sim " + " ".join(case.args)
        message = " … ".join(f"`{_md(fragment)}`" for fragment in case.expect)
        lines.append(f"| `{case.id}` | {_md(case.what)} | `{_md(command)}` | {message} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    by_id()
    print(errors_doc(), end="")
