"""Where the email, locale and gallery templates live (under the shipped `templates/`)."""

from __future__ import annotations

from recovery_sim.resources import TEMPLATES_DIR

EMAIL_TEMPLATES_DIR = TEMPLATES_DIR / "emails"
LOCALES_DIR = TEMPLATES_DIR / "locales"
GALLERY_TEMPLATES_DIR = TEMPLATES_DIR / "gallery"
