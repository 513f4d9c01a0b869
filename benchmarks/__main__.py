"""Run one benchmark by name and print its figures."""

from __future__ import annotations

import argparse
import json
import pkgutil
import sys
from importlib import import_module
from pathlib import Path

from blindfill.log import configure_logging


def _names() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("name", choices=_names(), help="which benchmark to run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    configure_logging(level="warning")  # stdout carries the figures only
    figures = import_module(f"benchmarks.{args.name}").run()
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        for key, value in sorted(figures.items()):
            print(f"{key:40} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
