"""Every email type renders in every locale as an email-client-safe message (subject, preheader,
table-layout HTML with inlined CSS under 100 KB, dark-mode rules kept, and a text version)."""

from __future__ import annotations

import re

import pytest

from recovery_sim.domain.enums import EmailType
from recovery_sim.emails import render_email
from recovery_sim.emails.paths import EMAIL_TEMPLATES_DIR
from recovery_sim.emails.render import MAX_HTML_BYTES
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import SUPPORTED_LOCALES

BRANDS = ("northwind", "acme-noir")


def test_every_type_has_html_and_text_templates():
    for kind in EmailType:
        assert (EMAIL_TEMPLATES_DIR / f"{kind.value}.html.j2").is_file(), kind
        assert (EMAIL_TEMPLATES_DIR / f"{kind.value}.txt.j2").is_file(), kind


@pytest.mark.parametrize("brand", BRANDS)
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_type_renders_client_safe(locale, brand, key, all_on):
    for kind in EmailType:
        email = render_email(kind, sample_context(kind, locale), locale, brand, all_on, key=key)
        html = email.html
        assert email.subject and "\n" not in email.subject
        assert email.preheader and "\n" not in email.preheader
        assert len(html.encode("utf-8")) < MAX_HTML_BYTES
        assert '<meta name="color-scheme" content="light dark">' in html
        style = re.search(r"<style>(.*?)</style>", html, re.S)
        assert style and "prefers-color-scheme: dark" in style.group(1)  # kept for clients that read it
        assert 'role="presentation"' in html and "max-width: 600px" in html
        assert 'class="content" style="' in html  # CSS inlined onto the elements
        assert all(" alt=" in tag for tag in re.findall(r"<img\b[^>]*>", html))
        assert "http://" not in html and 'src="http' not in html  # nothing fetched from the network
        assert "{{" not in html and "{%" not in html and "&#39;" not in style.group(1)
        assert email.text.strip() and "<" not in email.text.replace("<script", "")
        assert f'lang="{locale.replace("_", "-")}"' in html


def test_rendering_is_deterministic(key, all_on):
    for kind in EmailType:
        first = render_email(kind, sample_context(kind, "fr"), "fr", "northwind", all_on, key=key)
        second = render_email(kind, sample_context(kind, "fr"), "fr", "northwind", all_on, key=key)
        assert (first.subject, first.preheader, first.html, first.text) == (
            second.subject,
            second.preheader,
            second.html,
            second.text,
        )


def test_context_may_be_a_plain_dict(key):
    facts = sample_context("invoice_paid", "de").model_dump()
    email = render_email("invoice_paid", facts, locale="de", key=key)
    assert "49,00" in email.subject


def test_money_uses_the_currency_minor_unit(key):
    yen = sample_context("invoice_paid", "en", currency="JPY", amount=4900)
    assert "¥4,900" in render_email("invoice_paid", yen, "en", key=key).subject
    dinar = sample_context("invoice_paid", "en", currency="KWD", amount=4900)
    assert "4.900" in render_email("invoice_paid", dinar, "en", key=key).subject  # 3 decimals


def test_boleto_confirmation_reads_as_a_boleto(key):
    email = render_email(
        "payment_action_required", sample_context("payment_action_required", "pt_BR"), "pt_BR", key=key
    )
    assert "boleto" in email.subject.lower() and "R$" in email.subject
