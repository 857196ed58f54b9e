"""Locales: complete gettext catalogs compiled from the committed .po files, Babel money and dates, and
French that reads as written by a French speaker."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from recovery_sim.domain.enums import EmailType
from recovery_sim.emails import render_email
from recovery_sim.emails.catalogs import extract_messages, missing_translations
from recovery_sim.emails.formats import format_day, format_money
from recovery_sim.emails.i18n import check_locale, po_path, read_catalog, translations
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import SUPPORTED_LOCALES, ConfigError

NBSP, NNBSP = "\u00a0", "\u202f"
TRANSLATED = [loc for loc in SUPPORTED_LOCALES if loc != "en"]


def test_catalogs_compile_from_po_sources(tmp_path):
    """`.mo` files are gitignored build products: a catalog loads from its `.po` alone."""
    for locale in SUPPORTED_LOCALES:
        assert po_path(locale).is_file()
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_bytes(po_path("fr").read_bytes())
    assert translations("fr", tmp_path).gettext("Invoice") == "Facture"
    assert not list(tmp_path.rglob("*.mo"))


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_template_message_is_translated(locale):
    assert missing_translations(locale) == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_their_placeholders(locale):
    catalog = read_catalog(po_path(locale), locale)
    for message in catalog:
        if message.id:
            assert sorted(re.findall(r"%\(\w+\)s", message.id)) == sorted(
                re.findall(r"%\(\w+\)s", message.string)
            )


def test_catalogs_hold_no_stale_messages():
    used = {(m.context, m.id) for m in extract_messages() if m.id}
    for locale in SUPPORTED_LOCALES:
        assert {(m.context, m.id) for m in read_catalog(po_path(locale), locale) if m.id} == used, locale


@pytest.mark.parametrize("locale", TRANSLATED)
def test_shipped_plan_names_are_translated(locale, key):
    """The scenario's plan names are catalog entries (context `plan`), shown in the reader's language."""
    expected = {
        "fr": "Équipe mensuelle",
        "de": "Team monatlich",
        "es": "Equipo mensual",
        "pt_BR": "Equipe mensal",
    }
    email = render_email("payment_failed", sample_context("payment_failed", locale), locale, key=key)
    assert expected[locale] in email.text and "Team monthly" not in email.text


def test_compiled_in_memory_and_cached():
    first, second = translations("fr"), translations("fr")
    assert first is second and first.gettext("Invoice") == "Facture"


def test_french_typography_and_vouvoiement():
    catalog = read_catalog(po_path("fr"), "fr")
    strings = [m.string for m in catalog if m.id]
    for text in strings:
        assert not re.search(r"[^\u00a0\u202f][:;!?](\s|$)", text.replace("%(label)s", "L")), text
        assert '"' not in text and "'" not in text, text  # « guillemets » and typographic apostrophes
        assert not re.search(r"\b(tu|ton|ta|tes|toi)\b", text, re.I), text  # vouvoiement
    joined = " ".join(strings)
    assert f"questions{NNBSP}?" in joined and f"Rappel{NBSP}:" in joined and " vous " in joined


def test_french_email_reads_french(key):
    email = render_email("payment_failed", sample_context("payment_failed", "fr"), "fr", key=key)
    assert email.subject == "Votre paiement de 49,00\u00a0€ n’a pas abouti"
    assert f"Des questions{NNBSP}? Écrivez-nous" in email.text
    assert "Bonjour Camille Dubois," in email.text and "5 mars 2026" in email.text
    assert "Tentative\u00a0: 1 sur 4" in email.text and "NW-4F2A-0012" in email.text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_each_locale_renders_its_own_language(locale, key):
    greeting = {"en": "Hello", "fr": "Bonjour", "de": "Guten Tag", "es": "Hola", "pt_BR": "Olá"}[locale]
    for kind in (EmailType.PAYMENT_FAILED, EmailType.UPCOMING_RENEWAL):
        email = render_email(kind, sample_context(kind, locale), locale, key=key)
        assert email.text.startswith(email.text.split("\n")[0]) and greeting in email.text


def test_money_and_dates_follow_the_locale():
    assert format_money(490012, "EUR", "de") == "4.900,12\u00a0€"
    assert format_money(4900, "JPY", "en") == "¥4,900"
    assert format_money(4900, "KWD", "en").endswith("4.900")
    assert format_money(9900, "BRL", "pt_BR") == "R$\u00a099,00"
    moment = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    assert format_day(moment, "America/Los_Angeles", "fr") == "28 février 2026"
    assert format_day(moment, "UTC", "es") == "1 de marzo de 2026"


def test_locale_codes():
    assert check_locale("pt-BR") == "pt_BR" and check_locale("FR") == "fr"
    with pytest.raises(ConfigError, match="allowed locales: en, fr, de, es, pt_BR"):
        check_locale("it")
