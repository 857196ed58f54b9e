# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Replaying a Stripe history
#
# Simulations are only as good as their assumptions. This notebook starts from what a business already
# has — its Stripe export — and does four things with it:
#
# 1. **import** the export into the same event log the simulator writes;
# 2. **replay** that history under an email policy: which emails the rules would have sent, when, and
#    whether their links would still have been live;
# 3. **calibrate** a scenario from it: failure rates, decline mix, plans and currencies as observed;
# 4. **compare** policies on the calibrated scenario, with confidence intervals.
#
# To stay self-contained it first writes a small export from a simulated run into a temporary folder —
# files in Stripe's own shapes. Point `EXPORT_DIR` at a real export to run the same steps on yours.

# %% tags=["parameters"]
import os

CUSTOMERS = int(os.environ.get("RECOVERY_SIM_CUSTOMERS", "20000"))
REPLICATIONS = int(os.environ.get("RECOVERY_SIM_REPLICATIONS", "20"))
MONTHS = int(os.environ.get("RECOVERY_SIM_MONTHS", "12"))
SEED = int(os.environ.get("RECOVERY_SIM_SEED", "7"))
WORKERS = int(os.environ.get("RECOVERY_SIM_WORKERS", "0"))  # 0: every core; 1: in this process
EXPORT_DIR = os.environ.get("RECOVERY_SIM_STRIPE_EXPORT", "")  # empty: generate a sample export
EXPORT_CUSTOMERS = min(CUSTOMERS, int(os.environ.get("RECOVERY_SIM_EXPORT_CUSTOMERS", "5000")))
OUTPUT_DIR = os.environ.get("RECOVERY_SIM_OUTPUT", "../out/notebooks")

# %%
import tempfile
from pathlib import Path

import polars as pl

import recovery_sim as rs
from recovery_sim import (
    UPDATE_LINK_TYPES,
    InlineExecutor,
    charts,
    compare,
    decline_codes,
    export_stripe,
    fit_scenario,
    import_stripe,
    replay_report,
)

nb = rs.notebook  # tables, charts and controls for notebooks

run_options = {"workers": WORKERS or None} if WORKERS != 1 else {"executor": InlineExecutor()}


# %% [markdown]
# ## A sample export
#
# A simulated history under the `none` policy — a business that has not switched customer emails on
# yet — written as Stripe customers, subscriptions, invoices, charges and payment methods (JSON Lines, as
# the API lists them) plus the Dashboard's invoice CSV. Because it comes from a simulation, the true
# parameters behind it are known, so the calibration below can be checked against them. It is kept small
# (a year of 5,000 customers is about 65 MB of JSON) and lives in a temporary folder that disappears
# with the kernel.

# %%
truth = rs.Scenario.default().scaled(customers=EXPORT_CUSTOMERS, months=MONTHS)
if EXPORT_DIR:
    export_dir = Path(EXPORT_DIR)
else:
    sample_folder = tempfile.TemporaryDirectory(prefix="stripe-export-")
    export_dir = Path(sample_folder.name)
    export_stripe(rs.simulate(truth, rs.Policy.named("none"), seed=SEED), export_dir)
nb.table(nb.files(export_dir))

# %% [markdown]
# ## 1. Import
#
# The importer reads the files into the simulator's own frames — events, invoices, customers — so every
# metric of the other notebooks works on the real history. Anything it had to skip is listed as a
# warning rather than silently dropped.

# %%
history = import_stripe(export_dir)
print(f"{history.start_date} + {history.horizon_months} months: {history.invoices.height:,} invoices")
for warning in history.warnings:
    print("warning:", warning)
observed = rs.summary(history)
nb.table(
    observed.select(
        "currency", "customers", "invoices", "billed", "collected", "at_risk_revenue", "recovered_revenue",
        "recovery_rate", "involuntary_churn",
    )
)  # fmt: skip

# %% [markdown]
# ## 2. Replay under a policy
#
# Which emails would each policy have sent on this very history, and how many of their payment links
# would still have worked when the customer clicked? The decisions come from the same rules module the
# simulator and the previews use. A replay does not invent reactions: it says what would have been
# *sent*, not what customers would have done — that is what the calibrated simulation below is for.

# %%
replays = {name: replay_report(history, rs.Policy.named(name)) for name in ("recommended-minimum", "all-on")}
counts = pl.concat([r.counts.select(pl.lit(name).alias("policy"), pl.all()) for name, r in replays.items()])
nb.table(counts.pivot(on="policy", index="email_type", values="emails").fill_null(0).sort("email_type"))

