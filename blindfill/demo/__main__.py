"""`python -m blindfill.demo`: serve the demo site until Ctrl-C.

It prints the URL of every page and the throwaway account's username. The
password and the TOTP seed stay hidden unless `--show-secrets` is given:
the account is thrown away when the process ends, but a terminal's
scrollback and a CI log outlive it.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from blindfill.demo.server import DemoSite
from blindfill.errors import BlindfillError, ExitStatus
from blindfill.log import configure_logging

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m blindfill.demo",
        description="Serve blindfill's demo login pages on 127.0.0.1.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to listen on (default: 0, any free port)",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="also print the account's password and TOTP seed",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="show log events at this level and above (default: warning)",
    )
    return parser


def describe(site: DemoSite, *, show_secrets: bool, out: TextIO) -> None:
    """Print where the running `site` is and which account it accepts."""
    account = site.account
    print(f"blindfill demo site: {site.base_url}/", file=out)
    print(f"  username:  {account.username}", file=out)
    if show_secrets:
        print(f"  password:  {account.password.reveal()}", file=out)
        print(f"  TOTP seed: {account.totp_seed.reveal()}", file=out)
    else:
        print("  password:  hidden (pass --show-secrets to print it)", file=out)
    print("pages:", file=out)
    width = max(len(page.name) for page in site.pages)
    for page in site.pages:
        print(f"  {page.name:<{width}}  {site.url(page)}", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        configure_logging(level=args.log_level)
        with DemoSite(port=args.port) as site:
            describe(site, show_secrets=args.show_secrets, out=sys.stdout)
            signal.signal(signal.SIGTERM, on_term)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()  # until Ctrl-C or SIGTERM
    except BlindfillError as exc:
        print(f"blindfill demo: error [{exc.code}]: {exc}", file=sys.stderr)
        return exc.exit_status
    print("stopped", file=sys.stdout, flush=True)
    return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
