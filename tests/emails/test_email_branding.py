"""SPEC R2: brands load from TOML with errors that name the file and the field."""

from __future__ import annotations

import pytest

from recovery_sim.emails import Branding, shipped_brand_names
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
