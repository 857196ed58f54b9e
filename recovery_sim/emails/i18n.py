"""Locales: which ones exist, and gettext catalogs compiled from the committed `.po` sources.

`.mo` files are build products (gitignored), so catalogs are compiled in memory on first use and
recompiled when a `.po` file changes. How dates, times and money are written is `formats.py`'s job.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from recovery_sim.emails.paths import LOCALES_DIR
from recovery_sim.settings.config import SUPPORTED_LOCALES, ConfigError

DOMAIN = "messages"
PLAN_CONTEXT = "plan"
"""The message context of plan names: the shipped scenarios' plans are catalog entries like any text."""


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


# ---------------------------------------------------------------------------------------------- locale


def html_lang(locale: str) -> str:
    """BCP 47 tag for `<html lang>`: pt_BR → pt-BR."""
    return check_locale(locale).replace("_", "-")
