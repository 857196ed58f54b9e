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
# sign-ups with trials and a Brazilian arm paying partly by Boleto — under a few email policies and
# reads the headline numbers. Every policy sees **the same customers, cards and failures** (same
# seed), so the differences below come from the emails alone.
#
# The next cell holds the run's size and the policies: change them there (or through the environment
# variables it reads) and run all cells again.

# %% tags=["parameters"]
import os

CUSTOMERS = int(os.environ.get("RECOVERY_SIM_CUSTOMERS", "20000"))
MONTHS = int(os.environ.get("RECOVERY_SIM_MONTHS", "12"))
SEED = int(os.environ.get("RECOVERY_SIM_SEED", "7"))
POLICY = os.environ.get("RECOVERY_SIM_POLICY", "recommended-minimum")  # the run looked at first
POLICIES = os.environ.get("RECOVERY_SIM_POLICIES", "none,recommended-minimum,all-on").split(",")

# %%
import polars as pl

import recovery_sim as rs

nb = rs.notebook  # tables, charts and controls for notebooks

# %% [markdown]
# ## The scenario and one run
#
# `Scenario.default()` loads `data/scenarios/default.toml`; `scaled` resizes it while keeping the
# cohort mix. `simulate` returns the run's events, emails, invoices and customers as polars frames;
# `nb.table` shows any of them readably (money with its currency, times to the minute in UTC).

# %%
scenario = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)
run = rs.simulate(scenario, rs.Policy.named(POLICY), seed=SEED)

print(f"{scenario.customers:,} customers over {scenario.horizon_months} months from {scenario.start_date}")
print(f"{run.invoices.height:,} invoices, {run.events.height:,} events, {run.emails.height:,} emails")
nb.table(run.events.filter(pl.col("kind") == "payment_failed"), rows=8, title="The first failed payments")

# %% [markdown]
# ## Headline numbers
#
# `rs.summary` gives one row per currency — amounts are never added across currencies. *At-risk*
# revenue is what was billed on invoices whose first payment attempt failed or needed the customer to
# confirm; *recovered* is the part of it paid before the horizon ended.

# %%
columns = ["currency", "customers", "billed", "collected", "at_risk_revenue", "recovered_revenue"]
nb.table(rs.summary(run).select(*columns, "recovery_rate", "involuntary_churn", "emails_sent"))

# %% [markdown]
# ## Recovery rate under each policy
#
# `none` sends no customer email (retries still run), `recommended-minimum` sends failed-payment
# notices and confirmation links, `all-on` switches on every reminder. Same seed, so the same
# failures happen in each run. Hover over a bar for its value.

# %%
summaries = pl.concat([rs.summary(rs.simulate(scenario, rs.Policy.named(p), seed=SEED)) for p in POLICIES])
nb.recovery_rate_by_policy(summaries)

# %%
by_policy = ["policy", "currency", "at_risk_revenue", "recovered_revenue", "recovery_rate", "emails_sent"]
nb.table(summaries.select(by_policy))

# %% [markdown]
# One run is one draw of chance. To say how much a policy is *worth* — with a confidence interval —
# compare it over several replications: see `02-policy-what-if` and `03-recovery-analysis`.
