"""The gallery in a real headless Chromium: pages load cleanly, emails fit a 375 px phone, every link
stays inside the gallery, dark mode applies, and each locale's email screenshots to a PNG."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import PageProblems, chromium_context
from email_fixtures import TEST_KEY, tiny_run

from recovery_sim.emails.gallery import build_gallery
from recovery_sim.settings.config import SUPPORTED_LOCALES

pytestmark = pytest.mark.browser

TYPES = ["payment_failed", "upcoming_renewal"]


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    """2 types × every locale × 1 brand, the index, and the timelines of a tiny run."""
    out = tmp_path_factory.mktemp("gallery")
    build_gallery(out, ["northwind"], SUPPORTED_LOCALES, tiny_run(), types=TYPES, key=TEST_KEY)
    return out


@pytest.fixture(scope="module")
def browser():
    with chromium_context(viewport={"width": 1280, "height": 900}) as context:
        yield context


def _gallery_pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html") if not p.name.endswith(".email.html"))


def _email_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.email.html"))


def test_every_gallery_page_loads_without_console_errors(gallery, browser):
    pages = _gallery_pages(gallery)
    assert len(pages) >= 1 + len(TYPES) * len(SUPPORTED_LOCALES)
    page = browser.new_page()
    for path in pages + _email_files(gallery):
        problems = PageProblems()
        problems.watch(page)
        page.goto(path.as_uri(), wait_until="load")
        assert not problems, (path.name, problems)
    page.close()


def test_no_horizontal_overflow_at_375px(gallery, browser):
    page = browser.new_page()
    page.set_viewport_size({"width": 375, "height": 800})
    for path in _email_files(gallery) + _gallery_pages(gallery):
        page.goto(path.as_uri(), wait_until="load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path.relative_to(gallery).as_posix(), width)
    page.close()


def test_every_link_resolves_inside_the_gallery(gallery, browser):
    root = gallery.resolve()
    page = browser.new_page()
    for path in _gallery_pages(gallery):
        page.goto(path.as_uri(), wait_until="load")
        targets = page.evaluate(
            "[...document.querySelectorAll('a[href], iframe[src], link[href], img[src]')]"
            ".map(e => e.href || e.src)"
        )
        for url in targets:
            if url.startswith("data:"):
                continue
            assert url.startswith("file://"), (path.name, url)
            target = Path(url.removeprefix("file://").split("#")[0]).resolve()
            assert target.is_file() and root in target.parents, (path.name, url)
    page.close()


def test_emails_follow_dark_mode(gallery, browser):
    page = browser.new_page()
    email = gallery / "emails/northwind/en/payment_failed.email.html"
    colours = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(email.as_uri(), wait_until="load")
        colours[scheme] = page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor")
    assert colours["light"] != colours["dark"]
    page.close()


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_screenshot_per_locale(gallery, browser, locale, tmp_path):
    page = browser.new_page()
    page.set_viewport_size({"width": 600, "height": 900})
    page.goto((gallery / f"emails/northwind/{locale}/payment_failed.email.html").as_uri(), wait_until="load")
    shot = tmp_path / f"payment_failed-{locale}.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
