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
# # Quickstart: one simulated year of failed payments
#
# A subscription business loses revenue when renewals fail: expired cards, insufficient funds,
# payments waiting for 3-D Secure or a Boleto. Retries win some of it back; customer emails
# (failed-payment notices, confirmation links, card-expiry warnings, renewal reminders) win back more.
#
# This notebook runs the shipped default scenario — an existing European customer base, monthly
# sign-ups with trials and a Brazilian arm paying partly by Boleto — under three email policies and
# reads the headline numbers. Every policy sees **the same customers, cards and failures** (same
# seed), so the differences below come from the emails alone.
#
# The next cell holds the run size. A person runs the defaults; the automated tests shrink them
# through environment variables.

# %% tags=["parameters"]
import os

CUSTOMERS = int(os.environ.get("RECOVERY_SIM_CUSTOMERS", "20000"))
MONTHS = int(os.environ.get("RECOVERY_SIM_MONTHS", "12"))
SEED = int(os.environ.get("RECOVERY_SIM_SEED", "7"))

# %%
import altair as alt
import polars as pl

import recovery_sim as rs
from recovery_sim import charts


def show_money(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Money columns (integer minor units, with a `currency` column) as amounts with their currency."""
    return frame.with_columns(
        pl.struct(column, "currency")
        .map_elements(
            lambda row, c=column: charts.format_money(row[c], row["currency"]), return_dtype=pl.String
        )
        .alias(column)
        for column in columns
    )


# %% [markdown]
# ## The scenario and one run
#
# `Scenario.default()` loads `data/scenarios/default.toml`; `scaled` resizes it while keeping the
# cohort mix. `simulate` returns the run's events, emails, invoices and customers as polars frames.

# %%
scenario = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)
policy = rs.Policy.named("recommended-minimum")
run = rs.simulate(scenario, policy, seed=SEED)

print(f"{scenario.customers:,} customers over {scenario.horizon_months} months from {scenario.start_date}")
print(f"{run.invoices.height:,} invoices, {run.events.height:,} events, {run.emails.height:,} emails")
run.invoices.head()

# %% [markdown]
# ## Headline numbers
#
# `rs.summary` gives one row per currency — amounts are never added across currencies. *At-risk*
# revenue is what was billed on invoices whose first payment attempt failed or needed the customer to
# confirm; *recovered* is the part of it paid before the horizon ended.

# %%
headline = rs.summary(run)
show_money(headline, "billed", "collected", "at_risk_revenue", "recovered_revenue").select(
    "currency",
    "customers",
    "billed",
    "collected",
    "at_risk_revenue",
    "recovered_revenue",
    (pl.col("recovery_rate") * 100).round(1).alias("recovery_rate_%"),
    "involuntary_churn",
    "emails_sent",
)

# %% [markdown]
# ## Recovery rate under three policies
#
# `none` sends no customer email (retries still run), `recommended-minimum` sends failed-payment
# notices and confirmation links, `all-on` switches on every reminder. Same seed, so the same
# failures happen in each run.

# %%
policies = ["none", "recommended-minimum", "all-on"]
rates = pl.concat(
    [rs.summary(rs.simulate(scenario, rs.Policy.named(name), seed=SEED)) for name in policies]
).select("policy", "currency", "recovery_rate", "recovered_revenue")

alt.Chart(rates).mark_bar().encode(
    x=alt.X("policy:N", sort=policies, title=None),
    y=alt.Y("recovery_rate:Q", axis=alt.Axis(format="%"), title="Recovery rate"),
    color=alt.Color("policy:N", sort=policies, legend=None),
    column=alt.Column("currency:N", title=None),
    tooltip=["policy", "currency", alt.Tooltip("recovery_rate:Q", format=".1%")],
).properties(width=180, height=220, title="Share of at-risk revenue recovered")

# %% [markdown]
# One run is one draw of chance. To say how much a policy is *worth* — with a confidence interval —
# compare it over several replications: see `02-policy-what-if` and `03-recovery-analysis`.
