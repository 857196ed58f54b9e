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
# # Email preview: what customers actually receive
#
# Numbers say whether an email is worth sending; this notebook shows what it says. Every email type
# renders from the same templates the simulation's email log refers to, in five locales and under each
# shipped brand, as HTML and as the plain-text part that goes with it.
#
# The second half follows **one simulated customer**: the payment that failed, every email the policy
# sent, what the customer did, and the email log as the customer would see it on a given day.

# %% tags=["parameters"]
import os

CUSTOMERS = int(os.environ.get("RECOVERY_SIM_CUSTOMERS", "20000"))
MONTHS = int(os.environ.get("RECOVERY_SIM_MONTHS", "12"))
SEED = int(os.environ.get("RECOVERY_SIM_SEED", "7"))
POLICY = os.environ.get("RECOVERY_SIM_POLICY", "all-on")  # decides which emails are sent and their links
BRAND = os.environ.get("RECOVERY_SIM_BRAND", "")  # empty: the last shipped brand

# %%
import datetime as dt

import recovery_sim as rs

policy = rs.Policy.named(POLICY)
brand = BRAND or rs.shipped_brand_names()[-1]

nb = rs.notebook  # tables, charts and controls for notebooks

# %% [markdown]
# ## Any type, any locale, any brand
#
# The facts come from `sample_context`: a believable customer per locale (a French customer pays in
# euros, a Brazilian one in reais and by Boleto), one plausible case per email type. Links are signed
# with a preview key; the policy decides which links an email carries. The HTML part is shown in a
# sandboxed frame, so its styles cannot leak into the notebook.

# %%
nb.email_picker(policy, email_type="payment_failed", locale="fr", brand=brand)

# %% [markdown]
# Every email that asks the customer to act (R4–R9), in every locale: a quick check that each one
# renders and reads right. Amounts and dates follow each locale's conventions; dates are in the
# customer's time zone.

# %%
nb.table(nb.subjects(policy, brand), title=f"Subject lines under {POLICY}, brand {brand}")

# %% [markdown]
# ## One customer's story
#
# Simulate the scenario under the policy and pick a customer whose renewal failed and who then paid
# through the link in an email: the case every recovery email is written for.

# %%
scenario = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)
run = rs.simulate(scenario, policy, seed=SEED)
invoice = nb.recovered_by_email(run)
customer = run.customers.filter(customer_id=invoice["customer_id"])
nb.table(customer.drop("signup_at", strict=False), title="The customer")

# %% [markdown]
# Events and emails around that invoice, on one timeline: from the day before it was issued to a week
# after it was paid. *customer acted* marks the email the customer acted on.

# %%
since, until = invoice["created_at"] - 1, invoice["paid_at"] + 7
nb.table(nb.timeline(run, invoice["customer_id"], since, until), rows=60)

# %% [markdown]
# Each of those emails rendered from the logs, as that customer received it. Facts a log cannot know —
# the customer's name, the card's last digits — are placeholders, never invented as if real.

# %%
emails = nb.received(run, invoice["customer_id"], since, until, policy, brand)
nb.table(nb.inbox(emails))

# %%
first_ask = next(r for r in emails if r.email.email_type in nb.ASKING_TYPES)
nb.EmailView(
    first_ask.email, caption=f"Sent {first_ask.sent_at:%Y-%m-%d %H:%M %Z}, the first that asked to act"
)

# %% [markdown]
# ## The email log, day by day
#
# The customer's email log (R13) is rebuilt once a day and covers the previous 30 days: an email sent
# today appears tomorrow, and drops out a month later. Here it is on the day of the first email, the day
# after, and 31 days after.

# %%
sent_day = first_ask.sent_at.date()
for as_of in (sent_day, sent_day + dt.timedelta(days=1), sent_day + dt.timedelta(days=31)):
    display(nb.table(rs.email_log(run, invoice["customer_id"], as_of), title=f"As of {as_of}"))
