"""SPEC R2: the account's branding (name, logo, colours, support contact) that every email uses.

Brands live in `data/branding/<name>.toml`. Colours are validated hex values because they are written
into the emails' CSS; a logo is an inline `data:` URI, inline SVG markup, or a path to an SVG/PNG file
next to the TOML that is embedded as a data URI, so a rendered email never fetches anything.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recovery_sim.resources import DATA_DIR
from recovery_sim.settings.config import ConfigError, TimeZoneName, format_validation_error, read_toml

BRANDING_DIR = DATA_DIR / "branding"
HexColour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="#RRGGBB")]
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[a-zA-Z]{2,}$")
_LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
MAX_LOGO_BYTES = 24_000  # keeps each rendered email well under the 100 KB clipping limit of mail clients


class Branding(BaseModel):
    """The account's branding settings (SPEC R2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=80)]
    logo: str | None = Field(None, description="data: URI, inline <svg>, or a file path next to the TOML")
    logo_dark: str | None = Field(
        None, description="the logo on dark backgrounds (dark mode of a light brand); same forms as logo"
    )
    logo_width: Annotated[int, Field(ge=16, le=300)] = 140
    primary_color: HexColour = "#1f5fd6"
    accent_color: HexColour = "#0f9d8a"
    background_color: HexColour = "#f4f6fb"
    support_email: str
    support_url: str | None = None
    timezone: TimeZoneName | None = Field(None, description="the account's time zone, the R7b fallback")
    legal_address: str = ""
    hosted_page_url: str = Field(
        "https://billing.example.com/p", description="base of the hosted update-payment page (R10)"
    )
    invoice_prefix: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,8}(-[A-Z0-9]{1,8})?$")] = Field(
        "INV", description="the account's invoice-number prefix, as Stripe numbers invoices: PREFIX-0012"
    )

    @field_validator("support_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"not an email address: {value!r}")
        return value

    @field_validator("support_url", "hosted_page_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https://[^\s<>\"']+$", value):
            raise ValueError(f"must be an https:// URL, got {value!r}")
        return value.rstrip("/") if value else value

    @field_validator("logo", "logo_dark")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lstrip().startswith("<svg"):
            return svg_data_uri(value.encode())
        if value.startswith("data:"):
            if not re.match(r"^data:image/(svg\+xml|png|jpeg|gif);base64,[A-Za-z0-9+/=]+$", value):
                raise ValueError("a data: logo must be a base64 image (svg+xml, png, jpeg or gif)")
            if len(value) > MAX_LOGO_BYTES * 4 // 3 + 64:
                raise ValueError(f"logo is larger than {MAX_LOGO_BYTES} bytes")
            return value
        raise ValueError("logo must be a data: URI or inline <svg> here (file paths work in TOML files)")

    @classmethod
    def load(cls, path: str | Path) -> Branding:
        """Read a brand TOML; errors name the file and the field."""
        path = Path(path)
        raw = read_toml(path)
        for field in ("logo", "logo_dark"):
            logo = raw.get(field)
            if (
                isinstance(logo, str)
                and not logo.startswith("data:")
                and not logo.lstrip().startswith("<svg")
            ):
                raw[field] = _logo_file(path, logo)
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(str(path), exc)) from exc

    @classmethod
    def named(cls, name: str) -> Branding:
        """A shipped brand by name (data/branding/<name>.toml)."""
        path = BRANDING_DIR / f"{name}.toml"
        if not re.match(r"^[A-Za-z0-9_-]+$", name) or not path.is_file():
            raise ConfigError(f"unknown brand {name!r}; shipped brands: {', '.join(shipped_brand_names())}")
        return _named(name)

    @classmethod
    def default(cls) -> Branding:
        return cls.named(DEFAULT_BRAND)

    def palette(self) -> Palette:
        return palette(self)

    def invoice_number(self, sequence: int) -> str:
        """The number the customer sees on invoice `sequence` of the account: `NW-4F2A-0012`."""
        return f"{self.invoice_prefix}-{sequence:04d}"


