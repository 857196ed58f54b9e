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
POLICY = os.environ.get("RECOVERY_SIM_POLICY", "all-on")

# %%
import datetime as dt
import html

import ipywidgets as widgets
import polars as pl
from IPython.display import HTML, display

import recovery_sim as rs
from recovery_sim import (
    SUPPORTED_LOCALES,
    Branding,
    RenderedEmail,
    charts,
    context_from_log,
    render_email,
    sample_context,
    shipped_brand_names,
)

policy = rs.Policy.named(POLICY)
BRANDS = ["default", *shipped_brand_names()]


def brand(name: str) -> Branding | None:
    return None if name == "default" else Branding.named(name)


def show_email(email: RenderedEmail, height: int = 640) -> HTML:
    """The HTML part in a sandboxed frame (its styles cannot leak into the notebook), then the text part."""
    frame = (
        f'<iframe srcdoc="{html.escape(email.html, quote=True)}" sandbox '
        f'style="width: 100%; max-width: 720px; height: {height}px; border: 1px solid #ddd"></iframe>'
    )
    wrap = "white-space: pre-wrap; overflow-wrap: anywhere; max-width: 720px"
    text = f'<pre style="{wrap}">{html.escape(email.text)}</pre>'
    header = (
        f"<b>Subject:</b> {html.escape(email.subject)}<br><b>Preheader:</b> {html.escape(email.preheader)}"
    )
    return HTML(f"<p>{header}</p>{frame}<p><b>Plain-text part</b></p>{text}")


# %% [markdown]
# ## Any type, any locale, any brand
#
# The facts come from `sample_context`: a believable customer per locale (a French customer pays in
# euros, a Brazilian one in reais and by Boleto), one plausible case per email type. Links are signed
# with a preview key; the policy decides which links an email carries (here: `all-on`, so hosted update
# and subscription-management links).


# %%
def preview(email_type: str, locale: str, brand_name: str) -> RenderedEmail:
    context = sample_context(email_type, locale)
    return render_email(email_type, context, locale=locale, branding=brand(brand_name), policy=policy)


picker = {
    "email_type": widgets.Dropdown(options=[t.value for t in rs.EmailType], description="Email"),
    "locale": widgets.Dropdown(options=list(SUPPORTED_LOCALES), value="fr", description="Locale"),
    "brand_name": widgets.Dropdown(options=BRANDS, value=BRANDS[-1], description="Brand"),
}
shown = widgets.interactive_output(lambda **choice: display(show_email(preview(**choice))), picker)
display(widgets.HBox(list(picker.values())), shown)

# %% [markdown]
# Every email that asks the customer to act (R4–R9), in every locale: a quick check that each one
# renders and reads right. Amounts and dates follow each locale's conventions; dates are in the
# customer's time zone.

# %%
ASKING = [
    "payment_failed",
    "payment_action_required",
    "payment_action_reminder",
    "invoice_reminder",
    "trial_will_end",
    "trial_ended_paused",
    "upcoming_renewal",
    "card_expiring",
]
pl.DataFrame(
    [
        {"email": kind, **{locale: preview(kind, locale, "default").subject for locale in SUPPORTED_LOCALES}}
        for kind in ASKING
    ]
)

# %% [markdown]
# ## One customer's story
#
# Simulate the scenario under the policy and pick a customer whose renewal failed and who then paid
# through the link in an email: the case every recovery email is written for.

# %%
scenario = rs.Scenario.default().scaled(customers=CUSTOMERS, months=MONTHS)
run = rs.simulate(scenario, policy, seed=SEED)

saved = run.invoices.filter(pl.col("at_risk") & (pl.col("paid_by").cast(pl.String) == "customer_link"))
variety = (
    run.emails.join(saved.select("invoice_id"), on="invoice_id")
    .group_by("invoice_id")
    .agg(pl.col("email_type").n_unique().alias("types"), pl.len().alias("emails"))
    .sort(["types", "emails", "invoice_id"], descending=[True, True, False])
)
invoice = saved.filter(pl.col("invoice_id") == variety["invoice_id"][0]).row(0, named=True)
customer_id = invoice["customer_id"]
customer = run.customers.filter(pl.col("customer_id") == customer_id).row(0, named=True)
print(
    f"Customer {customer_id}: {customer['cohort']}, {customer['plan']} "
    f"({charts.format_money(customer['price'], customer['currency'])}), locale {customer['locale']}, "
    f"pays by {customer['payment_method']}; status at the horizon: {customer['final_status']}"
)

# %% [markdown]
# Events and emails around that invoice, on one timeline: from the day before it was issued to a week
# after it was paid. *customer acted* marks the email the customer acted on.

# %%
window = (pl.col("time") >= invoice["created_at"] - 1) & (pl.col("time") <= invoice["paid_at"] + 7)
events = run.events.filter((pl.col("customer_id") == customer_id) & window).sort("time")
emails = run.emails.filter((pl.col("customer_id") == customer_id) & window).sort("time")
timeline = pl.concat(
    [
        events.select(
            "at",
            pl.lit("event").alias("what"),
            pl.col("kind").cast(pl.String).alias("name"),
            pl.struct("amount", "currency")
            .map_elements(
                lambda e: charts.format_money(e["amount"], e["currency"]) if e["amount"] else "",
                return_dtype=pl.String,
            )
            .alias("amount"),
            pl.col("decline_code").cast(pl.String).alias("detail"),
            pl.col("actor").cast(pl.String).alias("by"),
        ),
        emails.select(
            pl.col("sent_at").alias("at"),
            pl.lit("email").alias("what"),
            pl.col("email_type").cast(pl.String).alias("name"),
            pl.lit("").alias("amount"),
            pl.when(pl.col("link_included")).then(pl.lit("with link")).otherwise(pl.lit("")).alias("detail"),
            pl.when(pl.col("acted")).then(pl.lit("customer acted")).otherwise(pl.lit("")).alias("by"),
        ),
    ]
).sort("at", "what", descending=[False, True])
with pl.Config(tbl_rows=60, fmt_str_lengths=40):
    display(timeline)

# %% [markdown]
# Each of those emails rendered from the logs, as that customer received it. Facts a log cannot know —
# the customer's name, the card's last digits — are placeholders, never invented as if real.

# %%
own_events = run.events.filter(pl.col("customer_id") == customer_id).sort("time").to_dicts()
rendered = [
    render_email(
        row["email_type"],
        context_from_log(row, customer, own_events),
        locale=customer["locale"],
        branding=brand(BRANDS[-1]),
        policy=policy,
    )
    for row in emails.to_dicts()
]
pl.DataFrame(
    {
        "sent": emails["sent_at"],
        "type": [email.email_type.value for email in rendered],
        "subject": [email.subject for email in rendered],
    }
)

# %%
first_ask = next(e for e in rendered if e.email_type.value in ASKING)
show_email(first_ask)

# %% [markdown]
# ## The email log, day by day
#
# The customer's email log (R13) is rebuilt once a day and covers the previous 30 days: an email sent
# today appears tomorrow, and drops out a month later. Here it is on the day of the first email, the day
# after, and 31 days after.

# %%
sent_day = emails.filter(pl.col("email_type").cast(pl.String) == first_ask.email_type.value)["sent_at"][
    0
].date()
for as_of in (sent_day, sent_day + dt.timedelta(days=1), sent_day + dt.timedelta(days=31)):
    log = rs.email_log(run, customer_id, as_of)
    print(f"As of {as_of}: {log.height} email(s)")
    display(log)
