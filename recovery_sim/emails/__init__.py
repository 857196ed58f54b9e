"""Customer emails: branded, localized templates with signed hosted links (SPEC R2, R3, R7b, R10, R11)."""

from .branding import Branding, shipped_brand_names
from .context import EmailContext
from .links import (
    ExpiredLink,
    LinkClaims,
    LinkError,
    SigningKey,
    TamperedLink,
    WrongPurpose,
    WrongSubscription,
    sign_link,
    verify_link,
)
from .render import RenderedEmail, TemplateProblem, render_email
from .samples import sample_context

__all__ = [
    "Branding",
    "EmailContext",
    "ExpiredLink",
    "LinkClaims",
    "LinkError",
    "RenderedEmail",
    "SigningKey",
    "TamperedLink",
    "TemplateProblem",
    "WrongPurpose",
    "WrongSubscription",
    "render_email",
    "sample_context",
    "shipped_brand_names",
    "sign_link",
    "verify_link",
]
