"""Emails in a notebook: one rendered email in a sandboxed frame, a picker of type × locale × brand, and
one simulated customer's story (the invoice, its events and emails, each email as received).

Like the policy panel, the picker draws its preview in an ordinary output updated in place, so a saved
notebook or an HTML export keeps the last preview even where the dropdowns cannot be shown.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Any

import polars as pl

from recovery_sim.api import Run
from recovery_sim.domain.email_types import types_where
from recovery_sim.domain.enums import EmailType
from recovery_sim.emails import Branding, RenderedEmail, render_email, sample_context, shipped_brand_names
from recovery_sim.emails.replay import context_from_log
from recovery_sim.settings.config import SUPPORTED_LOCALES, Policy

ASKING_TYPES = [t for t in EmailType if t in types_where(lambda facts: facts.asks_to_act)]
"""The emails that ask the customer to act (R4-R9), in the order of `EmailType`."""
DEFAULT_BRAND = "default"


def brands() -> list[str]:
    """The unbranded look first, then every shipped brand."""
    return [DEFAULT_BRAND, *shipped_brand_names()]


def _branding(name: str) -> Branding | None:
    return None if name == DEFAULT_BRAND else Branding.named(name)


@dataclass(frozen=True)
class EmailView:
    """A rendered email as a notebook shows it: the HTML part in a sandboxed frame (its styles cannot
    leak into the notebook, and it needs no network), then the plain-text part."""

    email: RenderedEmail
    height: int = 640
    caption: str = ""

    def _repr_html_(self) -> str:
        email = self.email
        frame = (
            f'<iframe srcdoc="{html.escape(email.html, quote=True)}" sandbox '
            f'title="{html.escape(email.subject)}" style="width: 100%; max-width: 720px; '
            f'height: {self.height}px; border: 1px solid #ddd"></iframe>'
        )
        wrap = "white-space: pre-wrap; overflow-wrap: anywhere; max-width: 720px"
        caption = f"<p><i>{html.escape(self.caption)}</i></p>" if self.caption else ""
        return (
            f"{caption}<p><b>Subject:</b> {html.escape(email.subject)}<br>"
            f"<b>Preheader:</b> {html.escape(email.preheader)}</p>{frame}"
            f'<p><b>Plain-text part</b></p><pre style="{wrap}">{html.escape(email.text)}</pre>'
        )

    def __repr__(self) -> str:
        return f"Subject: {self.email.subject}\n\n{self.email.text}"


def preview(email_type: EmailType | str, locale: str, brand: str, policy: Policy) -> RenderedEmail:
    """`email_type` with believable sample facts for a customer of `locale`, under `brand` and `policy`."""
    context = sample_context(email_type, locale)
    return render_email(email_type, context, locale=locale, branding=_branding(brand), policy=policy)


def subjects(policy: Policy, brand: str = DEFAULT_BRAND) -> pl.DataFrame:
    """Subject line of every email that asks the customer to act, in every locale."""
    return pl.DataFrame(
        [
            {"email": t.value, **{loc: preview(t, loc, brand, policy).subject for loc in SUPPORTED_LOCALES}}
            for t in ASKING_TYPES
        ]
    )


class EmailPicker:
    """Dropdowns for email type, locale and brand; the preview below follows them."""

    def __init__(
        self,
        policy: Policy,
        *,
        email_type: str = "payment_failed",
        locale: str = "fr",
        brand: str | None = None,
    ):
        import ipywidgets as widgets

        self.policy = policy
        choices = brands()
        self.controls = {
            "email_type": widgets.Dropdown(
                options=[t.value for t in EmailType], value=email_type, description="Email"
            ),
            "locale": widgets.Dropdown(options=list(SUPPORTED_LOCALES), value=locale, description="Locale"),
            "brand": widgets.Dropdown(options=choices, value=brand or choices[-1], description="Brand"),
        }  # fmt: skip
        self._handle = None
        for control in self.controls.values():
            control.observe(lambda _change: self._redraw(), names="value")

    def view(self) -> EmailView:
        """The preview for the dropdowns' current choice."""
        choice = {key: control.value for key, control in self.controls.items()}
        caption = " · ".join(
            [
                choice["email_type"],
                f"locale {choice['locale']}",
                f"brand {choice['brand']}",
                f"policy {self.policy.name}",
            ]
        )
        return EmailView(preview(**choice, policy=self.policy), caption=caption)

    def _redraw(self) -> None:
        if self._handle is not None:
            self._handle.update(self.view())

    def _ipython_display_(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        from recovery_sim.notebook.panel import WidgetWithNote

        note = "<p><i>Email picker: open the notebook in JupyterLab to choose another email.</i></p>"
        display(WidgetWithNote(widgets.HBox(list(self.controls.values())), note))
        self._handle = display(self.view(), display_id=True)


def email_picker(policy: Policy | str = "all-on", **choice: Any) -> EmailPicker:
    """Pick any email type, locale and brand and see it rendered under `policy`."""
    return EmailPicker(Policy.named(policy) if isinstance(policy, str) else policy, **choice)


# -------------------------------------------------------------------------------- one customer's story


def recovered_by_email(run: Run) -> dict[str, Any]:
    """The at-risk invoice paid through an email's link that received the most kinds of email."""
    saved = run.invoices.filter(pl.col("at_risk") & (pl.col("paid_by").cast(pl.String) == "customer_link"))
    if saved.is_empty():
        raise ValueError("no invoice in this run was paid through an email's link; simulate more customers")
    variety = (
        run.emails.join(saved.select("invoice_id"), on="invoice_id")
        .group_by("invoice_id")
        .agg(pl.col("email_type").n_unique().alias("types"), pl.len().alias("emails"))
        .sort(["types", "emails", "invoice_id"], descending=[True, True, False])
    )
    return saved.filter(pl.col("invoice_id") == variety["invoice_id"][0]).row(0, named=True)


def timeline(run: Run, customer_id: int, since: float, until: float) -> pl.DataFrame:
    """Events and emails of one customer between two simulation days, on one time-ordered frame."""
    window = pl.col("time").is_between(since, until)
    events = run.events.filter((pl.col("customer_id") == customer_id) & window)
    emails = run.emails.filter((pl.col("customer_id") == customer_id) & window)
    return pl.concat(
        [
            events.select(
                "at",
                pl.lit("event").alias("what"),
                pl.col("kind").cast(pl.String).alias("name"),
                pl.when(pl.col("amount") > 0).then(pl.col("amount")).alias("amount"),
                pl.col("currency").cast(pl.String),
                pl.col("decline_code").cast(pl.String).alias("detail"),
                pl.col("actor").cast(pl.String).alias("by"),
            ),
            emails.select(
                pl.col("sent_at").alias("at"),
                pl.lit("email").alias("what"),
                pl.col("email_type").cast(pl.String).alias("name"),
                pl.lit(None, pl.Int64).alias("amount"),
                pl.lit(None, pl.String).alias("currency"),
                pl.when(pl.col("link_included"))
                .then(pl.lit("with link"))
                .otherwise(pl.lit(""))
                .alias("detail"),
                pl.when(pl.col("acted")).then(pl.lit("customer acted")).otherwise(pl.lit("")).alias("by"),
            ),
        ]
    ).sort("at", "what", descending=[False, True])


@dataclass(frozen=True)
class Received:
    """One email as the customer received it: when, whether they acted on it, and the email itself."""

    sent_at: dt.datetime
    acted: bool
    email: RenderedEmail


def received(
    run: Run, customer_id: int, since: float, until: float, policy: Policy, brand: str = DEFAULT_BRAND
) -> list[Received]:
    """Each email the customer was sent between two simulation days, rendered from the logs.

    Facts a log cannot know (the customer's name, the card's last digits) stay placeholders."""
    customer = run.customers.filter(pl.col("customer_id") == customer_id).row(0, named=True)
    events = run.events.filter(pl.col("customer_id") == customer_id).sort("time").to_dicts()
    window = (pl.col("customer_id") == customer_id) & pl.col("time").is_between(since, until)
    branding = _branding(brand)
    return [
        Received(
            row["sent_at"],
            row["acted"],
            render_email(
                row["email_type"], context_from_log(row, customer, events, policy=policy, branding=branding),
                locale=customer["locale"], branding=branding, policy=policy,
            ),
        )
        for row in run.emails.filter(window).sort("time").to_dicts()
    ]  # fmt: skip


def inbox(emails: list[Received]) -> pl.DataFrame:
    """Received emails as rows: when, which type, the subject line, and whether the customer acted."""
    return pl.DataFrame(
        {
            "sent_at": [r.sent_at for r in emails],
            "type": [r.email.email_type.value for r in emails],
            "subject": [r.email.subject for r in emails],
            "acted": [r.acted for r in emails],
        },
        schema={
            "sent_at": pl.Datetime("us", "UTC"),
            "type": pl.String,
            "subject": pl.String,
            "acted": pl.Boolean,
        },
    )