DEFAULT_BRAND = "northwind"


@cache
def _named(name: str) -> Branding:
    return Branding.load(BRANDING_DIR / f"{name}.toml")


def shipped_brand_names() -> list[str]:
    return sorted(p.stem for p in BRANDING_DIR.glob("*.toml"))


def resolve_branding(branding: Branding | str | Path | None) -> Branding:
    """Accept a Branding, a shipped brand name, a TOML path, or None (the default brand)."""
    if branding is None:
        return Branding.default()
    if isinstance(branding, Branding):
        return branding
    text = str(branding)
    if text.endswith(".toml"):
        return Branding.load(text)
    return Branding.named(text)


def svg_data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _logo_file(toml_path: Path, relative: str) -> str:
    """Embed a logo file as a data URI so emails and previews never touch the network."""
    logo_path = (toml_path.parent / relative).resolve()
    kind = _LOGO_TYPES.get(logo_path.suffix.lower())
    if kind is None:
        raise ConfigError(f"{toml_path}: logo: {relative!r} must be an .svg or .png file")
    try:
        data = logo_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{toml_path}: logo: cannot read {logo_path}: {exc.strerror}") from exc
    if len(data) > MAX_LOGO_BYTES:
        raise ConfigError(f"{toml_path}: logo: {relative!r} is larger than {MAX_LOGO_BYTES} bytes")
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


# ------------------------------------------------------------------------------------------- colours


@dataclass(frozen=True, slots=True)
class Palette:
    """Every colour an email needs, derived from the brand so text always stays readable."""

    primary: str
    accent: str
    background: str
    surface: str
    text: str
    muted: str
    border: str
    button_text: str
    link: str
    dark_background: str
    dark_surface: str
    dark_text: str
    dark_muted: str
    dark_border: str
    dark_link: str


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def luminance(colour: str) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mix(a: str, b: str, share_b: float) -> str:
    """`a` blended with `share_b` of `b`."""
    return "#" + "".join(
        f"{round(x * (1 - share_b) + y * share_b):02x}" for x, y in zip(_rgb(a), _rgb(b), strict=True)
    )


def _best(candidates: tuple[str, ...], against: str) -> str:
    return max(candidates, key=lambda c: contrast(c, against))


def palette(brand: Branding) -> Palette:
    """Light brands get a dark-mode variant; dark brands are already dark and keep their colours."""
    background = brand.background_color.lower()
    dark_brand = luminance(background) < 0.2
    if dark_brand:
        surface = mix(background, "#ffffff", 0.06)
        text, muted, border = "#f1f3f5", "#b4bcc6", mix(background, "#ffffff", 0.16)
    else:
        surface, text, muted, border = "#ffffff", "#1f2933", "#52606d", "#e4e7eb"
    dark_bg = background if dark_brand else "#0f1115"
    dark_surface = surface if dark_brand else "#1a1d23"
    primary, accent = brand.primary_color.lower(), brand.accent_color.lower()
    return Palette(
        primary=primary,
        accent=accent,
        background=background,
        surface=surface,
        text=text,
        muted=muted,
        border=border,
        button_text=_best(("#ffffff", "#111111"), primary),
        link=_best((primary, accent, text), surface) if contrast(primary, surface) < 4.5 else primary,
        dark_background=dark_bg,
        dark_surface=dark_surface,
        dark_text="#f1f3f5" if dark_brand else "#e8eaed",
        dark_muted="#b4bcc6" if dark_brand else "#a0a8b3",
        dark_border=border if dark_brand else "#2c313a",
        dark_link=_best((primary, mix(primary, "#ffffff", 0.45), accent, "#e8eaed"), dark_surface)
        if contrast(primary, dark_surface) < 4.5
        else primary,
    )
