"""A static preview site of every email × locale × brand, plus customer timelines from a simulation run.

The whole site is rendered in memory first and then written file by file atomically, so a template
error leaves the output folder untouched and a reader never sees a half-written page. Pages link only
to files inside the gallery and emails embed their logo, so the site works offline from `file://`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recovery_sim.domain.email_types import about
from recovery_sim.domain.enums import EmailType
from recovery_sim.domain.rules import UPDATE_LINK_TYPES
from recovery_sim.emails.branding import DEFAULT_BRAND, Branding, resolve_branding, shipped_brand_names
from recovery_sim.emails.files import write_tree
from recovery_sim.emails.i18n import check_locale
from recovery_sim.emails.links import SigningKey, resolve_key
from recovery_sim.emails.paths import GALLERY_TEMPLATES_DIR
from recovery_sim.emails.render import RenderedEmail, parse_email_type, render_email
from recovery_sim.emails.samples import sample_context
from recovery_sim.emails.site import page_environment, rel, root, slug
from recovery_sim.emails.timelines import Timelines, timeline_files
from recovery_sim.settings.config import SUPPORTED_LOCALES, ConfigError, Policy

__all__ = ["PREVIEW_POLICY", "Timelines", "build_gallery", "dark_variant", "gallery_files"]

PREVIEW_POLICY = "all-on"
"""Previews show every link a policy can add (hosted update and management links, R3/R3b)."""
DARK_MEDIA = "@media (prefers-color-scheme: dark)"
ASSETS = ("gallery.css", "gallery.js")


def dark_variant(html: str) -> str:
    """The email as a dark-mode mail client shows it: its dark rules applied whatever the system says,
    so the gallery's switch can show dark mode without changing the reader's settings."""
    if DARK_MEDIA not in html:
        raise ConfigError(f"the email has no `{DARK_MEDIA}` block, so it has no dark mode to preview")
    return html.replace(DARK_MEDIA, "@media all")


@dataclass(frozen=True, slots=True)
class _Brand:
    name: str
    slug: str
    branding: Branding


def _unique(brands: list[Branding]) -> list[_Brand]:
    out: list[_Brand] = []
    for brand in brands:
        base = name = slug(brand.name)
        n = 2
        while any(b.slug == name for b in out):
            name, n = f"{base}-{n}", n + 1
        out.append(_Brand(brand.name, name, brand))
    return out


def _paths(brand: _Brand, locale: str, kind: EmailType) -> tuple[str, str, str, str]:
    """Preview page, the email's own HTML, the same in dark mode, and its text version."""
    base = f"emails/{brand.slug}/{locale}/{kind.value}"
    return f"{base}.html", f"{base}.email.html", f"{base}.dark.email.html", f"{base}.txt"


def _link_note(email: RenderedEmail) -> str:
    if email.update_url and email.link_live_until is not None:
        return f"yes (R3): signed token, live until {email.link_live_until:%Y-%m-%d %H:%M} UTC (R10a, R11)"
    if email.email_type in UPDATE_LINK_TYPES:
        return "withheld: send_invoice (R10b) or dead at send time (R11)"
    return "no (not an R3 type)"


def _key_note(key: SigningKey) -> str:
    if key.label.startswith("preview"):
        return f"Links are signed with the {key.label}: they are previews and verify nowhere else."
    return f"Links are signed with {key.label}."


def build_gallery(
    out_dir: str | Path,
    brands: Sequence[Branding | str | Path] | None = None,
    locales: Sequence[str] | None = None,
    timelines: Any | None = None,
    *,
    types: Iterable[EmailType | str] | None = None,
    policy: Policy | None = None,
    key: SigningKey | str | bytes | None = None,
    customers: int = 12,
    seed: int = 0,
) -> list[Path]:
    """Write the gallery under `out_dir`; returns the files written.

    `brands`: Branding objects, shipped names or TOML paths (default: every shipped brand).
    `locales`: default all supported. `timelines`: a simulation run (anything with `emails`, `events`
    and `customers` frames) whose sampled `customers` get timeline pages. Links are signed with `key`,
    else $RECOVERY_SIM_LINK_KEY, else the per-process preview key, and every page says which.
    """
    files = gallery_files(
        brands, locales, timelines, types=types, policy=policy, key=key, customers=customers, seed=seed
    )
    return write_tree(out_dir, files)


