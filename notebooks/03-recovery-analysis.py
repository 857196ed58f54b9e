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
# A recovery rate on its own hides most of the story. This notebook compares three policies over
# several replications and breaks the result down the ways an analyst asks about it:
#
# 1. **by month** — is recovery steady, or does it depend on when invoices are issued?
# 2. **by cohort** — the existing base, new sign-ups with trials and the Brazilian arm behave differently;
# 3. **by decline code** — an expired card and insufficient funds need different remedies;
# 4. **the funnel** — of the failed invoices, how many got an email, how many customers acted, how many
#    paid, how many churned;
# 5. **time to recover** — how long money stays outstanding;
# 6. **a sweep** of the retry schedule, as a heatmap.
#
# Every chart is also written to PNG and SVG in the output folder, ready for a slide or a report.

# %% tags=["parameters"]
import os

CUSTOMERS = int(os.environ.get("RECOVERY_SIM_CUSTOMERS", "20000"))
REPLICATIONS = int(os.environ.get("RECOVERY_SIM_REPLICATIONS", "20"))
MONTHS = int(os.environ.get("RECOVERY_SIM_MONTHS", "12"))
SEED = int(os.environ.get("RECOVERY_SIM_SEED", "7"))
WORKERS = int(os.environ.get("RECOVERY_SIM_WORKERS", "0"))  # 0: every core; 1: in this process
OUTPUT_DIR = os.environ.get("RECOVERY_SIM_OUTPUT", "../out/notebooks")

# %%
from pathlib import Path

import altair as alt
import polars as pl

import recovery_sim as rs
from recovery_sim import InlineExecutor, charts, compare, sweep

charts_dir = Path(OUTPUT_DIR) / "03-recovery-analysis"
run_options = {"workers": WORKERS or None} if WORKERS != 1 else {"executor": InlineExecutor()}


def save(chart: alt.TopLevelMixin, name: str) -> alt.TopLevelMixin:
    """Write the chart as PNG and SVG into the output folder, and show it."""
    for suffix in (".png", ".svg"):
        charts.export(chart, charts_dir / f"{name}{suffix}")
    return chart


# %% [markdown]
# ## The comparison
#
# Three arms on common random numbers: `none` (no customer emails — the baseline of every
# difference), the `recommended-minimum` (failed-payment emails and confirmation links) and `all-on`.
# In each replication the three arms see the same customers and failures.

# %%
scenario = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)
policies = {name: rs.Policy.named(name) for name in ("none", "recommended-minimum", "all-on")}
comparison = compare(scenario, policies, replications=REPLICATIONS, seed=SEED, **run_options)
currency = comparison.currencies[0]  # the currency with most revenue; others are never mixed in
print(
    f"{len(policies)} policies × {REPLICATIONS} replications of {CUSTOMERS:,} customers; charts in {currency}"
)

# %% [markdown]
# Headline figures with their 95% confidence intervals. *Incremental revenue* is money collected
# beyond the `none` arm, paired replication by replication.

# %%
MONEY = {"recovered_revenue", "incremental_revenue", "at_risk_revenue"}
RATES = {"recovery_rate", "involuntary_churn_rate"}


def show(metric: str, value: float | None, currency: str) -> str:
    if value is None:
        return "–"
    if metric in MONEY:
        return charts.format_money(value, currency)
    return charts.format_rate(value) if metric in RATES else f"{value:,.1f}"


headline = comparison.table.filter(
    pl.col("metric").is_in(
        [
            "at_risk_revenue",
            "recovered_revenue",
            "recovery_rate",
            "incremental_revenue",
            "involuntary_churn_rate",
        ]
    )
)
pl.DataFrame(
    [
        {
            "policy": r["arm"],
            "currency": r["currency"],
            "metric": r["metric"].replace("_", " "),
            "mean": show(r["metric"], r["mean"], r["currency"]),
            "95% CI": f"{show(r['metric'], r['ci_low'], r['currency'])} – "
            f"{show(r['metric'], r['ci_high'], r['currency'])}",
        }
        for r in headline.iter_rows(named=True)
    ]
)

