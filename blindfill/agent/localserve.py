"""A loopback HTTP server for local HTML files, so each gets a real origin.

`blindfill detect page.html` must judge a file the way a browser judges a
site: a `file:` URL has an opaque origin and would be refused. `LocalPages`
serves exactly the files registered with it from `http://127.0.0.1:PORT/`
and answers 404 to every other path; the browser context it is used with
also aborts every request to any other host (see `block_outside`), so a
page's images, scripts and frames from the internet never load.
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from blindfill.errors import InvalidInputError

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route

__all__ = ["LocalPages", "block_outside"]


class LocalPages:
    """Serve registered files on 127.0.0.1 until closed. Use as a context manager."""

    def __init__(self) -> None:
        self._files: dict[str, Path] = {}
        self._lock = threading.Lock()
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # name fixed by http.server
                path = urlsplit(self.path).path
                with pages._lock:
                    file = pages._files.get(path)
                body = b""
                if file is not None:
                    try:
                        body = file.read_bytes()
                    except OSError:
                        file = None
                if file is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # keep request lines off stderr

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="blindfill-localpages", daemon=True
        )
        self._thread.start()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`, the origin every served file shares."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, file: Path) -> str:
        """Register `file` and return its URL.

        Raises `InvalidInputError` (code `file_not_found`) when it is not a
        readable file.
        """
        if not file.is_file():
            raise InvalidInputError(
                f"{file} is not a file", code="file_not_found", hint="check the path"
            )
        with self._lock:
            path = f"/{len(self._files)}/{quote(file.name)}"
            self._files[path] = file.resolve()
        return self.origin + path

    def close(self) -> None:
        """Stop serving. Idempotent."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalPages:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def block_outside(context: BrowserContext, origin: str) -> None:
    """Abort every request of `context` that does not go to `origin`."""
    prefix = origin.rstrip("/") + "/"

    async def handler(route: Route) -> None:
        if route.request.url.startswith(prefix):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    await context.route("**/*", handler)
