"""Where the shipped templates and catalogs live (the repository's top-level `templates/`)."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
TEMPLATES_DIR = PROJECT_DIR / "templates"
EMAIL_TEMPLATES_DIR = TEMPLATES_DIR / "emails"
LOCALES_DIR = TEMPLATES_DIR / "locales"
GALLERY_TEMPLATES_DIR = TEMPLATES_DIR / "gallery"
