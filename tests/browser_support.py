"""Headless Chromium for browser tests, through the `playwright` package with the system's Chromium.

No browser download: Playwright drives `/usr/bin/chromium` (override with $CHROMIUM_PATH). Each
launch gets a fresh temporary profile. When Chromium or Playwright is missing, tests are skipped, or
fail when REQUIRE_BROWSER=1 (CI), so a missing browser can never pass silently there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser required (REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


def chromium_path() -> str:
    """The Chromium executable, or skip/fail the test."""
    path = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        if not found:
            _unavailable(f"no Chromium at {path} (install it with `make browser`)")
        path = str(found)
    return path


@contextmanager
def chromium_context(**options: Any) -> Iterator[Any]:
    """A Playwright BrowserContext on a fresh temporary profile; `options` go to the context
    (viewport, color_scheme, ...)."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=path, headless=True, args=CHROMIUM_ARGS, **options
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class PageProblems:
    """Everything a page did wrong while loading: console errors, uncaught exceptions, failed requests,
    and any request that left the local files."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed_requests.append(r.url))
        page.on(
            "request",
            lambda r: r.url.startswith(("file:", "data:", "about:")) or self.remote_requests.append(r.url),
        )
        return page

    def __bool__(self) -> bool:
        return bool(self.console_errors or self.page_errors or self.failed_requests or self.remote_requests)
