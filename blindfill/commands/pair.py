"""`blindfill pair`: pair this browser side with an approver.

The pairing secret never comes from the command line, where other users
can read it in the process list and shells keep it in history. It comes
from `BLINDFILL_PAIRING_TOKEN` (the token, or the short code), from one
line of standard input with `--code-stdin`, or from a prompt that does not
echo. The state file is written, mode 0600, only once the person at the
approver confirmed; a failed attempt leaves any earlier pairing in place.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import Any, Final

from blindfill.agent.link import (
    APPROVER_URL_ENV,
    default_browser_state_path,
    pair_browser,
)
from blindfill.errors import ExitStatus, UsageError
from blindfill.sensitive import Secret
from blindfill.transport.client import ApproverTransport

__all__ = ["TOKEN_ENV", "register"]

TOKEN_ENV: Final = "BLINDFILL_PAIRING_TOKEN"  # noqa: S105 (a variable name)


def register(subparsers: Any) -> None:
    """Add `blindfill pair` to the command line."""
    parser = subparsers.add_parser(
        "pair",
        help="pair this browser side with an approver",
        description=(
            "Pair with the approver showing a pairing offer (`blindfill "
            "approver pair`). The token comes from "
            f"{TOKEN_ENV}; without it, type the short code when asked, or "
            "pipe it with --code-stdin. Compare the fingerprint shown here "
            "with the approver's before confirming there."
        ),
    )
    parser.add_argument(
        "--approver",
        default=os.environ.get(APPROVER_URL_ENV),
        metavar="URL",
        help=f"the approver's URL (default: ${APPROVER_URL_ENV})",
    )
    parser.add_argument(
        "--name", required=True, help="this agent's name, shown on the approver"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"browser-side state file (default: {default_browser_state_path()})",
    )
    parser.add_argument(
        "--code-stdin",
        action="store_true",
        help="read the short code (or token) from one line of standard input",
    )
    parser.set_defaults(handler=_pair)


def _pair(args: argparse.Namespace) -> int:
    if not args.approver:
        raise UsageError(
            "no approver URL", hint=f"give --approver URL or set {APPROVER_URL_ENV}"
        )
    transport = ApproverTransport(args.approver)  # checks the URL first
    secret = _read_secret(args)
    state_path: Path = args.state or default_browser_state_path()

    def show(approver_name: str, fingerprint: str) -> None:
        print(
            f"The approver {approver_name!r} answered.\n"
            f"  fingerprint  {fingerprint}\n"
            "Check that the approver shows the same fingerprint, and confirm "
            "there. Waiting for the confirmation...",
            flush=True,
        )

    async def run() -> None:
        async with transport:
            state = await pair_browser(
                transport,
                secret,
                agent_name=args.name,
                state_path=state_path,
                on_fingerprint=show,
            )
        print(
            f"Paired with approver {state.approver_name!r} "
            f"(fingerprint {state.fingerprint}).\nState saved to {state_path}."
        )

    asyncio.run(run())
    return ExitStatus.OK


def _read_secret(args: argparse.Namespace) -> Secret[str]:
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return Secret(from_env, kind="pairing_secret")
    if args.code_stdin:
        line = sys.stdin.readline().strip()
        if not line:
            raise UsageError("--code-stdin read no code from standard input")
        return Secret(line, kind="pairing_secret")
    if not sys.stdin.isatty():
        raise UsageError(
            "no pairing secret given",
            hint=f"set {TOKEN_ENV}, pipe the code with --code-stdin, or run "
            "in a terminal to type it",
        )
    typed = getpass.getpass("Pairing code shown by the approver: ").strip()
    if not typed:
        raise UsageError("no pairing code typed")
    return Secret(typed, kind="pairing_secret")
