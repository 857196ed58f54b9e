"""One test per SPEC rule, checked on rendered output: the rule ids are in the test names."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from recovery_sim.domain import rules
from recovery_sim.domain.enums import CollectionMethod, EmailType, SubscriptionStatus
from recovery_sim.emails import (
    Branding,
    ExpiredLink,
    TamperedLink,
    WrongPurpose,
    WrongSubscription,
    render_email,
    verify_link,
)
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import Policy

HOSTED = "https://billing.northwind.example/p/"
UTC = dt.UTC


def _token(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("token=")[-1]


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def _hosted_account_links(text: str) -> list[str]:
    """Hosted update-payment or management links (R3, R3b); the invoice's own page is not one (R5)."""
    return [
        u for u in re.findall(re.escape(HOSTED) + r"[^\s\"<]*", text) if not u.startswith(HOSTED + "invoice/")
    ]


def test_R2_brand_name_colour_logo_and_support_appear(key):
    for name in ("northwind", "acme-noir"):
        brand = Branding.named(name)
        email = render_email("payment_failed", sample_context("payment_failed"), branding=brand, key=key)
        assert brand.name in email.html and brand.name in email.text
        assert brand.primary_color.lower() in email.html.lower()  # the button
        assert brand.support_email in email.html and brand.support_email in email.text
        assert f'alt="{brand.name}"' in email.html and 'src="data:image/svg+xml;base64,' in email.html
        assert brand.legal_address.split(",")[0] in email.html


def test_R2_brand_without_logo_falls_back_to_its_name(key):
    brand = Branding.named("northwind").model_copy(update={"logo": None})
    email = render_email("invoice_paid", sample_context("invoice_paid"), branding=brand, key=key)
    assert "<img" not in email.html and 'class="brand-name"' in email.html


@pytest.mark.parametrize("kind", sorted(rules.UPDATE_LINK_TYPES), ids=lambda k: k.value)
def test_R3_update_link_on_each_R3_type(kind, key):
    facts = sample_context(kind, "en")
    email = render_email(kind, facts, "en", key=key)
    assert email.update_url and email.update_url.startswith(HOSTED)
    assert email.update_url in _hrefs(email.html) and email.update_url in email.text
    claims = verify_link(_token(email.update_url), key, facts.sent_at, subscription_id=facts.subscription_id)
    assert claims.purpose == kind.value


@pytest.mark.parametrize("kind", sorted(set(EmailType) - rules.UPDATE_LINK_TYPES), ids=lambda k: k.value)
def test_R3_no_update_link_on_other_types(kind, key):
    email = render_email(kind, sample_context(kind, "en"), "en", key=key)
    assert email.update_url is None and not _hosted_account_links(email.html)


def test_R3a_custom_update_page_receives_the_signed_token(key):
    policy = Policy.model_validate(
        {"links": {"update_payment": "custom", "update_payment_url": "https://example.com/billing?src=email"}}
    )
    facts = sample_context("payment_failed")
    email = render_email("payment_failed", facts, policy=policy, key=key)
    assert email.update_url.startswith("https://example.com/billing?src=email&token=")
    assert HOSTED not in email.html and email.update_url.replace("&", "&amp;") in email.html
    verify_link(_token(email.update_url), key, facts.sent_at, subscription_id=facts.subscription_id)


def test_R3b_management_link_only_when_configured(key):
    facts = sample_context("upcoming_renewal")
    none = render_email("upcoming_renewal", facts, policy=Policy(), key=key)
    assert none.management_url is None and "/manage/" not in none.html

    hosted = render_email("upcoming_renewal", facts, policy=Policy.named("all-on"), key=key)
    assert hosted.management_url.startswith(HOSTED + "manage/")
    assert hosted.management_url in _hrefs(hosted.html) and hosted.management_url in hosted.text
    claims = verify_link(_token(hosted.management_url), key, facts.sent_at, facts.subscription_id)
    assert claims.purpose == "subscription_management"
    with pytest.raises(WrongPurpose):  # a management link cannot be used as a payment link
        verify_link(_token(hosted.management_url), key, facts.sent_at, purpose="upcoming_renewal")

    custom = Policy.model_validate(
        {
            "links": {
                "subscription_management": "custom",
                "subscription_management_url": "https://example.com/account",
            }
        }
    )
    mine = render_email("upcoming_renewal", facts, policy=custom, key=key)
    assert (
        mine.management_url == "https://example.com/account"
        and 'href="https://example.com/account"' in mine.html
    )


def test_R3b_management_link_follows_rules_for_each_type(key):
    policy = Policy.named("all-on")
    for kind in EmailType:
        facts = sample_context(kind, "en")
        email = render_email(kind, facts, policy=policy, key=key)
        expected = rules.carries_management_link(policy, kind, facts.collection_method)
        if kind is EmailType.SUBSCRIPTION_CANCELED:
            expected = False  # R11b: a canceled subscription's hosted links are dead
        assert (email.management_url is not None) == expected, kind


def _renewal(at: dt.datetime, customer_tz: str | None, account_tz: str | None, key) -> str:
    brand = Branding.named("northwind").model_copy(update={"timezone": account_tz})
    facts = sample_context("upcoming_renewal", "en", customer_timezone=customer_tz, period_end=at)
    email = render_email("upcoming_renewal", facts, "en", brand, key=key)
    assert email.subject.startswith("Your subscription renews on ")
    return email.subject.removeprefix("Your subscription renews on ")


def test_R7b_renewal_date_in_customer_time_zone(key):
    at = dt.datetime(2026, 3, 9, 12, 30, tzinfo=UTC)  # already March 10 in Auckland (UTC+13)
    assert _renewal(at, "Pacific/Auckland", "Europe/Paris", key) == "March 10, 2026"


