"""Dates, times and money as each locale writes them: CLDR (Babel) first, then the usages CLDR lacks.

CLDR gives the long date, the short time, the zone's name and the currency pattern. It does not give
French "1er avril" or Portuguese "1º de abril" for the first of the month, the word that joins a date
to its time ("à", "um … Uhr", "às"), or German's "Uhr" after a time; `USAGE` holds those, one row per
locale, so a deadline reads as a native speaker writes it: "1er avril 2026 à 08:30 (heure d’été
d’Europe centrale)", "1º de abril de 2026, às 06:30 (Horário Padrão de Brasília)".
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from babel.dates import format_date, format_skeleton, format_time, get_timezone_name

from recovery_sim.domain import money
from recovery_sim.emails.i18n import check_locale


@dataclass(frozen=True, slots=True)
class Usage:
    """What a locale writes that CLDR's long date and short time leave out."""

    first_of_month: str | None
    """The first day of the month as written in a date ("1er"), or None: plain "1"."""
    at_time: str
    """How a date and a time join: `{date}` and `{time}` placeholders."""
    at_time_singular: str | None = None
    """The joiner for 00:xx and 01:xx where the language uses the singular (Portuguese "à 1h")."""


USAGE: dict[str, Usage] = {
    "en": Usage(None, "{date} at {time}"),
    "fr": Usage("1er", "{date} à {time}"),
    "de": Usage(None, "{date} um {time} Uhr"),
    "es": Usage(None, "{date}, {time}"),
    "pt_BR": Usage("1º", "{date}, às {time}", "{date}, à {time}"),
}


def local_time(moment: dt.datetime, timezone: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant must carry a time zone")
    return moment.astimezone(zoneinfo.ZoneInfo(timezone))


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """An amount in the reader's locale, e.g. 4900 EUR in fr → `49,00 €`; an unknown locale (a custom
    template's) is a ConfigError listing the allowed ones rather than whatever Babel raises."""
    return money.format_money(int(amount_minor), currency, check_locale(locale))


def format_date_only(day: dt.date, locale: str) -> str:
    """CLDR's long date with the locale's first of the month: `1er avril 2026`, `1º de abril de 2026`."""
    locale = check_locale(locale)
    text = format_date(day, format="long", locale=locale)
    first = USAGE[locale].first_of_month
    if day.day == 1 and first is not None:
        text = text.replace("1", first, 1)  # the day is the first digit of every long pattern used here
    return text


def format_day(moment: dt.datetime, timezone: str, locale: str) -> str:
    """The calendar date of `moment` in `timezone` (R7b), e.g. `1er mars 2026`."""
    return format_date_only(local_time(moment, timezone).date(), locale)


def format_moment(moment: dt.datetime, timezone: str, locale: str) -> str:
    """Date, time and the zone's name, so a deadline is unambiguous wherever the reader is."""
    locale = check_locale(locale)
    local = local_time(moment, timezone)
    usage = USAGE[locale]
    joiner = usage.at_time_singular if usage.at_time_singular and local.hour <= 1 else usage.at_time
    text = joiner.format(
        date=format_date_only(local.date(), locale), time=format_time(local, "short", locale=locale)
    )
    return f"{text} ({get_timezone_name(local, 'long', locale=locale)})"


def format_month(year: int, month: int, locale: str) -> str:
    """A card expiry month in words, e.g. `March 2026` / `mars 2026`."""
    return format_skeleton("yMMMM", dt.date(year, month, 1), locale=check_locale(locale))
