"""Dates, times and money as each locale writes them: CLDR through Babel, plus the usages CLDR lacks
(French "1er", Portuguese "1º" and "às", German "Uhr"), in the reader's time zone with the zone named."""

from __future__ import annotations

import datetime as dt

import pytest

from recovery_sim.emails import render_email
from recovery_sim.emails.formats import format_day, format_moment, format_money
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import SUPPORTED_LOCALES

FIRST_OF_APRIL = dt.datetime(2026, 4, 1, 4, 30, tzinfo=dt.UTC)
"""06:30 in Paris and Berlin (summer time), 05:30 in London, 01:30 in São Paulo."""
ZONES = {
    "en": "Europe/London",
    "fr": "Europe/Paris",
    "de": "Europe/Berlin",
    "es": "Europe/Madrid",
    "pt_BR": "America/Sao_Paulo",
}

DAYS = {
    "en": "April 1, 2026",
    "fr": "1er avril 2026",
    "de": "1. April 2026",
    "es": "1 de abril de 2026",
    "pt_BR": "1º de abril de 2026",
}
MOMENTS = {
    "en": "April 1, 2026 at 5:30\u202fAM (British Summer Time)",
    "fr": "1er avril 2026 à 06:30 (heure d’été d’Europe centrale)",
    "de": "1. April 2026 um 06:30 Uhr (Mitteleuropäische Sommerzeit)",
    "es": "1 de abril de 2026, 6:30 (hora de verano de Europa central)",
    "pt_BR": "1º de abril de 2026, à 01:30 (Horário Padrão de Brasília)",
}
MONTHLY = {
    "en": "€49.00 / month",
    "fr": "49,00\u00a0€ / mois",
    "de": "49,00\u00a0€ / Monat",
    "es": "49,00\u00a0€ / mes",
    "pt_BR": "R$\u00a049,00 / mês",
}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_first_of_the_month_as_the_locale_writes_it(locale):
    assert format_day(FIRST_OF_APRIL, ZONES[locale], locale) == DAYS[locale]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_other_days_keep_the_plain_number(locale):
    eleventh = FIRST_OF_APRIL + dt.timedelta(days=10)
    assert "11" in format_day(eleventh, ZONES[locale], locale)
    assert "1er" not in format_day(eleventh, ZONES[locale], locale)
    assert "º" not in format_day(eleventh, ZONES[locale], locale)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_deadlines_read_date_time_and_zone_in_the_customers_zone(locale):
    text = format_moment(FIRST_OF_APRIL, ZONES[locale], locale)
    assert text.replace("\u202f", " ") == MOMENTS[locale].replace("\u202f", " ")


def test_portuguese_joins_with_as_except_around_one_oclock():
    evening = dt.datetime(2026, 4, 1, 21, 30, tzinfo=dt.UTC)  # 18:30 in São Paulo
    assert format_moment(evening, "America/Sao_Paulo", "pt_BR").startswith("1º de abril de 2026, às 18:30")


def test_the_same_instant_is_another_day_elsewhere():
    late = dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC)
    assert format_day(late, "America/Sao_Paulo", "pt_BR") == "31 de março de 2026"
    assert format_day(late, "Europe/Paris", "fr") == "1er avril 2026"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_prices_carry_their_interval(locale, key):
    email = render_email("trial_will_end", sample_context("trial_will_end", locale), locale, key=key)
    assert MONTHLY[locale] in email.text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_samples_tell_the_same_story_in_every_locale(locale):
    english, local = sample_context("payment_failed", "en"), sample_context("payment_failed", locale)
    same = ("amount", "plan_name", "sent_at", "next_attempt_at", "invoice_number", "attempt")
    assert {f: getattr(local, f) for f in same} == {f: getattr(english, f) for f in same}
    assert local.currency == ("BRL" if locale == "pt_BR" else "EUR")


def test_money_uses_the_currencys_own_digits():
    assert format_money(4900, "JPY", "fr") == "4\u202f900\u00a0JPY"
    assert format_money(4900, "EUR", "de") == "49,00\u00a0€"
