"""Finding and launching a Chromium for the browser side.

blindfill prefers a system Chromium (Debian's `chromium`, Ubuntu's
`chromium-browser`, Google Chrome) and falls back to Playwright's own browser
on machines that have it. The launch flags keep the browser from calling out
to Google's services, so it only ever talks to the pages it is sent to.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from blindfill.errors import BrowserError

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

__all__ = ["CHROMIUM_ARGS", "find_chromium", "launch_chromium"]

# Stop background calls home; they fail on closed networks and leak metadata.
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
)

_CANDIDATES = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
)


def find_chromium() -> Path | None:
    """The system Chromium to use, or None to use Playwright's own browser.

    `BLINDFILL_CHROMIUM` names an executable explicitly; it must exist.
    """
    explicit = os.environ.get("BLINDFILL_CHROMIUM")
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserError(
                f"BLINDFILL_CHROMIUM={explicit} is not an executable file",
                code="browser_not_found",
            )
        return path
    for candidate in _CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


async def launch_chromium(playwright: Playwright, *, headless: bool = True) -> Browser:
    """Launch a headless Chromium: the system one if present, else Playwright's.

    Raises `BrowserError` with install instructions when neither exists.
    """
    from playwright.async_api import Error as PlaywrightError

    executable = find_chromium()
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses its sandbox as root
    try:
        return await playwright.chromium.launch(
            executable_path=str(executable) if executable else None,
            headless=headless,
            args=args,
        )
    except PlaywrightError as exc:
        raise BrowserError(
            "could not launch Chromium"
            + (f" at {executable}" if executable else " (Playwright's own)"),
            code="browser_launch_failed",
            hint="install Debian's `chromium` package, or set BLINDFILL_CHROMIUM",
        ) from exc
