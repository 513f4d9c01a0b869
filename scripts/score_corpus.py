#!/usr/bin/env python3
"""Score `blindfill detect` on a labelled login-form corpus.

Usage: score_corpus.py [CORPUS_DIR] [--verbose] [--jobs N] [--detections FILE]

CORPUS_DIR holds `pages/*.html` and `labels.json` as described in the
corpora README (default: ../shared/corpora/ddg-open beside the repository).
The script runs `blindfill detect --json --wait 0` on every page, converts
each line to the corpus's detector output (`page`, `best`), and applies the
corpus's scoring rules: password recall, username recall, wrong fills and
the false-positive page rate. Pages are served under neutral names
(`page-0001.html`, ...) through links in a temporary directory, because the
corpus's file names carry the labels (`..._signup.html`) and a detector that
reads the URL must not see them. `--detections FILE`
scores a saved JSON Lines output of `blindfill detect` instead of running
it; `--save FILE` keeps the raw output. `--verbose` lists every miss.
Prints a Markdown table; exits 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "ddg-open"
POSITIVE_PASSWORD = {"login", "password_step"}
POSITIVE_USERNAME = {"login", "username_step"}
NEGATIVE = {"signup", "change_password", "other"}


def run_neutrally_named(pages: list[Path], jobs: int) -> list[dict[str, Any]]:
    """Run the detector on `pages` served as `page-NNNN.html`.

    Each record's `target` is set back to the page's own path.
    """
    with tempfile.TemporaryDirectory(prefix="blindfill-score-") as tmp:
        links: dict[str, Path] = {}
        for number, page in enumerate(pages, 1):
            link = Path(tmp) / f"page-{number:04d}.html"
            link.symlink_to(page.resolve())
            links[str(link)] = page
        records = run_detector(list(map(Path, links)), jobs)
    for record in records:
        record["target"] = str(links.get(record["target"], record["target"]))
    return records


def run_detector(pages: list[Path], jobs: int) -> list[dict[str, Any]]:
    """Run `blindfill detect --json` on `pages` in `jobs` processes."""
    command = [sys.executable, "-m", "blindfill", "detect", "--json", "--wait", "0"]
    shares = [pages[i::jobs] for i in range(jobs)]
    running = [
        subprocess.Popen(
            [*command, *map(str, share)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for share in shares
        if share
    ]
    records: list[dict[str, Any]] = []
    for process in running:
        out, err = process.communicate()
        found = [json.loads(line) for line in out.splitlines() if line.strip()]
        if not found:
            sys.exit(f"blindfill detect printed nothing:\n{err}")
        records.extend(found)
    return records


def score(labels: list[dict[str, Any]], best_by_page: dict[str, Any]) -> dict[str, Any]:
    """The corpus metrics, and the pages behind each miss."""
    misses: dict[str, list[str]] = {
        "password": [],
        "username": [],
        "wrong": [],
        "false_positive": [],
    }
    totals = Counter()
    for label in labels:
        page, kind = label["page"], label["kind"]
        truth = {f["input_index"]: f["role"] for f in label["fields"]}
        best = best_by_page.get(page)
        chosen = [
            (f["role"], f["input_index"])
            for f in (best or {}).get("fields", [])
            if f["role"] != "other"
        ]
        if kind in POSITIVE_PASSWORD:
            totals["password_pages"] += 1
            if any(r == "password" and truth.get(i) == "password" for r, i in chosen):
                totals["password_hits"] += 1
            else:
                misses["password"].append(page)
        if kind in POSITIVE_USERNAME and "username" in truth.values():
            totals["username_pages"] += 1
            if any(r == "username" and truth.get(i) == "username" for r, i in chosen):
                totals["username_hits"] += 1
            else:
                misses["username"].append(page)
        if kind in NEGATIVE:
            totals["negative_pages"] += 1
            if best is not None:
                totals["false_positive_pages"] += 1
                misses["false_positive"].append(page)
            totals["wrong_fills"] += len(chosen)
            if chosen:
                misses["wrong"].append(page)
        else:
            wrong = [1 for r, i in chosen if truth.get(i, "other") != r]
            totals["wrong_fills"] += len(wrong)
            if wrong:
                misses["wrong"].append(page)
    return {
        "pages": len(labels),
        "password_recall": totals["password_hits"] / max(totals["password_pages"], 1),
        "password_pages": totals["password_pages"],
        "username_recall": totals["username_hits"] / max(totals["username_pages"], 1),
        "username_pages": totals["username_pages"],
        "wrong_fills": totals["wrong_fills"],
        "false_positive_rate": totals["false_positive_pages"]
        / max(totals["negative_pages"], 1),
        "false_positive_pages": totals["false_positive_pages"],
        "negative_pages": totals["negative_pages"],
        "misses": misses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--detections", type=Path, help="score saved detect output")
    parser.add_argument("--save", type=Path, help="write detect output here")
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--jobs", type=int, default=2, help="browsers in parallel")
    args = parser.parse_args()

    labels = json.loads((args.corpus / "labels.json").read_text(encoding="utf-8"))
    if args.detections:
        lines = args.detections.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    else:
        pages = [args.corpus / "pages" / label["page"] for label in labels]
        records = run_neutrally_named(pages, max(args.jobs, 1))
    if args.save:
        args.save.write_text("".join(json.dumps(r) + "\n" for r in records))
    errors = [r for r in records if "error" in r]
    best_by_page = {Path(r["target"]).name: r.get("best") for r in records}
    result = score(labels, best_by_page)

    print("| figure | value | target |\n|---|---|---|")
    print(f"| pages | {result['pages']} | |")
    print(
        f"| password recall | {result['password_recall']:.3f} "
        f"({result['password_pages']} pages) | >= 0.97 |"
    )
    print(
        f"| username recall | {result['username_recall']:.3f} "
        f"({result['username_pages']} pages) | >= 0.95 |"
    )
    print(f"| wrong fills | {result['wrong_fills']} | 0 |")
    print(
        f"| false-positive pages | {result['false_positive_rate']:.3f} "
        f"({result['false_positive_pages']} of {result['negative_pages']}) | <= 0.02 |"
    )
    if errors:
        print(f"\n{len(errors)} pages could not be examined", file=sys.stderr)
    if args.verbose:
        for name, pages_missed in result["misses"].items():
            print(f"\n{name} misses: {' '.join(pages_missed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
