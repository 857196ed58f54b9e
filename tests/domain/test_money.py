"""Money shown to people: the currency's own decimals, exact conversion, one format for every caller."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recovery_sim.domain.money import MISSING, currency_digits, format_money, minor_per_major, to_major


@pytest.mark.parametrize(("currency", "digits"), [("EUR", 2), ("jpy", 0), ("KWD", 3), ("BRL", 2)])
def test_digits_come_from_the_currency_not_an_assumed_two(currency, digits):
    assert currency_digits(currency) == digits
    assert minor_per_major(currency) == 10**digits


def test_minor_to_major_is_exact():
    assert to_major(4900, "KWD") == Decimal("4.900")
    assert to_major(10**17 + 1, "EUR") == Decimal("1000000000000000.01")  # beyond a float's digits
    assert to_major(12345.5, "EUR") == Decimal("123.455")  # a mean over replications


def test_format_follows_locale_and_currency():
    assert format_money(123456, "EUR") == "€1,234.56"
    assert format_money(490012, "eur", locale="de") == "4.900,12\u00a0€"
    assert format_money(4900, "JPY") == "¥4,900"
    assert format_money(None, "EUR") == MISSING


def test_whole_units_round_half_to_even():
    assert format_money(9950, "BRL", whole=True) == "R$100"
    assert format_money(250, "EUR", whole=True) == "€2"
    assert format_money(350, "EUR", whole=True) == "€4"
    assert format_money(123456789, "EUR", whole=True) == "€1,234,568"
