"""Every email and every gallery page, audited by axe-core in headless Chromium, in light and in dark:
no serious or critical violation (contrast of at least 4.5:1, `lang`, alt text, names, landmarks …).

axe-core is vendored (tests/fixtures/axe/axe.min.js, from the npm registry) and injected into each page,
so the audit runs offline. Without Chromium the test is skipped, and fails under REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import chromium_context
from email_fixtures import TEST_KEY, dunning_run, tiny_run

from recovery_sim.emails.branding import shipped_brand_names
from recovery_sim.emails.gallery import build_gallery

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "fixtures" / "axe" / "axe.min.js"
SCHEMES = ("light", "dark")
AUDIT = """async () => (await axe.run(document, {resultTypes: ['violations'], iframes: false})).violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    """Every type × locale × shipped brand, the index, and timelines of two hand-built runs."""
    out = tmp_path_factory.mktemp("gallery")
    build_gallery(out, None, None, dunning_run(), key=TEST_KEY)
    build_gallery(out / "tiny", ["northwind"], ["en"], tiny_run(), types=["payment_failed"], key=TEST_KEY)
    return out


@pytest.fixture(scope="module")
def browser():
    with chromium_context(viewport={"width": 1280, "height": 900}) as context:
        context.add_init_script(path=str(AXE))
        yield context


def _audit(browser, paths: list[Path], root: Path) -> dict[str, list[str]]:
    """Each page loaded once and audited in both colour schemes."""
    page = browser.new_page()
    found: dict[str, list[str]] = {}
    for path in paths:
        page.emulate_media(color_scheme=SCHEMES[0])
        page.goto(path.as_uri(), wait_until="load")
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            violations = page.evaluate(AUDIT)
            if violations:
                found[f"{path.relative_to(root).as_posix()} [{scheme}]"] = violations
    page.close()
    return found


def test_axe_is_the_vendored_build():
    assert AXE.read_text(encoding="utf-8")[:40].startswith("/*! axe v4.")


@pytest.mark.parametrize("brand", shipped_brand_names())
def test_every_email_passes_axe_in_light_and_dark(gallery, browser, brand):
    emails = sorted(p for p in (gallery / "emails" / brand).rglob("*.email.html") if ".dark." not in p.name)
    assert len(emails) >= 5 * 15
    assert _audit(browser, emails, gallery) == {}


def test_every_timeline_email_passes_axe(gallery, browser):
    emails = sorted(gallery.rglob("timelines/**/*.email.html"))
    assert len(emails) >= 5
    assert _audit(browser, emails, gallery) == {}


@pytest.mark.parametrize("brand", shipped_brand_names())
def test_gallery_pages_pass_axe_in_light_and_dark(gallery, browser, brand):
    """Every type's page in English and every locale's page of one type: the gallery page is one
    template around the email (audited above, every one), so this covers each type's and each
    locale's content at a fifth of the cost of all type × locale pages."""
    pages = sorted((gallery / "emails" / brand).rglob("*.html"))
    pages = [p for p in pages if not p.name.endswith(".email.html")]
    assert len(pages) >= 5 * 15
    chosen = [p for p in pages if p.parent.name == "en" or p.stem == "payment_failed"]
    assert len({p.stem for p in chosen}) >= 15 and len({p.parent.name for p in chosen}) >= 5, chosen
    assert _audit(browser, chosen, gallery) == {}


def test_index_and_timeline_pages_pass_axe(gallery, browser):
    pages = [gallery / "index.html", *sorted(gallery.rglob("timelines/*.html"))]
    assert len(pages) >= 4
    assert _audit(browser, pages, gallery) == {}


def test_the_audit_catches_a_contrast_failure(gallery, browser, tmp_path):
    """A wrong program must fail: light-grey text on white is a serious violation."""
    email = (gallery / "emails" / "northwind" / "en" / "payment_failed.email.html").read_text(
        encoding="utf-8"
    )
    faint = '<p style="color:#cccccc !important;background-color:#ffffff !important">Faint text</p>'
    broken = tmp_path / "broken.html"
    broken.write_text(
        re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + faint, email, count=1), encoding="utf-8"
    )
    found = _audit(browser, [broken], tmp_path)
    assert any("color-contrast" in v for vs in found.values() for v in vs)
