"""`python -m blindfill.demo`: serve the demo site until Ctrl-C.

It prints the URL of every page and the account's username, never its
password or TOTP seed. By default the account is random and thrown away
with the process; to sign in by hand, choose your own with `--username` and
`--secrets-stdin` (the password, then optionally a base32 TOTP seed, one a
line on standard input), so the secret is one you typed, not one printed.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import TextIO

from blindfill.demo.account import DemoAccount, random_account
from blindfill.demo.server import DemoSite
from blindfill.errors import BlindfillError, ExitStatus, UsageError
from blindfill.log import configure_logging
from blindfill.sensitive import Secret

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
        "--username",
        help="the account's username (default: a random demo-XXXXXXXX)",
    )
    parser.add_argument(
        "--secrets-stdin",
        action="store_true",
        help=(
            "read the account's password, then optionally a base32 TOTP seed, "
            "one a line from standard input (default: random, never shown)"
        ),
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="show log events at this level and above (default: warning)",
    )
    return parser


def account_from(args: argparse.Namespace, stdin: TextIO) -> DemoAccount:
    """The account the site accepts: random, or chosen by the person.

    Raises `InvalidInputError` (never quoting a secret) for a bad value and
    `UsageError` when `--secrets-stdin` finds no password.
    """
    random = random_account()
    if not args.secrets_stdin:
        return replace(random, username=args.username or random.username)
    password = stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError(
            "--secrets-stdin read no password",
            hint="pipe the password, then optionally a TOTP seed, one a line",
        )
    seed = stdin.readline().strip() or random.totp_seed.reveal()
    return DemoAccount(
        username=args.username or random.username,
        password=Secret(password, kind="password"),
        totp_seed=Secret(seed, kind="totp_seed"),
    )


def describe(site: DemoSite, *, out: TextIO) -> None:
    """Print where the running `site` is and which account it accepts."""
    print(f"blindfill demo site: {site.base_url}/", file=out)
    print(f"  username:  {site.account.username}", file=out)
    print("  password:  not shown (choose one with --secrets-stdin)", file=out)
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
        account = account_from(args, sys.stdin)
        with DemoSite(account, port=args.port) as site:
            describe(site, out=sys.stdout)
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
