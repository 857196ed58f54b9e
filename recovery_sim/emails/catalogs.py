"""Keep the gettext catalogs in step with the templates.

`python -m recovery_sim.emails.catalogs` extracts every message from `templates/emails/*.j2`, and the
plan names of the shipped scenarios (context `plan`), into `templates/locales/messages.pot` and merges
it into each locale's `messages.po` (new messages arrive untranslated, removed ones are dropped). Run
it after editing templates, then translate the empty entries. `missing_translations` is what the tests
use to insist every locale is complete.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from recovery_sim.atomic import write_bytes
from recovery_sim.emails.i18n import DOMAIN, PLAN_CONTEXT, po_path, read_catalog
from recovery_sim.emails.paths import EMAIL_TEMPLATES_DIR, LOCALES_DIR
from recovery_sim.resources import DATA_DIR
from recovery_sim.settings.config import SUPPORTED_LOCALES, Scenario

METHOD_MAP = [("**.j2", "jinja2.ext:babel_extract")]
OPTIONS = {
    "**.j2": {"trimmed": "true", "trim_blocks": "true", "lstrip_blocks": "true", "newstyle_gettext": "true"}
}
SOURCE_LOCALE = "en"


def shipped_plan_names() -> list[str]:
    """The plan names of `data/scenarios/*.toml`: what emails call a plan, to be translated."""
    names = {
        plan.name
        for path in sorted((DATA_DIR / "scenarios").glob("*.toml"))
        for cohort in Scenario.load(path).cohorts
        for plan in cohort.plans
    }
    return sorted(names)


def extract_messages(template_dir: Path = EMAIL_TEMPLATES_DIR) -> Catalog:
    """Every translatable message used by the email templates, and the shipped plans' names."""
    catalog = Catalog(domain=DOMAIN, project="recovery-sim", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        template_dir, METHOD_MAP, OPTIONS, keywords={"_": None, "gettext": None}
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for name in shipped_plan_names():
        catalog.add(name, None, [("data/scenarios", 0)], context=PLAN_CONTEXT)
    return catalog


def missing_translations(locale: str, template_dir: Path = EMAIL_TEMPLATES_DIR) -> list[str]:
    """Messages a non-source locale lacks (absent, empty or fuzzy)."""
    catalog = read_catalog(po_path(locale), locale)
    missing = []
    for message in extract_messages(template_dir):
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        if found is None or not found.string or found.fuzzy:
            missing.append(message.id)
    return missing


def _write_atomic(path: Path, catalog: Catalog, **options: object) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, **options)  # type: ignore[arg-type]
    write_bytes(buffer.getvalue(), path)


def update_catalogs(locales: tuple[str, ...] = SUPPORTED_LOCALES) -> dict[str, int]:
    """Write the template (.pot) and merge it into each locale; returns missing counts per locale."""
    template = extract_messages()
    _write_atomic(LOCALES_DIR / f"{DOMAIN}.pot", template, omit_header=False, sort_output=True)
    counts = {}
    for locale in locales:
        path = po_path(locale)
        catalog = (
            read_catalog(path, locale)
            if path.exists()
            else Catalog(locale=locale, domain=DOMAIN, project="recovery-sim", fuzzy=False)
        )
        catalog.update(template, no_fuzzy_matching=True)
        _write_atomic(path, catalog, ignore_obsolete=True, sort_output=True, include_previous=False)
        counts[locale] = 0 if locale == SOURCE_LOCALE else len(missing_translations(locale))
    return counts


def main() -> int:
    counts = update_catalogs()
    for locale, missing in counts.items():
        print(f"{locale}: {missing} untranslated")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
