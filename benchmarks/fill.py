"""`sign_in` against Playwright's own `fill()` on the same login page.

Subject: `Blindfill.sign_in(page, submit=False)` on the demo site's plain
login page: detect the form, ask the approver (a policy grants; approver on
127.0.0.1 over HTTP, a fresh Noise handshake, audit record and state files
written), inject username and password. The browser is warm and the shim
already attached, as in an agent's session.

Baseline: Playwright's `page.fill()` of the same two fields with the values
in plaintext, which is what an agent holding the secret would do.

The two alternate, one of each per round, in alternating order. `ratio`
is the median of the per-round ratios, each sign-in timed right next to its
own baseline, so a burst of load on the shared machine slows both sides of
a pair alike; `ratio_of_medians` is reported too.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from blindfill.agent.client import launch_browser
from blindfill.approver.decisions import EngineConfig
from blindfill.demo import DemoSite
from blindfill.embedded import embedded, policy_for

ROUNDS = 40
WARMUP = 3
AGENT = "bench-agent"


async def _measure() -> dict[str, object]:
    with DemoSite() as site, tempfile.TemporaryDirectory() as tmp:
        async with (
            embedded(
                [site.vault_item()],
                workdir=Path(tmp) / "embedded",
                policy=policy_for(AGENT, [site.base_url]),
                agent_name=AGENT,
                # Many requests in a row from one agent are the point here.
                config=EngineConfig(max_per_agent=10_000, max_per_origin=10_000),
            ) as setup,
            launch_browser() as browser,
        ):
            page = await browser.new_page()
            await page.goto(site.url("plain"))
            bf = setup.blindfill
            username = site.account.username
            password = site.account.password.reveal()

            async def blindfill_fill() -> None:
                result = await bf.sign_in(page, reason="benchmark", submit=False)
                if not result.ok:
                    raise RuntimeError(f"sign-in ended as {result.status}")

            async def playwright_fill() -> None:
                await page.fill("#username", username)
                await page.fill("#password", password)

            for _ in range(WARMUP):
                await blindfill_fill()
                await playwright_fill()
            subject: list[float] = []
            baseline: list[float] = []
            pair = [(blindfill_fill, subject), (playwright_fill, baseline)]
            for _ in range(ROUNDS):
                for run, samples in pair:
                    start = time.perf_counter()
                    await run()
                    samples.append((time.perf_counter() - start) * 1000)
                pair.reverse()

    sign_in_ms = statistics.median(subject)
    fill_ms = statistics.median(baseline)
    ratios = [mine / theirs for mine, theirs in zip(subject, baseline, strict=True)]
    quartiles = statistics.quantiles(ratios, n=4)
    return {
        "sign_in_ms": round(sign_in_ms, 2),
        "playwright_fill_ms": round(fill_ms, 2),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_q1": round(quartiles[0], 3),
        "ratio_q3": round(quartiles[2], 3),
        "ratio_of_medians": round(sign_in_ms / fill_ms, 3),
        "target_ratio": 1.5,
        "rounds": ROUNDS,
        "sign_in_p90_ms": round(statistics.quantiles(subject, n=10)[-1], 2),
        "playwright_fill_p90_ms": round(statistics.quantiles(baseline, n=10)[-1], 2),
    }


def run() -> dict[str, object]:
    return asyncio.run(_measure())
