"""Packages outside the live tool's own dependencies, and the one-line message when one is missing.

`pip install digitcam` brings what the live tool needs and no more (no plotting library, no data-set
downloader, no progress bars: less to download and to break). Training, evaluation and the measuring
commands' comparisons need the `train` extra, `pip install "digitcam[train]"`; each command asks for
the packages it uses before it starts, so that a missing one is a clear sentence, not a traceback.
"""

from __future__ import annotations

import importlib.util
import sys

EXTRA_PACKAGES = {"train": ("torchvision", "matplotlib", "tqdm")}


class MissingExtra(SystemExit):
    """A command needs a package of an extra that is not installed (exits with status 2)."""


def missing(*modules: str) -> list[str]:
    """The modules of `modules` that cannot be imported here."""
    out = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module blocked in sys.modules
            found = False
        if not found:
            out.append(name)
    return out


def install_hint(extra: str = "train") -> str:
    return f'pip install "digitcam[{extra}]"'


def require(what: str, *modules: str, extra: str = "train") -> None:
    """Exit with status 2 and one line naming `what` needs, the missing modules and the install command."""
    gone = missing(*modules)
    if gone:
        print(f"error: {what} needs {', '.join(gone)}, from the {extra!r} extra: {install_hint(extra)}",
              file=sys.stderr)
        raise MissingExtra(2)
