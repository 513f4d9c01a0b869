"""Serving the demo site on 127.0.0.1.

`DemoSite` runs uvicorn with the plain ASGI `DemoApp` in a background thread
with its own event loop. A thread keeps the site answering whatever the
caller's loop is doing (a test blocked in Playwright, a benchmark timing a
sign-in), and lets the same object serve sync callers (`python -m
blindfill.demo`) and async ones (`async with DemoSite() as site`).

The listening socket is bound before the thread starts, on port 0 unless a
port is asked for, so `base_url` is known at once and a busy port fails in
the caller's thread with a clear error. uvicorn installs no signal handlers
outside the main thread and is given no logging configuration, so it leaves
the process's signals and logging alone.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Final

from blindfill.demo.account import DemoAccount, random_account
from blindfill.demo.app import SESSION_COOKIE, DemoApp, SignIn
from blindfill.demo.pages import DEMO_PAGES, DemoPage, demo_page
from blindfill.errors import (
    EnvironmentFault,
    LocalProtocolError,
    TimeoutFault,
    UsageError,
)
from blindfill.log import get_logger

if TYPE_CHECKING:
    from blindfill.approver.items import Item

__all__ = ["SESSION_COOKIE", "DemoSite"]

HOST: Final = "127.0.0.1"
START_TIMEOUT: Final = 10.0  # seconds for uvicorn to start listening
STOP_TIMEOUT: Final = 10.0  # seconds for open connections to finish


class DemoSite:
    """The demo login site, served on http://127.0.0.1:PORT/.

    Use it as a context manager, sync or async, or call `start()` and
    `stop()`. `account` defaults to a fresh `random_account()`; `port` 0
    takes a free port. The site accepts only that account.
    """

    def __init__(
        self,
        account: DemoAccount | None = None,
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= port <= 65535:
            raise UsageError(f"port {port} is out of range", hint="use 0-65535")
        self.account = account if account is not None else random_account()
        self.pages: tuple[DemoPage, ...] = DEMO_PAGES
        self._port = port
        self._app = DemoApp(self.account, clock=clock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # --- where things are ------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash.

        Raises `LocalProtocolError` before `start()` or after `stop()`.
        """
        if self._base_url is None:
            raise LocalProtocolError(
                "the demo site is not running", hint="call start() first"
            )
        return self._base_url

    @property
    def running(self) -> bool:
        return self._base_url is not None

    def page(self, name: str) -> DemoPage:
        """The demo page called `name`; raises `UsageError` if none is."""
        return demo_page(name)

    def url(self, page: DemoPage | str) -> str:
        """The absolute URL of a page's first step (a page or its name)."""
        found = demo_page(page) if isinstance(page, str) else page
        return self.base_url + found.path

    def vault_item(self, *, title: str = "Demo site") -> Item:
        """The approver's vault item for this site's account and exact origin."""
        from blindfill.approver.items import Item, TotpSpec

        return Item(
            id="demo",
            title=title,
            username=self.account.username,
            password=self.account.password,
            urls=(self.base_url + "/",),
            totp=TotpSpec(self.account.totp_seed),
        )

    # --- who signed in --------------------------------------------------------

    def signed_in(self, page: str, *, session: str | None = None) -> str | None:
        """The username that last signed in through the page named `page`,
        or None. `session` (the `SESSION_COOKIE` cookie's value) limits it
        to one browser session. Raises `UsageError` for an unknown page."""
        return self._app.signed_in(page, session=session)

    @property
    def sign_ins(self) -> tuple[SignIn, ...]:
        """Every successful sign-in so far, oldest first."""
        return self._app.sign_ins

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1 and serve in a background thread.

        Returns once the site accepts connections. Raises
        `LocalProtocolError` if already started, `EnvironmentFault`
        (code `port_unavailable`) if the port cannot be bound, and
        `TimeoutFault` if uvicorn does not start in time.
        """
        if self._thread is not None:
            raise LocalProtocolError("the demo site is already running")
        sock = _bind(self._port)
        port = sock.getsockname()[1]
        server = _Server(self._app, sock)
        thread = threading.Thread(
            target=server.run, name=f"blindfill-demo-{port}", daemon=True
        )
        thread.start()
        if not server.started.wait(START_TIMEOUT) or server.failure is not None:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
            sock.close()
            raise TimeoutFault(
                "the demo site did not start",
                code="demo_start_failed",
                hint=server.failure or "see the log for uvicorn's reason",
            )
        self._server, self._thread = server, thread
        self._base_url = f"http://{HOST}:{port}"
        get_logger(__name__).info("demo.started", url=self._base_url)

    def stop(self) -> None:
        """Stop serving and wait for the thread; a no-op if not running.

        Open connections get `STOP_TIMEOUT` seconds to finish.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT + 1)
        self._server = self._thread = self._base_url = None
        if thread.is_alive():
            raise TimeoutFault("the demo site did not stop in time")
        get_logger(__name__).info("demo.stopped")

    def __enter__(self) -> DemoSite:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> DemoSite:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        where = self._base_url or "not running"
        return f"DemoSite({where}, username={self.account.username!r})"


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise EnvironmentFault(
            f"cannot listen on {HOST}:{port}: {exc.strerror}",
            code="port_unavailable",
            hint="pick another --port, or 0 for any free port",
        ) from exc
    sock.setblocking(False)
    return sock


class _Server:
    """uvicorn's server for one socket, run by `DemoSite`'s thread."""

    def __init__(self, app: DemoApp, sock: socket.socket) -> None:
        import uvicorn  # here, not at the top: it takes 0.1 s to import

        started = threading.Event()

        class ReadyServer(uvicorn.Server):
            # Tells the starting thread the moment the socket is served.
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                started.set()

        config = uvicorn.Config(
            app,
            interface="asgi3",
            http="h11",
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=int(STOP_TIMEOUT),
        )
        self._server = ReadyServer(config)
        self._sock = sock
        self.started = started
        self.failure: str | None = None

    @property
    def should_exit(self) -> bool:
        return self._server.should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        # uvicorn's main loop polls this flag every 0.1 s.
        self._server.should_exit = value

    def run(self) -> None:
        """The thread's body: serve until `should_exit`, never raise."""
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # a thread must not die silently
            self.failure = f"{type(exc).__name__}: {exc}"
            get_logger(__name__).error("demo.failed", error=self.failure)
        finally:
            self._sock.close()
            self.started.set()  # wake a start() still waiting
