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

# %%
import tempfile
from pathlib import Path

import polars as pl

import recovery_sim as rs
from recovery_sim import charts
from recovery_sim.calibrate import calibrate
from recovery_sim.experiment import InlineExecutor, compare
from recovery_sim.replay import replay
from recovery_sim.stripe_export import export_stripe
from recovery_sim.stripe_import import load_export

run_options = {"workers": WORKERS or None} if WORKERS != 1 else {"executor": InlineExecutor()}

# %% [markdown]
# ## A sample export
#
# A simulated history under the `none` policy — no customer emails, as a business that has not switched
# them on yet — written as Stripe customers, subscriptions, invoices, charges and payment methods, plus
# the Dashboard's invoice CSV. Because it comes from a simulation, its true parameters are known, which
# lets the calibration below be checked against them.

# %%
truth = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)
if EXPORT_DIR:
    export_dir = Path(EXPORT_DIR)
else:
    export_dir = Path(tempfile.mkdtemp(prefix="stripe-export-"))
    history = rs.simulate(truth, rs.Policy.named("none"), seed=SEED)
    export_stripe(history, export_dir)
pl.DataFrame(
    {"file": [p.name for p in sorted(export_dir.iterdir())],
     "kB": [round(p.stat().st_size / 1024, 1) for p in sorted(export_dir.iterdir())]}
)  # fmt: skip

# %% [markdown]
# ## 1. Import
#
# The importer reads the files into the simulator's event-log schema: the same columns, so every metric
# and chart of the other notebooks works on real history.

# %%
imported = load_export(export_dir)
print(f"{imported.invoices.height:,} invoices, {imported.events.height:,} events")
imported.invoices.head()

# %% [markdown]
# ## 2. Replay under a policy
#
# The rules module decides, for each real invoice, which emails `recommended-minimum` would have sent and
# when — the same rules the simulator and the previews use. Replay does not invent customer reactions:
# it shows the emails a policy *would* have sent on this history, not what customers would have done.

# %%
replayed = replay(imported, rs.Policy.named("recommended-minimum"))
replayed.emails.group_by(pl.col("email_type").cast(pl.String)).agg(pl.len().alias("emails")).sort(
    "email_type"
)

# %% [markdown]
# ## 3. Calibrate a scenario
#
# Fitted from the history: first-attempt failure rates, the decline mix, plans, prices and currencies.
# Next to the true values of the simulation that produced the export.

# %%
calibrated = calibrate(imported)
pl.DataFrame(
    [
        {
            "cohort": cohort.name,
            "customers": cohort.customers,
            "failure rate (fitted)": f"{cohort.first_attempt_failure_rate:.2%}",
            "plans": ", ".join(
                f"{plan.name} {charts.format_money(plan.price, plan.currency)}" for plan in cohort.plans
            ),
        }
        for cohort in calibrated.cohorts
    ]
)

# %%
pl.DataFrame(
    [
        {
            "cohort": c.name,
            "customers": c.customers,
            "failure rate (true)": f"{c.first_attempt_failure_rate:.2%}",
        }
        for c in truth.cohorts
    ]
)

# %% [markdown]
# ## 4. Compare policies on the calibrated scenario
#
# With a scenario fitted to the business's own history, the comparison of the other notebooks applies:
# what would the recommended minimum and every reminder have collected beyond no emails at all?

# %%
policies = {name: rs.Policy.named(name) for name in ("none", "recommended-minimum", "all-on")}
comparison = compare(calibrated, policies, replications=REPLICATIONS, seed=SEED, **run_options)
currency = comparison.currencies[0]
charts.revenue_by_policy(comparison.table, currency)
