"""Loopback sites for browser tests of the shim.

`site` and `other_site` are two HTTP servers on 127.0.0.1 with different
ports, so pages on them have different origins; `localhost` reaches the same
servers under yet another origin (and a different site, so Chromium runs such
frames in a process of their own). Pages come from `tests/pages/*.html`,
where `{{OTHER}}` and `{{SELF}}` are replaced with the other server's and
this server's origin, or from HTML strings.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page

from blindfill.agent.session import ShimSession
from tests.loopback import LoopbackSite

PAGES = Path(__file__).resolve().parent.parent / "pages"


class Site:
    """A loopback HTTP server serving registered HTML, with placeholders."""

    _counter = itertools.count()

    def __init__(self) -> None:
        self.server = LoopbackSite()
        self.other: Site | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def origin(self, host: str = "127.0.0.1") -> str:
        return self.server.origin_for(host)

    def add(
        self, html: str, *, path: str | None = None, host: str = "127.0.0.1"
    ) -> str:
        """Serve `html` at `path` (a fresh one by default); return its URL."""
        if path is None:
            path = f"/p{next(self._counter)}.html"
        if self.other is not None:
            html = html.replace("{{OTHER}}", self.other.origin())
            html = html.replace("{{OTHER_LOCALHOST}}", self.other.origin("localhost"))
        html = html.replace("{{SELF_LOCALHOST}}", self.origin("localhost"))
        html = html.replace("{{SELF}}", self.origin())
        self.server.add(path, html)
        return self.origin(host) + path

    def add_raw(self, path: str, body: bytes, content_type: str) -> str:
        """Serve `body` as is at `path`; return its URL."""
        return self.server.add_raw(path, body, content_type)

    def add_file(
        self, name: str, *, path: str | None = None, host: str = "127.0.0.1"
    ) -> str:
        """Serve `tests/pages/NAME` (placeholders replaced); return its URL."""
        return self.add(
            (PAGES / name).read_text(encoding="utf-8"), path=path, host=host
        )

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="session")
def sites() -> Iterator[tuple[Site, Site]]:
    first, second = Site(), Site()
    first.other, second.other = second, first
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def site(sites: tuple[Site, Site]) -> Site:
    return sites[0]


@pytest.fixture
def other_site(sites: tuple[Site, Site]) -> Site:
    return sites[1]


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture
async def shim(page: Page) -> AsyncIterator[ShimSession]:
    session = await ShimSession.attach(page)
    yield session
    await session.close()
