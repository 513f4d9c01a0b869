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
import threading
from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page

from blindfill.agent.session import ShimSession

PAGES = Path(__file__).resolve().parent.parent / "pages"


class Site:
    """An HTTP server on 127.0.0.1 serving registered HTML and 404 otherwise."""

    _counter = itertools.count()

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.other: Site | None = None
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = routes.get(urlsplit(self.path).path)
                if found is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                body, content_type = found
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

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
        self.routes[path] = (html.encode(), "text/html; charset=utf-8")
        return self.origin(host) + path

    def add_raw(self, path: str, body: bytes, content_type: str) -> str:
        """Serve `body` as is at `path`; return its URL."""
        self.routes[path] = (body, content_type)
        return self.origin() + path

    def add_file(
        self, name: str, *, path: str | None = None, host: str = "127.0.0.1"
    ) -> str:
        """Serve `tests/pages/NAME` (placeholders replaced); return its URL."""
        return self.add(
            (PAGES / name).read_text(encoding="utf-8"), path=path, host=host
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
