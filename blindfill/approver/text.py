"""Making untrusted text safe to show on a terminal.

The agent's reason, page text, and even titles from an imported file may
carry terminal escape sequences (which can move the cursor, rewrite earlier
lines, set the window title or change colours), control characters,
bidirectional overrides and zero-width characters, or newlines that fake
extra prompt lines. `clean_text` removes all of that: escape sequences and
invisible characters are dropped, every kind of line break and tab becomes a
space, runs of spaces collapse, and the result is capped in length. What is
left is one line of printable text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ELLIPSIS", "clean_text"]

ELLIPSIS = "…"

# ESC sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), the string
# commands DCS, SOS, PM and APC (ESC P/X/^/_ ... ST), two-character escapes,
# and the single-byte C1 CSI and OSC introducers.
_ESCAPE = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]?
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?
    | \x1b[ -~]?
    | \x9b[0-?]*[ -/]*[@-~]?
    | \x9d[^\x07\x1b\x9c]*(?:\x07|\x9c)?
    """,
    re.VERBOSE,
)
_SPACES = re.compile(r" {2,}")


def clean_text(text: str, *, limit: int = 300) -> str:
    """`text` as one printable line of at most `limit` characters.

    A cut is marked with an ellipsis. Never raises for any `str`.
    """
    # Bound the work: nothing past a few times the limit can be shown.
    text = _ESCAPE.sub("", text[: limit * 4 + 64])
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\t\n\r\v\f" or category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif category[0] == "C":
            continue  # control, format (bidi, zero-width), private, unassigned
        else:
            kept.append(char)
    line = _SPACES.sub(" ", "".join(kept)).strip()
    if len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    return line
