"""How a settings file is read, and the one error every settings problem raises.

Kept apart from the models in config.py because the models themselves read a settings file
(Behaviour's defaults come from data/evidence.toml), so the reader must not need the models.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A settings file is wrong; the message names the file, the field and what is allowed."""


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; every way it can fail becomes a ConfigError naming the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a directory, not a TOML file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:  # unreadable: permissions, a device, an I/O error
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
