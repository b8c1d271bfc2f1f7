"""Where abdb's own files are: the checkout (editable install) or the installed package."""

from __future__ import annotations

from pathlib import Path

import abdb


def project_root() -> Path:
    return Path(abdb.__file__).resolve().parent.parent


def migrations_dir() -> Path:
    in_checkout = project_root() / "migrations"
    if (in_checkout / "env.py").exists():
        return in_checkout
    return Path(abdb.__file__).resolve().parent / "_migrations"
