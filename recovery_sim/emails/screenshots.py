"""PNG screenshots of a built gallery's emails, one per type × locale × brand, light and dark, taken by
headless Chromium: what `make gallery` leaves for a reviewer who wants pictures rather than a browser.

`python -m recovery_sim.emails.screenshots out/gallery` writes `out/gallery/png/<brand>/<locale>/
<type>.png` and `<type>.dark.png`. Chromium runs with a fresh profile and no network services, through
Playwright (a development dependency) driving the system's `/usr/bin/chromium` ($CHROMIUM_PATH).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from recovery_sim.settings.config import ConfigError

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SCHEMES = {"light": ".png", "dark": ".dark.png"}
WIDTH = 600
"""The emails' container width: the screenshot shows the email as a desktop client does."""


def chromium_executable() -> str:
    path = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        raise ConfigError(f"no Chromium at {path}; install it with `make browser` or set CHROMIUM_PATH")
    return path


def email_files(gallery: Path) -> list[Path]:
    """The gallery's emails (`emails/<brand>/<locale>/<type>.email.html`), without the dark variants."""
    return sorted(
        p for p in (gallery / "emails").glob("*/*/*.email.html") if not p.name.endswith(".dark.email.html")
    )


def screenshot_gallery(gallery: str | Path) -> list[Path]:
    """Screenshot every email of the gallery at `gallery` in light and dark; returns the PNGs written."""
    gallery = Path(gallery)
    emails = email_files(gallery)
    if not emails:
        raise ConfigError(
            f"{gallery}: no emails found; build it with `recovery-sim emails preview --out {gallery}`"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ConfigError("screenshots need the playwright package (pip install -e '.[dev]')") from exc
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=chromium_executable(), headless=True, args=list(CHROMIUM_FLAGS),
            viewport={"width": WIDTH, "height": 900},
        )  # fmt: skip
        try:
            page = context.new_page()
            for email in emails:
                brand, locale = email.parent.parent.name, email.parent.name
                kind = email.name.removesuffix(".email.html")
                for scheme, suffix in SCHEMES.items():
                    page.emulate_media(color_scheme=scheme)
                    page.goto(email.as_uri(), wait_until="load")
                    target = gallery / "png" / brand / locale / f"{kind}{suffix}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
        finally:
            context.close()
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m recovery_sim.emails.screenshots GALLERY_DIR", file=sys.stderr)
        return 2
    try:
        written = screenshot_gallery(argv[0])
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {len(written)} screenshots under {Path(argv[0]) / 'png'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