def gallery_files(
    brands: Sequence[Branding | str | Path] | None = None,
    locales: Sequence[str] | None = None,
    timelines: Any | None = None,
    *,
    types: Iterable[EmailType | str] | None = None,
    policy: Policy | None = None,
    key: SigningKey | str | bytes | None = None,
    customers: int = 12,
    seed: int = 0,
) -> dict[str, str]:
    """The whole site as `relative path → text`, rendered in memory; nothing touches the disk."""
    default_order = sorted(shipped_brand_names(), key=lambda name: name != DEFAULT_BRAND)
    brand_list = _unique([resolve_branding(b) for b in (brands or default_order)])
    if not brand_list:
        raise ConfigError("the gallery needs at least one brand")
    locale_list = [check_locale(loc) for loc in (locales or SUPPORTED_LOCALES)]
    type_list = [parse_email_type(t) for t in (types or list(EmailType))]
    data = Timelines.of(timelines) if timelines is not None else None
    policy = policy or Policy.named(PREVIEW_POLICY)
    signing_key = resolve_key(key)
    env = page_environment()
    common = {"key_note": _key_note(signing_key), "has_timelines": data is not None}

    rendered = {
        (brand.slug, locale, kind): render_email(
            kind,
            sample_context(kind, locale, branding=brand.branding),
            locale,
            brand.branding,
            policy,
            key=signing_key,
        )
        for brand in brand_list
        for locale in locale_list
        for kind in type_list
    }
    files: dict[str, str] = {
        name: (GALLERY_TEMPLATES_DIR / name).read_text(encoding="utf-8") for name in ASSETS
    }
    for brand in brand_list:
        for locale in locale_list:
            for kind in type_list:
                files.update(
                    _email_pages(
                        env,
                        common,
                        rendered[brand.slug, locale, kind],
                        brand,
                        brand_list,
                        locale_list,
                        type_list,
                    )  # fmt: skip
                )
    files["index.html"] = env.get_template("index.html.j2").render(
        **common,
        title="All emails",
        root="",
        locales=locale_list,
        types=[{"name": t.value, "rules": about(t).gallery_note} for t in type_list],
        brands=[
            {
                "name": b.name,
                "slug": b.slug,
                "cells": {
                    t.value: {
                        loc: {"href": _paths(b, loc, t)[0], "subject": rendered[b.slug, loc, t].subject}
                        for loc in locale_list
                    }
                    for t in type_list
                },
            }
            for b in brand_list
        ],
    )
    if data is not None:
        files.update(
            timeline_files(data, env, common, brand_list[0].branding, policy, signing_key, customers, seed)
        )
    return files


def _email_pages(
    env: Any,
    common: dict[str, Any],
    email: RenderedEmail,
    brand: _Brand,
    brands: list[_Brand],
    locales: list[str],
    types: list[EmailType],
) -> dict[str, str]:
    """One email's files: its preview page, its HTML (light and dark) and its text."""
    locale, kind = email.locale, email.email_type
    page, email_file, dark_file, text_file = _paths(brand, locale, kind)
    preview = env.get_template("email.html.j2").render(
        **common,
        title=f"{kind.value} · {locale} · {brand.name}",
        root=root(page),
        brand=brand,
        locale=locale,
        kind={"name": kind.value, "rules": about(kind).gallery_note},
        email=email,
        link_note=_link_note(email),
        size_kb=f"{len(email.html.encode('utf-8')) / 1000:.1f}",
        email_file=rel(page, email_file),
        dark_file=rel(page, dark_file),
        text_file=rel(page, text_file),
        brand_links=_switch(page, [(b.name, _paths(b, locale, kind)[0]) for b in brands]),
        locale_links=_switch(page, [(loc, _paths(brand, loc, kind)[0]) for loc in locales]),
        type_links=_switch(page, [(t.value, _paths(brand, locale, t)[0]) for t in types]),
    )
    return {page: preview, email_file: email.html, dark_file: dark_variant(email.html), text_file: email.text}


def _switch(page: str, targets: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Links to sibling pages (another brand, locale or type), marking the current one."""
    return [
        {"label": label, "href": rel(page, target), "current": target == page} for label, target in targets
    ]
