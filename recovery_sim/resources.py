"""Where the shipped data and templates live, however the package is run.

The repository keeps data/ and templates/ at its top level; a built wheel carries them inside the package
as `_data` and `_templates` (pyproject.toml maps them). A source checkout on the path and an editable
install import the package from the repository itself, where the folders sit beside it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_PACKAGE = Path(str(files("recovery_sim"))).resolve()


def _shipped(folder: str) -> Path:
    """The installed copy of a top-level folder if there is one, else the checkout's."""
    candidates = (_PACKAGE / f"_{folder}", _PACKAGE.parent / folder)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = " or ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"recovery_sim's {folder} folder is missing (looked in {tried}): reinstall it")


DATA_DIR = _shipped("data")
"""The project's data folder (scenarios, policies, branding, decline codes)."""

TEMPLATES_DIR = _shipped("templates")
"""Email, gallery, locale and report templates."""
