"""Customer emails: branded, localized templates with signed hosted links (SPEC R2, R3, R7b, R10, R11)."""

from recovery_sim.emails.branding import Branding, shipped_brand_names
from recovery_sim.emails.context import EmailContext
from recovery_sim.emails.links import (
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
from recovery_sim.emails.render import RenderedEmail, TemplateProblem, render_email
from recovery_sim.emails.samples import sample_context

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
