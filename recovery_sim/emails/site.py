"""Shared plumbing of the static preview pages: their template environment and relative links."""

from __future__ import annotations

import posixpath
import re

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from recovery_sim.domain.money import format_money
from recovery_sim.emails.paths import GALLERY_TEMPLATES_DIR


def page_environment() -> SandboxedEnvironment:
    """Gallery pages show customer-provided strings too, so they get the same sandbox and escaping."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(GALLERY_TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def rel(from_page: str, to_file: str) -> str:
    """A link from one gallery file to another, relative so the site works from any folder or file://."""
    return posixpath.relpath(to_file, posixpath.dirname(from_page) or ".")


def root(page: str) -> str:
    """The relative prefix from `page` back to the gallery root."""
    return "../" * page.count("/")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "brand"


def money_en(amount: int | None, currency: str | None) -> str:
    """Amounts on developer-facing pages, in English."""
    if amount is None or not currency:
        return ""
    return format_money(int(amount), currency, "en")