def test_R7b_falls_back_to_account_time_zone(key):
    at = dt.datetime(2026, 3, 9, 5, 0, tzinfo=UTC)  # still March 8 in Los Angeles (UTC-7)
    assert _renewal(at, None, "America/Los_Angeles", key) == "March 8, 2026"


def test_R7b_falls_back_to_utc(key):
    at = dt.datetime(2026, 3, 9, 23, 30, tzinfo=UTC)  # March 10 in Paris, March 9 in UTC
    assert _renewal(at, None, None, key) == "March 9, 2026"
    assert rules.display_timezone(None, None) == "UTC"


def test_R7b_renewal_date_in_body_and_facts_too(key):
    at = dt.datetime(2026, 3, 9, 12, 30, tzinfo=UTC)
    facts = sample_context("upcoming_renewal", "fr", customer_timezone="Pacific/Auckland", period_end=at)
    email = render_email("upcoming_renewal", facts, "fr", key=key)
    assert "10 mars 2026" in email.text and "9 mars 2026" not in email.text


def test_R10a_token_verifies_and_tampering_is_rejected(key):
    facts = sample_context("payment_failed")
    email = render_email("payment_failed", facts, key=key)
    token = _token(email.update_url)
    claims = verify_link(token, key, facts.sent_at, subscription_id=facts.subscription_id)
    assert claims.subscription_id == facts.subscription_id and claims.expires_at == email.link_live_until
    payload, signature = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (f"{flipped}.{signature}", f"{payload}.{signature[:-1]}x", token + "x", "garbage"):
        with pytest.raises(TamperedLink):
            verify_link(bad, key, facts.sent_at)
    with pytest.raises(TamperedLink):  # another key cannot verify it
        verify_link(token, b"another-key-of-enough-length!!", facts.sent_at)
    with pytest.raises(WrongSubscription):
        verify_link(token, key, facts.sent_at, subscription_id="sub_someone_else")


def test_R10a_url_is_unguessable_without_the_key(key):
    facts = sample_context("payment_failed")
    one = render_email("payment_failed", facts, key=key).update_url
    other = render_email("payment_failed", facts, key=b"a-different-key-0123456789").update_url
    assert one != other and len(_token(one).split(".")[1]) == 43  # 256-bit signature


@pytest.mark.parametrize("kind", list(EmailType), ids=lambda k: k.value)
def test_R10b_no_hosted_link_for_send_invoice(kind, key):
    facts = sample_context(kind, "en", collection_method=CollectionMethod.SEND_INVOICE)
    email = render_email(kind, facts, "en", policy=Policy.named("all-on"), key=key)
    assert email.update_url is None and email.management_url is None
    assert not _hosted_account_links(email.html) and not _hosted_account_links(email.text)


@pytest.mark.parametrize("kind", sorted(rules.INVOICE_LINK_TYPES), ids=lambda k: k.value)
def test_R5_R10b_send_invoice_emails_reach_the_invoice_page(kind, key):
    """R10b withholds the update-payment page only: a send_invoice reminder links the invoice itself."""
    facts = sample_context(kind, "en", collection_method=CollectionMethod.SEND_INVOICE)
    email = render_email(kind, facts, policy=Policy.named("all-on"), key=key)
    pages = [u for u in _hrefs(email.html) if u.startswith(HOSTED + "invoice/")]
    assert pages and pages[0] in email.text and "View and pay invoice" in email.html
    claims = verify_link(_token(pages[0]), key, facts.sent_at, subscription_id=facts.subscription_id)
    assert claims.purpose == f"invoice:{facts.invoice_id}"
    assert "instructions on the invoice" not in email.text
    assert email.update_url is None and not _hosted_account_links(email.html)  # R10b


def test_R5_automatically_charged_invoices_get_no_invoice_page(key):
    email = render_email("invoice_finalized", sample_context("invoice_finalized"), key=key)
    assert not any(u.startswith(HOSTED + "invoice/") for u in _hrefs(email.html))


def test_R11_dead_link_is_never_rendered_and_support_is_offered(key):
    base = sample_context("payment_failed")
    dead_cases = {
        "R11b canceled": base.with_facts(subscription_status=SubscriptionStatus.CANCELED),
        "R11b unpaid": base.with_facts(subscription_status=SubscriptionStatus.UNPAID),
        "R11d period over": base.with_facts(link_live_until=base.sent_at - dt.timedelta(hours=1)),
        "replayed log": base.with_facts(link_included=False),
    }
    for case, facts in dead_cases.items():
        email = render_email("payment_failed", facts, key=key)
        assert email.update_url is None and HOSTED not in email.html, case
        assert "please contact us at" in email.text and "mailto:support@northwind.example" in email.html, case


def test_R11c_trial_link_dies_at_trial_end_when_a_method_was_on_file(key):
    facts = sample_context("trial_will_end", had_payment_method=True)
    email = render_email("trial_will_end", facts, key=key)
    assert email.link_live_until == facts.trial_end  # R11c: not 30 days after the email (R11a)
    without = render_email("trial_will_end", facts.with_facts(had_payment_method=False), key=key)
    assert without.link_live_until == facts.sent_at + dt.timedelta(
        days=rules.TRIAL_LINK_LIFETIME_DAYS
    )  # R11a


def test_R11_expired_token_is_rejected(key):
    facts = sample_context("payment_failed")
    email = render_email("payment_failed", facts, key=key)
    token = _token(email.update_url)
    verify_link(token, key, email.link_live_until - dt.timedelta(seconds=1))
    for later in (email.link_live_until, email.link_live_until + dt.timedelta(days=1)):
        with pytest.raises(ExpiredLink):
            verify_link(token, key, later, subscription_id=facts.subscription_id)
