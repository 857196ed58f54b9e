"""Templates are untrusted and customer strings are hostile: escaping, the sandbox, and errors that say
which file, line and variable went wrong (DESIGN principle 7)."""

from __future__ import annotations

import pytest

from recovery_sim.emails import TemplateProblem, render_email
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import ConfigError

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def test_customer_name_with_script_is_escaped_in_html(key):
    email = render_email("payment_failed", sample_context("payment_failed", customer_name=EVIL), key=key)
    assert "<script>" not in email.html and "<img src=x" not in email.html
    assert (
        'Hello &lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;,'
        in email.html
    )
    assert EVIL in email.text  # plain text is not HTML: shown as typed


def test_subject_is_one_line_whatever_the_facts(key):
    facts = sample_context("invoice_reminder", invoice_id="in_1\r\nBcc: victim@example.com")
    email = render_email("invoice_reminder", facts, key=key)
    assert "\n" not in email.subject and "\r" not in email.subject


def _user_templates(tmp_path, name: str, source: str):
    (tmp_path / name).write_text(source, encoding="utf-8")
    return tmp_path


def test_sandbox_stops_class_walking(tmp_path, key):
    folder = _user_templates(
        tmp_path,
        "payment_failed.html.j2",
        '{% extends "base.html.j2" %}\n{% block content %}\n{{ "".__class__.__mro__ }}\n{% endblock %}\n',
    )
    with pytest.raises(TemplateProblem) as caught:
        render_email("payment_failed", sample_context("payment_failed"), template_dir=folder, key=key)
    message = str(caught.value)
    assert "payment_failed.html.j2, line 3" in message and "sandbox" in message and "__class__" in message


def test_sandbox_stops_calling_unsafe_methods(tmp_path, key):
    folder = _user_templates(
        tmp_path,
        "payment_failed.txt.j2",
        "{% block subject %}x{% endblock %}{% block preheader %}y{% endblock %}"
        "{% block body %}{{ facts.update.__globals__ }}{% endblock %}",
    )
    with pytest.raises(TemplateProblem, match="payment_failed.txt.j2, line 1"):
        render_email("payment_failed", sample_context("payment_failed"), template_dir=folder, key=key)


def test_missing_variable_names_file_line_variable_and_what_exists(tmp_path, key):
    folder = _user_templates(
        tmp_path,
        "invoice_paid.html.j2",
        '{% extends "base.html.j2" %}\n{% block content %}\n<p>ok</p>\n'
        "<p>{{ customer.nickname }}</p>\n{% endblock %}\n",
    )
    with pytest.raises(TemplateProblem) as caught:
        render_email("invoice_paid", sample_context("invoice_paid"), template_dir=folder, key=key)
    message = str(caught.value)
    assert "invoice_paid.html.j2, line 4" in message and "'nickname'" in message
    assert "available variables:" in message and "customer" in message and "amount" in message


def test_unknown_top_level_variable(tmp_path, key):
    folder = _user_templates(
        tmp_path,
        "refund_issued.txt.j2",
        "{% block subject %}{{ refund_reason }}{% endblock %}{% block preheader %}p{% endblock %}"
        "{% block body %}b{% endblock %}",
    )
    with pytest.raises(
        TemplateProblem, match=r"refund_issued.txt.j2, line 1: undefined variable 'refund_reason'"
    ):
        render_email("refund_issued", sample_context("refund_issued"), template_dir=folder, key=key)


def test_syntax_error_names_file_and_line(tmp_path, key):
    folder = _user_templates(tmp_path, "card_expiring.html.j2", "{% extends 'base.html.j2' %}\n\n{% if %}\n")
    with pytest.raises(TemplateProblem, match=r"card_expiring.html.j2, line 3: template syntax error"):
        render_email("card_expiring", sample_context("card_expiring"), template_dir=folder, key=key)


def test_text_template_must_define_subject(tmp_path, key):
    folder = _user_templates(tmp_path, "invoice_paid.txt.j2", "{% block body %}hi{% endblock %}")
    with pytest.raises(TemplateProblem, match="no {% block subject %}"):
        render_email("invoice_paid", sample_context("invoice_paid"), template_dir=folder, key=key)


def test_user_templates_override_by_name(tmp_path, key):
    folder = _user_templates(
        tmp_path,
        "invoice_paid.txt.j2",
        '{% extends "base.txt.j2" %}{% block subject %}Paid: {{ amount }}{% endblock %}'
        "{% block preheader %}{{ brand.name }}{% endblock %}"
        "{% block body %}{{ amount | upper }}{% endblock %}",
    )
    email = render_email(
        "invoice_paid", sample_context("invoice_paid", "fr"), "fr", template_dir=folder, key=key
    )
    assert email.subject == "Paid: 49,00\u00a0€" and email.preheader == "Northwind"
    assert "Merci pour votre paiement" in email.html  # the HTML still comes from the shipped template


def test_user_template_filters_are_locale_aware(tmp_path, key):
    folder = _user_templates(
        tmp_path,
        "invoice_paid.txt.j2",
        "{% block subject %}{{ facts.amount | money(facts.currency) }} "
        "{{ facts.sent_at | day }}{% endblock %}"
        "{% block preheader %}p{% endblock %}{% block body %}b{% endblock %}",
    )
    email = render_email(
        "invoice_paid", sample_context("invoice_paid", "de"), "de", template_dir=folder, key=key
    )
    assert email.subject == "49,00\u00a0€ 2. März 2026"


def test_missing_template_folder(tmp_path, key):
    with pytest.raises(ConfigError, match="template folder not found"):
        render_email("invoice_paid", sample_context("invoice_paid"), template_dir=tmp_path / "nope", key=key)


def test_unknown_locale_lists_the_allowed(key):
    with pytest.raises(ConfigError, match=r"unknown locale 'xx'; allowed locales: en, fr, de, es, pt_BR"):
        render_email("invoice_paid", sample_context("invoice_paid"), locale="xx", key=key)


def test_unknown_email_type_lists_the_allowed(key):
    with pytest.raises(ConfigError, match=r"unknown email type 'paymnet_failed'; allowed: payment_failed, "):
        render_email("paymnet_failed", sample_context("payment_failed"), key=key)


def test_missing_and_unknown_facts_are_named(key):
    facts = sample_context("invoice_paid").model_dump()
    del facts["customer_name"]
    facts["nickname"] = "Al"
    with pytest.raises(ConfigError) as caught:
        render_email("invoice_paid", facts, key=key)
    message = str(caught.value)
    assert "email context: customer_name: Field required" in message
    assert "email context: nickname: unknown field" in message and "allowed fields: customer_name," in message


def test_facts_an_email_needs_are_required(key):
    with pytest.raises(ConfigError, match="upcoming_renewal emails need period_end"):
        render_email("upcoming_renewal", sample_context("upcoming_renewal", period_end=None), key=key)


def test_naive_datetimes_are_refused(key):
    facts = sample_context("invoice_paid").model_dump()
    facts["sent_at"] = facts["sent_at"].replace(tzinfo=None)
    with pytest.raises(ConfigError, match="sent_at: Input should have timezone info"):
        render_email("invoice_paid", facts, key=key)
