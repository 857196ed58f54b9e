"""Which links an email carries, decided by `rules` and signed by `links` (SPEC R3, R3a, R3b, R5, R10,
R11).

Nothing here re-implements a rule: `rules.carries_update_link` says whether the type carries an
update-payment link at all (R3, R10b), `rules.link_live_until` when it dies (R11a/c/d),
`rules.foreseen_link_deadline` what the email already knows will end it sooner (an expiring payment,
R8; the end of dunning, R11b), `rules.link_is_live` whether it is still alive when the email goes out
(R11b), `rules.carries_management_link` whether the subscription-management link is shown (R3b), and
`rules.carries_invoice_link` whether a send_invoice email links the invoice's own page (R5, R10b).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from recovery_sim.domain import rules
from recovery_sim.domain.enums import EmailType
from recovery_sim.emails.branding import Branding
from recovery_sim.emails.context import EmailContext, epoch_days, from_epoch_days
from recovery_sim.emails.links import INVOICE_PURPOSE, MANAGEMENT_PURPOSE, SigningKey, sign_link
from recovery_sim.settings.config import ConfigError, Policy


@dataclass(frozen=True, slots=True)
class LinkPlan:
    update_url: str | None
    """The hosted (or custom, R3a) update-payment link, or None."""
    management_url: str | None
    """The subscription-management link (R3b), or None."""
    live_until: dt.datetime | None
    """When the update link stops working (R11), if the email type carries one."""
    carries_update_link: bool
    """R3/R10b: the type carries an update link for this collection method."""
    invoice_url: str | None = None
    """The invoice's own hosted page (R5 on send_invoice; R10b does not forbid it), or None."""

    @property
    def link_withheld(self) -> bool:
        """R11: a link was due but is dead at send time, so the email points to support instead."""
        return self.carries_update_link and self.update_url is None


def _days(moment: dt.datetime | None) -> float | None:
    return epoch_days(moment) if moment is not None else None


def link_deadline(email_type: EmailType, context: EmailContext) -> dt.datetime:
    """R11a/R11c/R11d via `rules.link_live_until` (or the context's own deadline when it knows one),
    brought forward by `rules.foreseen_link_deadline` to what the email itself says ends it."""
    until = epoch_days(_rule_deadline(email_type, context))
    foreseen = rules.foreseen_link_deadline(
        until,
        payment_expires_at=_days(context.payment_expires_at),
        dunning_ends_at=_days(context.dunning_ends_at),
        end_action=context.end_action,
    )
    if foreseen == until:
        return _rule_deadline(email_type, context)  # keep the given instant to the microsecond
    return max(from_epoch_days(foreseen), context.sent_at)


def _rule_deadline(email_type: EmailType, context: EmailContext) -> dt.datetime:
    if context.link_live_until is not None:
        return context.link_live_until
    sent = epoch_days(context.sent_at)
    if context.period_end is None and email_type not in rules.TRIAL_LINK_TYPES:
        raise ConfigError(
            f"email context: {email_type.value} emails carry a hosted link (update-payment or management) "
            "that dies when the period ends (SPEC R11d); give period_end or link_live_until"
        )
    period_end = epoch_days(context.period_end) if context.period_end is not None else sent
    until = rules.link_live_until(
        email_type,
        sent,
        period_end,
        trial_end=epoch_days(context.trial_end) if context.trial_end is not None else None,
        had_payment_method_at_trial_end=context.had_payment_method,
    )
    return from_epoch_days(until)


def _alive(context: EmailContext, live_until: dt.datetime) -> bool:
    """R11: `rules.link_is_live` at the moment of sending."""
    since = epoch_days(context.status_since) if context.status_since is not None else -rules.NEVER
    return rules.link_is_live(
        epoch_days(live_until), epoch_days(context.sent_at), context.subscription_status, since
    )


def with_token(url: str, token: str) -> str:
    """A custom page's URL (R3a) with the signed token added as `token=` to its query."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def plan_links(
    email_type: EmailType, context: EmailContext, policy: Policy, branding: Branding, key: SigningKey
) -> LinkPlan:
    carries = rules.carries_update_link(email_type, context.collection_method)  # R3, R10b
    update_url = live_until = None
    # A replayed log's link_included=False means the link was already dead when the email went out.
    if carries and context.link_included is not False:
        live_until = link_deadline(email_type, context)
        if _alive(context, live_until):  # R11
            token = sign_link(context.subscription_id, email_type.value, live_until, key)  # R10a
            if policy.links.update_payment == "custom" and policy.links.update_payment_url:  # R3a
                update_url = with_token(policy.links.update_payment_url, token)
            else:
                update_url = f"{branding.hosted_page_url}/{token}"
    return LinkPlan(
        update_url=update_url,
        management_url=_management_url(email_type, context, policy, branding, key, live_until),
        live_until=live_until,
        carries_update_link=carries,
        invoice_url=_invoice_url(email_type, context, branding, key),
    )


def _invoice_url(
    email_type: EmailType, context: EmailContext, branding: Branding, key: SigningKey
) -> str | None:
    """R5: the invoice's own page on send_invoice emails, signed for this invoice's subscription and
    good for `rules.INVOICE_LINK_LIFETIME_DAYS` from sending (each reminder brings a fresh one)."""
    if not rules.carries_invoice_link(email_type, context.collection_method) or context.invoice_id is None:
        return None
    expires = context.sent_at + dt.timedelta(days=rules.INVOICE_LINK_LIFETIME_DAYS)
    token = sign_link(context.subscription_id, f"{INVOICE_PURPOSE}:{context.invoice_id}", expires, key)
    return f"{branding.hosted_page_url}/invoice/{token}"


def _management_url(
    email_type: EmailType,
    context: EmailContext,
    policy: Policy,
    branding: Branding,
    key: SigningKey,
    live_until: dt.datetime | None,
) -> str | None:
    """R3b: the configured subscription-management page; a hosted one is signed and dies like any link."""
    if not rules.carries_management_link(policy, email_type, context.collection_method):
        return None
    setting = policy.links
    if setting.subscription_management == "custom":
        return setting.subscription_management_url
    if context.link_included is False:
        return None  # a replayed log says this email's hosted link was dead; so is this one (R11b)
    deadline = live_until or link_deadline(email_type, context)
    if not _alive(context, deadline):  # R11b applies to every hosted link
        return None
    token = sign_link(context.subscription_id, MANAGEMENT_PURPOSE, deadline, key)
    return f"{branding.hosted_page_url}/manage/{token}"
