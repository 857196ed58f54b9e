"""SPEC R2: brands load from TOML with errors that name the file and the field."""

from __future__ import annotations

import base64
import re

import pytest

from recovery_sim.emails import Branding, render_email, sample_context, shipped_brand_names
from recovery_sim.emails.branding import contrast, palette
from recovery_sim.settings.config import ConfigError


def test_R2_shipped_brands_contrast():
    assert {"northwind", "acme-noir"} <= set(shipped_brand_names())
    light, dark = Branding.named("northwind").palette(), Branding.named("acme-noir").palette()
    assert contrast(light.background, "#ffffff") < 1.2 and contrast(dark.background, "#000000") < 1.3
    for colours in (light, dark):
        assert contrast(colours.text, colours.surface) >= 7  # body text
        assert contrast(colours.button_text, colours.primary) >= 3  # large bold button label
        assert contrast(colours.dark_text, colours.dark_surface) >= 7  # dark mode


def test_R2_logo_file_is_embedded():
    brand = Branding.named("northwind")
    assert brand.logo.startswith("data:image/svg+xml;base64,")


def _write(tmp_path, text: str):
    path = tmp_path / "brand.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_errors_name_file_and_field(tmp_path):
    path = _write(
        tmp_path,
        'name = "X"\nsupport_email = "nope"\nprimary_color = "blue"\n'
        'timezone = "Mars/Base"\ncolour = "#fff"\n',
    )
    with pytest.raises(ConfigError) as caught:
        Branding.load(path)
    message = str(caught.value)
    for field in (
        "support_email: not an email address",
        "primary_color: String should match",
        "timezone:",
        "colour:",
    ):
        assert f"{path}: {field}" in message


def test_missing_logo_file_is_named(tmp_path):
    path = _write(tmp_path, 'name = "X"\nsupport_email = "a@b.example"\nlogo = "missing.svg"\n')
    with pytest.raises(ConfigError, match=r"brand.toml: logo: cannot read"):
        Branding.load(path)


def test_inline_svg_logo_and_no_logo(tmp_path):
    path = _write(
        tmp_path,
        'name = "X"\nsupport_email = "a@b.example"\nlogo = "<svg xmlns=\'http://www.w3.org/2000/svg\'/>"\n',
    )
    assert Branding.load(path).logo.startswith("data:image/svg+xml;base64,")
    assert Branding.load(_write(tmp_path, 'name = "X"\nsupport_email = "a@b.example"\n')).logo is None


def test_unknown_brand_lists_shipped():
    with pytest.raises(ConfigError, match="unknown brand 'nope'; shipped brands: acme-noir, northwind"):
        Branding.named("nope")


def test_bad_toml_is_named(tmp_path):
    with pytest.raises(ConfigError, match="brand.toml: not valid TOML"):
        Branding.load(_write(tmp_path, "name = "))


def test_dark_brand_keeps_its_colours_in_dark_mode():
    colours = palette(Branding.named("acme-noir"))
    assert colours.dark_background == colours.background and colours.dark_surface == colours.surface


def _logo_text_colours(data_uri: str) -> list[str]:
    svg = base64.b64decode(data_uri.split(",", 1)[1]).decode("utf-8")
    return re.findall(r'<text[^>]*fill="(#[0-9a-fA-F]{6})"', svg)


@pytest.mark.parametrize("name", shipped_brand_names())
def test_shipped_logos_keep_text_contrast_in_light_and_dark(name):
    """The wordmark is text: 4.5:1 on the surface it sits on, with the dark logo in dark mode."""
    brand = Branding.named(name)
    colours = brand.palette()
    light = _logo_text_colours(brand.logo)
    dark = _logo_text_colours(brand.logo_dark or brand.logo)
    assert light and dark
    assert all(contrast(c, colours.surface) >= 4.5 for c in light), (name, light, colours.surface)
    assert all(contrast(c, colours.dark_surface) >= 4.5 for c in dark), (name, dark, colours.dark_surface)


def test_a_light_brand_without_a_dark_logo_would_fail_dark_mode():
    northwind = Branding.named("northwind")
    blue = _logo_text_colours(northwind.logo)
    assert all(contrast(c, northwind.palette().dark_surface) < 4.5 for c in blue)  # why logo_dark exists


def test_dark_logo_swaps_in_under_dark_mode(key):
    email = render_email("invoice_paid", sample_context("invoice_paid"), branding="northwind", key=key)
    assert email.html.count('alt="Northwind"') == 2 and 'class="logo-dark"' in email.html
    assert ".logo-light { display: none !important; }" in email.html


def test_invoice_numbers_follow_the_brands_numbering():
    assert Branding.named("northwind").invoice_number(12) == "NW-4F2A-0012"
    assert Branding.named("acme-noir").invoice_number(7) == "ACME-7C1D-0007"