# %%
save(charts.revenue_by_policy(comparison.table, currency), "revenue-by-policy")

# %% [markdown]
# ## 1. Recovery by month
#
# Invoices are grouped by the month they were issued. Annual renewals cluster in some months, and new
# cohorts start with trials, so the at-risk mix moves through the year.

# %%
save(charts.recovery_rate_by_month(comparison.breakdown("month", ["recovery_rate"]), currency), "by-month")

# %% [markdown]
# ## 2. Recovery by cohort
#
# The same comparison, broken down by the cohort a customer belongs to. Each cohort is shown in its own
# currency — the Brazilian arm pays in BRL, so its rate is comparable even where its amounts are not.

# %%
by_cohort = comparison.breakdown("cohort", ["recovery_rate"]).with_columns(
    pl.col("ci_low").fill_null(pl.col("mean")).clip(0, 1),
    pl.col("ci_high").fill_null(pl.col("mean")).clip(0, 1),
)
arms = list(policies)
base = alt.Chart(by_cohort).encode(
    y=alt.Y("key:N", title=None),
    yOffset=alt.YOffset("arm:N", sort=arms),
    color=alt.Color("arm:N", title="policy", sort=arms, scale=alt.Scale(domain=arms)),
)
cohort_chart = (
    alt.layer(
        base.mark_bar().encode(
            x=alt.X("mean:Q", title="recovery rate", axis=alt.Axis(format=".0%")),
            tooltip=[
                alt.Tooltip("key:N", title="cohort"),
                alt.Tooltip("currency:N"),
                alt.Tooltip("arm:N", title="policy"),
                alt.Tooltip("mean:Q", title="recovery rate", format=".1%"),
            ],
        ),
        base.mark_errorbar(ticks=True, color="black").encode(
            x=alt.X("ci_low:Q", title="recovery rate"), x2="ci_high:Q"
        ),
    )
    .properties(title="Recovery rate by cohort (whiskers: 95% CI)", width=480, height=240)
    .configure(font=charts.FONT)
    .configure_view(stroke=None)
)
save(cohort_chart, "by-cohort")

# %% [markdown]
# ## 3. Recovery by decline code
#
# The first decline of each at-risk invoice. Soft declines (insufficient funds, try again later)
# recover with retries alone; an expired or lost card only recovers when the customer brings a new one
# — which is where emails with an update link earn their keep. `action_required` marks payments that
# needed 3-D Secure or a Boleto to be confirmed.

# %%
save(charts.decline_breakdown(comparison.breakdown("decline_code"), currency), "by-decline-code")

# %% [markdown]
# ## 4. The dunning funnel
#
# Per at-risk invoice: was an email delivered, did the customer act on it, was the invoice paid — or did
# the subscription end in involuntary churn, or is it still open at the horizon?

# %%
save(charts.funnel(comparison.breakdown("funnel"), currency), "funnel")

# %% [markdown]
# ## 5. Time to recover
#
# Days from invoice to payment, for the at-risk invoices that were recovered. Emails pull recoveries
# earlier: the customer fixes the card on day one instead of waiting for a retry that happens to work.

# %%
save(charts.time_to_recover(comparison.breakdown("time_to_recover"), currency), "time-to-recover")

# %% [markdown]
# ## 6. Sweeping the retry schedule
#
# How many attempts, over how many days? A sweep runs every combination of the grid on the same
# customers and failures, on top of the recommended-minimum emails. A quarter of the replications is
# enough to see the shape; raise it for a decision.

# %%
grid = {"retries.max_attempts": [2, 4, 6, 8], "retries.window_days": [7.0, 14.0, 21.0]}
swept = sweep(
    scenario,
    policies["recommended-minimum"],
    grid=grid,
    replications=max(2, REPLICATIONS // 4),
    seed=SEED,
    **run_options,
)
save(
    charts.sweep_heatmap(swept, "retries.max_attempts", "retries.window_days", "recovery_rate", currency),
    "retry-sweep",
)

# %% [markdown]
# ## The exported files

# %%
sorted(p.name for p in charts_dir.iterdir())
