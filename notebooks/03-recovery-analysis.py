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
# # Where recovered revenue comes from
#
# A recovery rate on its own hides most of the story. This notebook compares policies over several
# replications and breaks the result down the ways an analyst asks about it:
#
# 1. **by month** — is recovery steady, or does it depend on when invoices are issued?
# 2. **by cohort** — the existing base, new sign-ups with trials and the Brazilian arm behave differently;
# 3. **by decline code** — an expired card and insufficient funds need different remedies;
# 4. **the funnel** — of the failed invoices, how many got an email, how many customers acted, how many
#    paid, how many churned;
# 5. **time to recover** — how long money stays outstanding;
# 6. **a sweep** of the retry schedule, as a heatmap.
#
# Every chart is also written to PNG and SVG in the output folder, ready for a slide or a report. The
# policies, the currency the charts show and the run sizes are in the next cell.

# %% tags=["parameters"]
import os

CUSTOMERS = int(os.environ.get("RECOVERY_SIM_CUSTOMERS", "20000"))
REPLICATIONS = int(os.environ.get("RECOVERY_SIM_REPLICATIONS", "20"))
MONTHS = int(os.environ.get("RECOVERY_SIM_MONTHS", "12"))
SEED = int(os.environ.get("RECOVERY_SIM_SEED", "7"))
WORKERS = int(os.environ.get("RECOVERY_SIM_WORKERS", "0"))  # 0: every core; 1: in this process
# The first policy is the baseline of every difference; the second one's emails are used by the sweep.
POLICIES = os.environ.get("RECOVERY_SIM_POLICIES", "none,recommended-minimum,all-on").split(",")
CURRENCY = os.environ.get("RECOVERY_SIM_CURRENCY", "")  # empty: the currency with most revenue
OUTPUT_DIR = os.environ.get("RECOVERY_SIM_OUTPUT", "../out/notebooks")

# %%
from pathlib import Path

import polars as pl

import recovery_sim as rs
from recovery_sim import InlineExecutor, charts, compare, sweep

nb = rs.notebook  # tables, charts and controls for notebooks

charts_dir = Path(OUTPUT_DIR) / "03-recovery-analysis"
run_options = {"workers": WORKERS or None} if WORKERS != 1 else {"executor": InlineExecutor()}

# %% [markdown]
# ## The comparison
#
# The policies run on common random numbers: in each replication every arm sees the same customers
# and failures. The first policy (`none` by default: no customer emails) is the baseline of every
# difference.

# %%
scenario = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)
policies = {name: rs.Policy.named(name) for name in POLICIES}
comparison = compare(scenario, policies, replications=REPLICATIONS, seed=SEED, **run_options)
currency = CURRENCY or comparison.currencies[0]  # other currencies are never mixed in
print(
    f"{len(policies)} policies × {REPLICATIONS} replications of {CUSTOMERS:,} customers; "
    f"charts in {currency} (also in the run: {', '.join(comparison.currencies)})"
)

# %% [markdown]
# Headline figures with their 95% confidence intervals. *Incremental revenue* is money collected
# beyond the baseline, paired replication by replication.

# %%
headline = [
    "at_risk_revenue", "recovered_revenue", "recovery_rate", "incremental_revenue", "involuntary_churn_rate",
]  # fmt: skip
nb.stats_table(comparison.table.filter(pl.col("currency") == currency), headline)

# %%
nb.save(charts.revenue_by_policy(comparison.table, currency), charts_dir, "revenue-by-policy")

# %% [markdown]
# ## 1. Recovery by month
#
# Invoices are grouped by the month they were issued. Annual renewals cluster in some months, and new
# cohorts start with trials, so the at-risk mix moves through the year.

# %%
by_month = comparison.breakdown("month", ["recovery_rate"])
nb.save(charts.recovery_rate_by_month(by_month, currency), charts_dir, "by-month")

# %% [markdown]
# ## 2. Recovery by cohort
#
# The same comparison, broken down by the cohort a customer belongs to. Each cohort is shown in its own
# currency — the Brazilian arm pays in BRL, so its rate is comparable even where its amounts are not.

# %%
nb.save(
    nb.recovery_rate_by_cohort(comparison.breakdown("cohort", ["recovery_rate"])), charts_dir, "by-cohort"
)

# %% [markdown]
# ## 3. Recovery by decline code
#
# The first decline of each at-risk invoice. Soft declines (insufficient funds, try again later)
# recover with retries alone; an expired or lost card only recovers when the customer brings a new one
# — which is where emails with an update link earn their keep. `action_required` marks payments that
# needed 3-D Secure or a Boleto to be confirmed.

# %%
nb.save(
    charts.decline_breakdown(comparison.breakdown("decline_code"), currency), charts_dir, "by-decline-code"
)

# %% [markdown]
# ## 4. The dunning funnel
#
# Per at-risk invoice: was an email delivered, did the customer act on it, was the invoice paid — or did
# the subscription end in involuntary churn, or is it still open at the horizon? Counts are means per
# replication.

# %%
funnel = comparison.breakdown("funnel")
nb.save(charts.funnel(funnel, currency), charts_dir, "funnel")

# %%
nb.stats_table(funnel.filter(pl.col("currency") == currency), ["invoices"])

# %% [markdown]
# ## 5. Time to recover
#
# Days from invoice to payment, for the at-risk invoices that were recovered. Emails pull recoveries
# earlier: the customer fixes the card on day one instead of waiting for a retry that happens to work.

# %%
nb.save(
    charts.time_to_recover(comparison.breakdown("time_to_recover"), currency), charts_dir, "time-to-recover"
)

# %% [markdown]
# ## 6. Sweeping the retry schedule
#
# How many attempts, over how many days? A sweep runs every combination of the grid on the same
# customers and failures, on top of the second policy's emails (`recommended-minimum` by default). A
# quarter of the replications is enough to see the shape; raise it for a decision.

# %%
grid = {"retries.max_attempts": [2, 4, 6, 8], "retries.window_days": [7.0, 14.0, 21.0]}
swept = sweep(
    scenario,
    policies[POLICIES[min(1, len(POLICIES) - 1)]],
    grid=grid,
    replications=max(2, REPLICATIONS // 4),
    seed=SEED,
    **run_options,
)
heatmap = charts.sweep_heatmap(
    swept, "retries.max_attempts", "retries.window_days", "recovery_rate", currency
)
nb.save(heatmap, charts_dir, "retry-sweep")

# %% [markdown]
# ## The exported files

# %%
nb.table(nb.files(charts_dir))
