"""Where the shim's JavaScript lives and the names it shares with Python.

The one copy of the shim is `extension_shim/shim.js` at the top of the
repository, so a developer can load it unchanged as an unpacked extension.
`blindfill/agent/shim.js` is a symbolic link to it: a source checkout reads
through the link, and building a wheel copies the file's contents into the
package (package data `agent/shim.js`), so an installed blindfill reads its
own copy. See docs/decisions.md.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from blindfill.errors import DetectionError

__all__ = [
    "BINDING_NAME",
    "HANDLE_KEY",
    "SHIM_VERSION",
    "WORLD_NAME",
    "shim_path",
    "shim_source",
]

# The isolated world the shim runs in. Page scripts live in the main world
# and cannot reach objects of this one.
WORLD_NAME = "blindfill"
# Names fixed inside shim.js; `shim_source` checks they agree.
HANDLE_KEY = "__blindfillShim"
BINDING_NAME = "__blindfillNotify"
SHIM_VERSION = 1

_HERE = Path(__file__).resolve().parent
_CANDIDATES = (
    Path(__file__).parent / "shim.js",
    _HERE.parent.parent / "extension_shim" / "shim.js",
)


def shim_path() -> Path:
    """The shim file this installation uses.

    Raises `DetectionError` (code `shim_missing`) when neither the packaged
    copy nor the repository's `extension_shim/shim.js` exists.
    """
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    raise DetectionError(
        "the shim file shim.js is missing from this installation",
        code="shim_missing",
        hint="reinstall blindfill, or restore extension_shim/shim.js",
    )


@cache
def shim_source() -> str:
    """The shim's source text, checked to use the names Python expects."""
    source = shim_path().read_text(encoding="utf-8")
    expected = {
        "HANDLE_KEY": f"'{HANDLE_KEY}'",
        "BINDING_NAME": f"'{BINDING_NAME}'",
        "SHIM_VERSION": str(SHIM_VERSION),
    }
    for name, value in expected.items():
        if not re.search(rf"const {name} = {re.escape(value)};", source):
            raise DetectionError(
                f"shim.js does not define {name} = {value}",
                code="shim_mismatch",
                hint="the Python package and shim.js come from different versions",
            )
    return source
