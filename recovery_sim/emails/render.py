"""Render one email (subject, preheader, HTML, text) from templates that are treated as untrusted.

Templates run in jinja2's immutable sandbox with `StrictUndefined`; everything except `*.txt.j2` is
HTML-autoescaped. Any template failure — bad syntax, a missing variable, a sandbox violation — becomes
a `TemplateProblem` naming the file, the line and the variable, never a bare jinja2 traceback.
"""

from __future__ import annotations

import datetime as dt
import re
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    pass_context,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from recovery_sim.domain.email_types import about
from recovery_sim.domain.enums import EmailType
from recovery_sim.emails.branding import Branding, resolve_branding
from recovery_sim.emails.context import EmailContext, check_required
from recovery_sim.emails.formats import format_day, format_moment, format_money
from recovery_sim.emails.i18n import PLAN_CONTEXT, check_locale, translations
from recovery_sim.emails.links import SigningKey, resolve_key
from recovery_sim.emails.paths import EMAIL_TEMPLATES_DIR
from recovery_sim.emails.plan import plan_links
from recovery_sim.emails.view import build_view
from recovery_sim.settings.config import ConfigError, Policy

MAX_HTML_BYTES = 100_000
"""Gmail clips messages above ~102 KB; every rendered email must stay below this."""


class TemplateProblem(ConfigError):
    """A template cannot be rendered; the message names the file, the line and the variable."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    email_type: EmailType
    locale: str
    subject: str
    preheader: str
    html: str
    text: str
    update_url: str | None = None
    management_url: str | None = None
    link_live_until: dt.datetime | None = None
    signed_with: str = ""
    """Label of the key that signed the links (never the key itself)."""


def parse_email_type(email_type: EmailType | str) -> EmailType:
    try:
        return EmailType(str(email_type))
    except ValueError:
        allowed = ", ".join(t.value for t in EmailType)
        raise ConfigError(f"unknown email type {email_type!r}; allowed: {allowed}") from None


# ---------------------------------------------------------------------------------------- environment


def _autoescape(name: str | None) -> bool:
    """Escape everything except plain-text templates: a forgotten suffix must fail safe."""
    return not (name or "").endswith(".txt.j2")


@pass_context
def _money_filter(ctx: Context, amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, ctx["locale"])


@pass_context
def _day_filter(ctx: Context, moment: dt.datetime) -> str:
    return format_day(moment, ctx["timezone"], ctx["locale"])


@pass_context
def _moment_filter(ctx: Context, moment: dt.datetime) -> str:
    return format_moment(moment, ctx["timezone"], ctx["locale"])


def search_path(template_dir: str | Path | None) -> tuple[str, ...]:
    """The user's folder first (its files override ours by name), then the shipped templates."""
    if template_dir is None:
        return (str(EMAIL_TEMPLATES_DIR),)
    folder = Path(template_dir)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: template folder not found")
    return (str(folder.resolve()), str(EMAIL_TEMPLATES_DIR))


def environment(template_dir: str | Path | None, locale: str) -> ImmutableSandboxedEnvironment:
    locale = check_locale(locale)
    return _environment(search_path(template_dir), locale, translations(locale))


@lru_cache(maxsize=32)
def _environment(paths: tuple[str, ...], locale: str, catalog: Any) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(list(paths)),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(catalog, newstyle=True)
    env.filters.update(money=_money_filter, day=_day_filter, moment=_moment_filter)
    return env


# ------------------------------------------------------------------------------------------- problems


