"""Where the shipped data and templates live."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
"""The project's data folder (scenarios, policies, branding, decline codes)."""

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
"""Email, gallery, locale and report templates."""
