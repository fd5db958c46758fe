"""Where the files shipped with edm live, in a wheel and in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_config_dir() -> Path:
    """The default `config/` folder: inside the wheel, or at the top of a checkout."""
    installed = _PACKAGE / "_bundled" / "config"
    return installed if installed.is_dir() else _PACKAGE.parent / "config"


def templates_dir() -> Path:
    return _PACKAGE / "templates"


def package_dirs() -> tuple[Path, ...]:
    """Folders that belong to the installation and are never written to: the package, the bundled config."""
    return (_PACKAGE, bundled_config_dir().resolve())