# %% [markdown]
# Links die (R11): once an invoice is paid, voided or the subscription ends, a payment link no longer
# works. Of the emails that carry an update or confirmation link, how many would still have had a live one?

# %%
links = counts.filter(pl.col("email_type").is_in([t.value for t in UPDATE_LINK_TYPES]))
nb.table(
    links.select(
        "policy", "email_type", "emails", "with_live_link",
        (pl.col("with_live_link") / pl.col("emails")).alias("live_link_share"),
    )
)  # fmt: skip

# %% [markdown]
# ## 3. Calibrate a scenario
#
# The calibration fits every value the history can tell — segments by currency and by whether customers
# existed before the history began, their plans, prices, payment methods, first-attempt failure rates,
# the decline mix, how customers behaved — and keeps the simulator's defaults for what an export cannot
# tell. Every fitted value comes with its evidence, so a rate from 9 observations is not mistaken for a
# rate from 9,000.

# %%
calibration = fit_scenario(history)
calibrated = calibration.scenario
nb.table(
    pl.DataFrame(
        [
            {
                "segment": segment["name"].value,
                "customers": segment["customers"].value,
                "first_attempt_failure_rate": segment["first_attempt_failure_rate"].value,
                "evidence": segment["first_attempt_failure_rate"].note,
            }
            for segment in calibration.cohorts
        ]
    ),
    decimals=2,
)

# %% [markdown]
# For comparison, the rates the sample export was simulated from (its cohorts are not the same cut as
# the fitted segments: "existing base" and "2026 signups" pay in euros, "Brasil" in reais). A real
# export has no such truth to compare with.

# %%
if EXPORT_DIR:
    print("A real export: no true values to compare with.")
else:
    truths = pl.DataFrame(
        {
            "cohort": [c.name for c in truth.cohorts],
            "customers": [c.customers for c in truth.cohorts],
            "first_attempt_failure_rate": [c.first_attempt_failure_rate for c in truth.cohorts],
        }
    )
    display(nb.table(truths, decimals=2))

# %% [markdown]
# The decline mix, fitted next to the simulator's default shares (`data/decline_codes.csv`, which the
# sample export was drawn from), and what retries recovered for each decline code — the evidence for
# choosing a retry schedule.

# %%
default_share = {d.code: d.share for d in decline_codes()}
mix = [
    {"decline_code": code, "fitted_share": fit.value, "default_share": default_share.get(code, 0.0)}
    | {"evidence": fit.note}
    for code, fit in calibration.decline_mix.items()
]
nb.table(pl.DataFrame(mix))

# %%
nb.table(calibration.retry_by_code)

# %% [markdown]
# The scenario is plain TOML with one comment per value. It is saved to the output folder: load it later
# with `rs.Scenario.load(...)`, or use it from the shell with `recovery-sim`.

# %%
toml_path = calibration.write(Path(OUTPUT_DIR) / "05-stripe-replay" / "calibrated.toml")
print(toml_path)
print("\n".join(calibration.toml.splitlines()[:24]))

# %% [markdown]
# ## 4. Compare policies on the calibrated scenario
#
# The fitted scenario can be simulated at any size: here with as many customers as the other notebooks.
# First a check: does it, simulated under `none` — what the business actually ran — reproduce the
# recovery rate observed in the history? Then the question itself: what would the recommended minimum
# and every reminder have collected beyond no emails at all?

# %%
policies = {name: rs.Policy.named(name) for name in ("none", "recommended-minimum", "all-on")}
comparison = compare(
    calibrated.scaled(customers=CUSTOMERS), policies, replications=REPLICATIONS, seed=SEED, **run_options
)
simulated = comparison.table.filter((pl.col("arm") == "none") & (pl.col("metric") == "recovery_rate"))
observed_rate = observed.select("currency", pl.col("recovery_rate").alias("observed_rate"))
check = simulated.join(observed_rate, on="currency")
nb.table(
    check.select(
        "currency", "observed_rate", pl.col("mean").alias("simulated_rate"),
        pl.col("ci_low").alias("ci_low_rate"), pl.col("ci_high").alias("ci_high_rate"),
    )
)  # fmt: skip

# %%
currency = comparison.currencies[0]
in_currency = comparison.table.filter(pl.col("currency") == currency)
nb.stats_table(in_currency, ["recovered_revenue", "incremental_revenue"])

# %%
charts.revenue_by_policy(comparison.table, currency)
