"""Money shown to people: integer minor units plus an ISO currency code, formatted by Babel.

Amounts live as integer minor units everywhere (cents; yen; fils). The number of decimals comes from
Babel's CLDR currency data (0 for JPY, 3 for KWD), never an assumed 2, and the conversion to major
units is decimal, so 4900 KWD-fils is exactly 4.900 and a report never shows a float's rounding noise.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import format_currency, get_currency_precision

MISSING = "–"
"""What a metric with nothing to measure (no at-risk invoice, say) shows instead of an amount."""


def currency_digits(currency: str) -> int:
    """Decimals of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD)."""
    return get_currency_precision(currency.upper())


def minor_per_major(currency: str) -> int:
    """Minor units in one major unit (100 for EUR, 1 for JPY): the divisor for chart axes."""
    return 10 ** currency_digits(currency)


def to_major(minor: int | float, currency: str) -> Decimal:
    """Minor units → major units, exactly; a float (a mean over replications) is read as it prints."""
    exact = Decimal(minor) if isinstance(minor, int) else Decimal(repr(float(minor)))
    return exact.scaleb(-currency_digits(currency))


def format_money(minor: int | float | None, currency: str, locale: str = "en", whole: bool = False) -> str:
    """Minor units → '€1,234.50' in `locale` (a Babel code such as `fr` or `pt_BR`), or '€1,235' when
    `whole` (rounded half to even, for headline figures); None → a dash."""
    if minor is None:
        return MISSING
    currency = currency.upper()
    major = to_major(minor, currency)
    if whole:
        rounded = major.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return format_currency(rounded, currency, format="¤#,##0", locale=locale, currency_digits=False)
    return format_currency(major, currency, locale=locale)
