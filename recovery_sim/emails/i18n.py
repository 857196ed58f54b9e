"""Locales: gettext catalogs compiled from the committed `.po` sources, and Babel money and date formats.

`.mo` files are build products (gitignored), so catalogs are compiled in memory on first use and
recompiled when a `.po` file changes. Money is formatted by `recovery_sim.domain.money`, the one home
for amounts shown to people; this module only checks the reader's locale first.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import zoneinfo
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format, get_timezone_name
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from recovery_sim.domain import money
from recovery_sim.emails.paths import LOCALES_DIR
from recovery_sim.settings.config import SUPPORTED_LOCALES, ConfigError

DOMAIN = "messages"


def check_locale(locale: str) -> str:
    """The canonical locale code (`pt-BR` → `pt_BR`); an unknown one is a ConfigError listing the allowed."""
    canonical = str(locale).replace("-", "_")
    for known in SUPPORTED_LOCALES:
        if canonical.lower() == known.lower():
            return known
    raise ConfigError(f"unknown locale {locale!r}; allowed locales: {', '.join(SUPPORTED_LOCALES)}")


def po_path(locale: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, locale: str) -> Catalog:
    """Parse a `.po` file; a broken one is a ConfigError naming the file."""
    try:
        with path.open("rb") as handle:
            return read_po(handle, locale=locale, domain=DOMAIN)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: message catalog not found for locale {locale!r}") from exc
    except Exception as exc:  # babel raises assorted errors on malformed catalogs
        raise ConfigError(f"{path}: cannot read the message catalog: {exc}") from exc


def translations(locale: str, locales_dir: Path = LOCALES_DIR) -> gettext.GNUTranslations:
    """The compiled catalog for `locale`, cached until its `.po` file changes."""
    locale = check_locale(locale)
    path = po_path(locale, locales_dir)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: message catalog not found for locale {locale!r}") from exc
    return _compiled(str(path), locale, stamp)


@lru_cache(maxsize=32)
def _compiled(path: str, locale: str, _stamp: int) -> gettext.GNUTranslations:
    catalog = read_catalog(Path(path), locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


# --------------------------------------------------------------------------------------------- formats


def babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(check_locale(locale))
    except UnknownLocaleError as exc:  # pragma: no cover - every supported locale exists in Babel
        raise ConfigError(f"Babel has no data for locale {locale!r}") from exc


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """An amount in the reader's locale, e.g. 4900 EUR in fr → `49,00 €`; an unknown locale (a custom
    template's) is a ConfigError listing the allowed ones rather than whatever Babel raises."""
    return money.format_money(int(amount_minor), currency, check_locale(locale))


def local_time(moment: dt.datetime, timezone: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant must carry a time zone")
    return moment.astimezone(zoneinfo.ZoneInfo(timezone))


def format_day(moment: dt.datetime, timezone: str, locale: str) -> str:
    """The calendar date of `moment` in `timezone` (R7b), e.g. `1 mars 2026`."""
    return format_date(local_time(moment, timezone).date(), format="long", locale=check_locale(locale))


def format_moment(moment: dt.datetime, timezone: str, locale: str) -> str:
    """Date, time and the zone's name, so a deadline is unambiguous wherever the reader is."""
    locale = check_locale(locale)
    local = local_time(moment, timezone)
    pattern = get_datetime_format("long", locale=locale).replace("'", "")
    text = pattern.replace("{1}", format_date(local, "long", locale=locale)).replace(
        "{0}", format_time(local, "short", locale=locale)
    )
    return f"{text} ({get_timezone_name(local, 'long', locale=locale)})"


def format_month(year: int, month: int, locale: str) -> str:
    """A card expiry month in words, e.g. `March 2026` / `mars 2026`."""
    return format_skeleton("yMMMM", dt.date(year, month, 1), locale=check_locale(locale))


def html_lang(locale: str) -> str:
    """BCP 47 tag for `<html lang>`: pt_BR → pt-BR."""
    return check_locale(locale).replace("_", "-")
