"""The `blindfill` command.

Each command group lives in its own module under `blindfill.commands` and
exposes `register(subparsers)`, which adds its parsers and sets a `handler`
default: a function taking the parsed arguments and returning an exit status.
This module owns what every command shares: global flags, logging set-up,
and turning a `BlindfillError` into one clear line and an exit status instead
of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from blindfill import __version__
from blindfill.errors import BlindfillError, ExitStatus
from blindfill.log import configure_logging

__all__ = ["build_parser", "main"]

# Command modules in the order their commands appear in `--help`.
_COMMAND_MODULES = (
    "blindfill.commands.demo",
    "blindfill.commands.signin",
    "blindfill.commands.detect",
    "blindfill.commands.pair",
    "blindfill.commands.approver",
    "blindfill.commands.vault",
    "blindfill.commands.audit",
)

EXIT_STATUS_HELP = """\
exit statuses:
  0    success
  1    the operation ran and did not succeed (declined, no login form, ...)
  2    usage error: a wrong flag, argument, file or password
  3    the other side sent something refused (tampered, replayed, unpaired)
  4    environment failure: network, browser, disk or timeout
  130  interrupted
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit with `ExitStatus.USAGE`."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command group registered."""
    parser = _Parser(
        prog="blindfill",
        description=(
            "Sign an AI agent's headless browser in to websites without the "
            "agent ever holding the secret."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # Abbreviations of the global flags would make a command's own flags
        # ambiguous (`audit show --log` against `--log-level`).
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="show log events at this level and above (default: warning)",
    )
    parser.add_argument(
        "--log-json", action="store_true", help="log one JSON object a line"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    for name in _COMMAND_MODULES:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a command group not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return ExitStatus.USAGE

    try:
        configure_logging(level=args.log_level, json=args.log_json)
        return handler(args)
    except BlindfillError as exc:
        print(f"blindfill: error [{exc.code}]: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("blindfill: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
