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
# # Policy what-if: switch emails on and off, see what they are worth
#
# Pick the emails you would send, the retry schedule and what happens at the end of dunning; every
# change re-runs a **paired comparison** against the baseline policy (`none`: no customer emails,
# default retries). Both arms see the same customers, cards and payment failures in each replication,
# so the difference — with its 95% confidence interval — is the effect of your settings alone.
#
# The scenario knobs change the world rather than the policy: how many customers, how often first
# payment attempts fail (as a multiple of the default scenario's rates), and how often the card
# networks' account updater replaces an expiring card before it fails. The currency only chooses
# which currency's results are shown; amounts are never added across currencies.
#
# The run is kept small so that each change answers in seconds; raise the replications in the next
# cell for tighter intervals.

# %% tags=["parameters"]
import os

CUSTOMERS = int(os.environ.get("RECOVERY_SIM_CUSTOMERS", "5000"))
REPLICATIONS = int(os.environ.get("RECOVERY_SIM_REPLICATIONS", "5"))
MONTHS = int(os.environ.get("RECOVERY_SIM_MONTHS", "12"))
SEED = int(os.environ.get("RECOVERY_SIM_SEED", "7"))
WORKERS = int(os.environ.get("RECOVERY_SIM_WORKERS", "0"))  # 0: every core; 1: in this process
PRESET = os.environ.get("RECOVERY_SIM_POLICY", "recommended-minimum")  # where the switches start
BASELINE = os.environ.get("RECOVERY_SIM_BASELINE", "none")
CURRENCY = os.environ.get("RECOVERY_SIM_CURRENCY", "")  # empty: the currency with most revenue

# %%
import recovery_sim as rs

scenario = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)

nb = rs.notebook  # tables, charts and controls for notebooks

# %% [markdown]
# ## The controls
#
# *Start from* loads a shipped policy into the switches; then change anything. Email switches follow
# the rule numbers of the specification (R4–R9). The renewal reminder's lead time only matters when
# R7 is on; the retry window and attempts apply to both retry modes. The result below the controls
# states the settings it was computed with.

# %%
panel = nb.policy_panel(
    scenario, preset=PRESET, baseline=BASELINE, replications=REPLICATIONS, seed=SEED, workers=WORKERS,
    currency=CURRENCY or None,
)  # fmt: skip
panel

# %% [markdown]
# ## Reading the result
#
# - **revenue collected vs baseline** is the headline: the paired difference in money collected over
#   the horizon. If its interval excludes zero, the settings make a difference at this sample size.
# - **recovery rate** counts only invoices whose first attempt failed or needed confirmation; emails
#   that prevent failures (card-expiry warnings, the card updater) shrink the at-risk revenue instead,
#   which shows up as *failures prevented*.
# - **cancellations after a renewal reminder** is the price of R7: some customers, reminded of a
#   renewal, cancel it.

# %% [markdown]
# ## The same computation from code
#
# The controls only collect settings (`panel.settings()`, a plain dictionary); `nb.what_if` turns
# settings into a comparison. Scripting a few what-ifs is then one line each — here the panel's
# settings with the card-expiry warning (R9) switched on:

# %%
card_expiring = nb.what_if(
    panel.settings() | {"emails.card_expiring": True}, scenario, baseline=BASELINE,
    replications=REPLICATIONS, seed=SEED, executor=panel.executor, currency=CURRENCY or None,
)  # fmt: skip
card_expiring
