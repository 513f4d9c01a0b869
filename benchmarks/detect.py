"""Detection time of the shim on pages of 1,000, 10,000 and 50,000 elements.

Each page holds one login form inside filler made of nested blocks, text,
links, buttons and unrelated inputs (one element in forty is an input). The
shim's `describe` runs in its isolated world and times itself with
`performance.now()`; the baseline, measured in the same world right before
it, is one plain walk over every element of the document (reading each tag
name), the least any detector must do. Figures are medians of several runs.

Reported per size: the shim's milliseconds, microseconds per element, and
its ratio to the walk; and `growth_per_element_*`, the per-element time at
the larger size over that at the smaller (about 1 when growth is linear;
below 1 at 1,000 elements, where the fixed cost of a call dominates).
The full `ShimSession.detect()` round trip over CDP is reported as well.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from blindfill.agent.shim import HANDLE_KEY, WORLD_NAME

SIZES = (1_000, 10_000, 50_000)
RUNS = 7

LOGIN = (
    "<form action='/session'><h2>Sign in</h2>"
    "<label>Email <input type=email name=email autocomplete=username></label>"
    "<label>Password <input type=password name=password></label>"
    "<button>Sign in</button></form>"
)

_DESCRIBE = (
    "function () { const r = globalThis[" + json.dumps(HANDLE_KEY) + "]"
    "({type: 'describe'}); return [r.elapsed_ms, r.forms.length]; }"
)
_WALK = (
    "function () { const t = performance.now(); let n = 0;"
    " for (const el of document.querySelectorAll('*')) n += el.tagName.length;"
    " return [performance.now() - t, document.querySelectorAll('*').length]; }"
)


def page_html(elements: int) -> str:
    """A page of about `elements` elements with one login form in the middle."""
    blocks = []
    # Each block: section > div > (p > a, span, button) and an input in one
    # block of six: about 6.17 elements a block.
    count = max(1, round(elements / (6 + 1 / 6)))
    for i in range(count):
        extra = f"<input name=f{i} placeholder='Filter {i}'>" if i % 6 == 0 else ""
        blocks.append(
            f"<section><div><p>Item {i} <a href='#{i}'>details</a></p>"
            f"<span>note</span><button type=button>Add</button>{extra}</div></section>"
        )
        if i == count // 2:
            blocks.append(LOGIN)
    return "<!doctype html><title>Bench</title><main>" + "".join(blocks) + "</main>"


async def _measure() -> dict[str, Any]:
    from playwright.async_api import async_playwright

    from blindfill.agent.browser import launch_chromium
    from blindfill.agent.localserve import LocalPages, block_outside
    from blindfill.agent.session import ShimSession

    figures: dict[str, Any] = {"runs": RUNS}
    per_element: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp, LocalPages() as pages:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            for size in SIZES:
                file = Path(tmp) / f"page{size}.html"
                file.write_text(page_html(size))
                context = await browser.new_context()
                await block_outside(context, pages.origin)
                page = await context.new_page()
                session = await ShimSession.attach(page)
                await page.goto(pages.add(file))
                cdp = await context.new_cdp_session(page)
                tree = await cdp.send("Page.getFrameTree")
                world = await cdp.send(
                    "Page.createIsolatedWorld",
                    {
                        "frameId": tree["frameTree"]["frame"]["id"],
                        "worldName": WORLD_NAME,
                    },
                )
                shim_ms, walk_ms, round_trip_ms = [], [], []
                elements = 0
                for _ in range(RUNS):
                    walk = await _in_world(cdp, world["executionContextId"], _WALK)
                    walk_ms.append(walk[0])
                    elements = int(walk[1])
                    shim = await _in_world(cdp, world["executionContextId"], _DESCRIBE)
                    assert shim[1] >= 1, "the benchmark page's login form was missed"
                    shim_ms.append(shim[0])
                    started = time.perf_counter()
                    await session.detect()
                    round_trip_ms.append((time.perf_counter() - started) * 1000)
                shim_median = statistics.median(shim_ms)
                walk_median = statistics.median(walk_ms)
                per_element[size] = shim_median * 1000 / elements
                figures[f"elements_{size}"] = elements
                figures[f"detect_ms_{size}"] = round(shim_median, 2)
                figures[f"walk_ms_{size}"] = round(walk_median, 3)
                figures[f"detect_us_per_element_{size}"] = round(per_element[size], 3)
                figures[f"detect_vs_walk_ratio_{size}"] = round(
                    shim_median / max(walk_median, 1e-3), 1
                )
                figures[f"session_detect_ms_{size}"] = round(
                    statistics.median(round_trip_ms), 1
                )
                await session.close()
                await context.close()
            await browser.close()
    figures["growth_per_element_10k_vs_1k"] = round(
        per_element[10_000] / per_element[1_000], 2
    )
    figures["growth_per_element_50k_vs_10k"] = round(
        per_element[50_000] / per_element[10_000], 2
    )
    figures["growth_per_element_50k_vs_1k"] = round(
        per_element[50_000] / per_element[1_000], 2
    )
    return figures


async def _in_world(cdp: Any, context_id: int, function: str) -> list[float]:
    result = await cdp.send(
        "Runtime.callFunctionOn",
        {
            "functionDeclaration": function,
            "executionContextId": context_id,
            "returnByValue": True,
        },
    )
    return list(result["result"]["value"])


def run() -> dict[str, Any]:
    """Measure and return the figures (see the module docstring)."""
    return asyncio.run(_measure())