def _where(exc: BaseException) -> tuple[str, int | None]:
    """The innermost template frame of a rendering error (jinja2 rewrites tracebacks to template lines)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.filename or exc.name or "<template>", exc.lineno
    place: tuple[str, int | None] = ("<template>", None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            place = (frame.filename, frame.lineno)
    return place


def _problem(exc: BaseException, template: str, variables: dict[str, Any]) -> TemplateProblem:
    filename, line = _where(exc)
    if filename == "<template>":
        filename = template
    at = f"{filename}, line {line}" if line else filename
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, TemplateSyntaxError):
        return TemplateProblem(f"{at}: template syntax error: {message}")
    if isinstance(exc, SecurityError):
        return TemplateProblem(f"{at}: blocked by the template sandbox: {message}")
    if isinstance(exc, UndefinedError):
        found = re.search(r"'([^']+)' is undefined|attribute '([^']+)'|no element '?([^']+?)'?$", message)
        name = next((g for g in found.groups() if g), message) if found else message
        allowed = ", ".join(sorted(variables))
        return TemplateProblem(
            f"{at}: undefined variable {name!r} ({message}); available variables: {allowed}"
        )
    if isinstance(exc, TemplateNotFound):
        return TemplateProblem(
            f"template {exc.name!r} not found (needed by {template}); each email type needs "
            "<type>.html.j2 and <type>.txt.j2"
        )
    return TemplateProblem(f"{at}: {type(exc).__name__}: {message}")


def _load(env: ImmutableSandboxedEnvironment, name: str, variables: dict[str, Any]) -> Template:
    try:
        return env.get_template(name)
    except TemplateNotFound as exc:
        where = ", ".join(str(p) for p in env.loader.searchpath)  # type: ignore[union-attr]
        raise TemplateProblem(f"template {exc.name!r} not found in {where}") from exc
    except TemplateError as exc:
        raise _problem(exc, name, variables) from exc


def _run(template: Template, variables: dict[str, Any], block: str | None = None) -> str:
    try:
        if block is None:
            return template.render(variables)
        if block not in template.blocks:
            raise TemplateProblem(
                f"{template.filename}: no {{% block {block} %}}; every text template defines the blocks "
                "subject, preheader and body"
            )
        try:
            return "".join(template.blocks[block](template.new_context(variables)))
        except Exception:
            template.environment.handle_exception()  # re-raise with template file and line, as render() does
    except TemplateProblem:
        raise
    except Exception as exc:  # anything a template triggers is the template's problem, reported as such
        raise _problem(exc, template.filename or template.name or "<template>", variables) from exc


# ---------------------------------------------------------------------------------------------- output


_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def finish_html(html: str) -> str:
    """Inline the CSS (email clients drop <style>), keeping @media rules for mobile and dark mode."""
    html = _INLINER.inline(html)
    return re.sub(r"\n\s*\n+", "\n", html).strip() + "\n"


def finish_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def one_line(text: str) -> str:
    """Subjects and preheaders are single lines (a newline in a header would let content inject headers)."""
    return re.sub(r"[ \t\r\n\f\v\x85\u2028\u2029]+", " ", text).strip()  # keeps no-break spaces (French)


# ---------------------------------------------------------------------------------------------- render


def render_email(
    email_type: EmailType | str,
    context: EmailContext | dict[str, Any],
    locale: str = "en",
    branding: Branding | str | Path | None = None,
    policy: Policy | None = None,
    template_dir: str | Path | None = None,
    key: SigningKey | str | bytes | None = None,
) -> RenderedEmail:
    """Render `email_type` for the customer in `context`.

    `branding` is a Branding, a shipped brand name or a TOML path (default: the default brand, R2).
    `policy` supplies the link settings (R3a/R3b; default: hosted update link, no management link).
    `key` signs the hosted links (R10a): explicit, else $RECOVERY_SIM_LINK_KEY, else the preview key.
    """
    kind = parse_email_type(email_type)
    locale = check_locale(locale)
    facts = EmailContext.coerce(context)
    check_required(kind, facts)
    brand = resolve_branding(branding)
    signing_key = resolve_key(key)
    links = plan_links(kind, facts, policy or Policy(), brand, signing_key)
    plan_label = translations(locale).pgettext(PLAN_CONTEXT, facts.plan_name) if facts.plan_name else ""
    variables = build_view(kind, facts, locale, brand, links, plan_label)

    env = environment(template_dir, locale)
    names = about(kind)
    text_template = _load(env, names.text_template, variables)
    html_template = _load(env, names.html_template, variables)
    subject = one_line(_run(text_template, variables, "subject"))
    preheader = one_line(_run(text_template, variables, "preheader"))
    text = finish_text(_run(text_template, variables))
    html = finish_html(_run(html_template, {**variables, "subject": subject, "preheader": preheader}))
    size = len(html.encode("utf-8"))
    if size >= MAX_HTML_BYTES:
        raise TemplateProblem(
            f"{html_template.filename}: the rendered {kind.value} email is {size:,} bytes; email clients "
            f"clip messages above ~102 KB, so it must stay below {MAX_HTML_BYTES:,} bytes"
        )
    return RenderedEmail(
        email_type=kind,
        locale=locale,
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
        update_url=links.update_url,
        management_url=links.management_url,
        link_live_until=links.live_until,
        signed_with=signing_key.label,
    )
