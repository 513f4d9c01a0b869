"""How `blindfill approver pair` finds and drives a running approver.

One approver runs per state directory. `StateDirLock` holds an exclusive
advisory lock on `approver.lock` there for the service's lifetime, so a
second `serve` on the same directory is refused (two processes advancing
one key chain would break it), and `approver pair` can tell whether a
server runs: if it can take the lock, none does, and it serves pairing
itself until the browser side is paired.

While it runs, `serve` keeps two files in the state directory, both mode
0600: `server.json` (its URL and process id) and `admin-token` (a random
bearer token). The admin endpoints accept only loopback clients that send
that token; reading it needs the same access as reading the approver's
private key next to it. `AdminClient` is the client side, with the same
calls as the in-process `PairingDesk`, so the pairing dialogue is written
once for both.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import httpx

from blindfill.approver.paths import ensure_private_dir
from blindfill.approver.service_pairing import (
    Answer,
    DeskStatus,
    OfferTicket,
    OfferView,
)
from blindfill.errors import (
    ApproverUnreachableError,
    LocalProtocolError,
    RemoteProtocolError,
    StorageError,
    UsageError,
)
from blindfill.sensitive import Secret
from blindfill.storage import read_private, write_atomic
from blindfill.transport.client import translated_httpx_errors
from blindfill.transport.protocol import (
    ADMIN_ANSWER_PATH,
    ADMIN_OFFER_PATH,
    ADMIN_STATUS_PATH,
    MAX_ADMIN_BODY,
)

__all__ = [
    "ADMIN_TOKEN_FILE",
    "LOCK_FILE",
    "SERVER_FILE",
    "AdminClient",
    "Desk",
    "ServerInfo",
    "StateDirLock",
    "new_admin_token",
    "read_server_info",
    "remove_server_info",
    "write_server_info",
]

LOCK_FILE: Final = "approver.lock"
SERVER_FILE: Final = "server.json"
ADMIN_TOKEN_FILE: Final = "admin-token"  # noqa: S105 (a file name)
_POLL_S: Final = 20.0


class Desk(Protocol):
    """A pairing desk, in-process (`PairingDesk`) or over HTTP (`AdminClient`)."""

    async def open_offer(self) -> OfferTicket: ...

    async def wait_change(
        self, offer_id: str, *, since: DeskStatus | None, wait_s: float
    ) -> OfferView: ...

    async def answer(self, offer_id: str, answer: Answer) -> OfferView: ...


class StateDirLock:
    """An exclusive lock on a state directory, held until `release`.

    The kernel drops it when the process dies, even by kill -9.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free; False if another process holds it.

        Raises `StorageError` if the lock file cannot be opened.
        """
        ensure_private_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(
                f"could not open {self.path}: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True, slots=True, repr=False)
class ServerInfo:
    """Where a running approver listens, and its admin token."""

    url: str
    pid: int
    admin_token: Secret[str]

    def __repr__(self) -> str:
        return f"ServerInfo(url={self.url!r}, pid={self.pid})"


def new_admin_token() -> Secret[str]:
    return Secret(secrets.token_urlsafe(32), kind="admin_token")


def write_server_info(state_dir: Path, url: str, token: Secret[str]) -> None:
    """Record the running server's URL and admin token (both files 0600)."""
    write_atomic(state_dir / ADMIN_TOKEN_FILE, token.reveal().encode("ascii"))
    document = {"url": url, "pid": os.getpid()}
    write_atomic(state_dir / SERVER_FILE, json.dumps(document).encode())


def remove_server_info(state_dir: Path) -> None:
    for name in (ADMIN_TOKEN_FILE, SERVER_FILE):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def read_server_info(state_dir: Path) -> ServerInfo:
    """The running server's URL and token. Raises `StorageError` if missing."""
    try:
        document = json.loads(read_private(state_dir / SERVER_FILE))
        url = str(document["url"])
        pid = int(document["pid"])
        token = read_private(state_dir / ADMIN_TOKEN_FILE).decode("ascii").strip()
    except StorageError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise StorageError(
            f"the server files in {state_dir} are damaged",
            code="server_info_damaged",
            hint="restart `blindfill approver serve`",
        ) from exc
    return ServerInfo(url, pid, Secret(token, kind="admin_token"))


class AdminClient:
    """Drives the pairing desk of a running approver over its admin endpoints."""

    def __init__(self, info: ServerInfo, *, client: httpx.AsyncClient | None = None):
        self._info = info
        self._own = client is None
        self._client = client or httpx.AsyncClient(trust_env=False)

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def open_offer(self) -> OfferTicket:
        document = await self._call("POST", ADMIN_OFFER_PATH, limit_s=10.0)
        try:
            return OfferTicket(
                offer_id=str(document["offer_id"]),
                token=Secret(str(document["token"]), kind="token"),
                code=Secret(str(document["code"]), kind="code"),
                expires_in=float(document["expires_in"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed() from exc

    async def wait_change(
        self, offer_id: str, *, since: DeskStatus | None, wait_s: float
    ) -> OfferView:
        wait = min(wait_s, _POLL_S)
        params = {"offer": offer_id, "wait": f"{wait:.1f}"}
        if since is not None:
            params["since"] = since.value
        document = await self._call(
            "GET", ADMIN_STATUS_PATH, params=params, limit_s=wait + 10.0
        )
        return _view(document)

    async def answer(self, offer_id: str, answer: Answer) -> OfferView:
        document = await self._call(
            "POST",
            ADMIN_ANSWER_PATH,
            json_body={"offer": offer_id, "answer": answer.value},
            limit_s=180.0,
        )
        return _view(document)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        limit_s: float,
        params: dict[str, str] | None = None,
        json_body: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        token = self._info.admin_token.reveal()
        with translated_httpx_errors(self._info.url, timeout=limit_s):
            response = await self._client.request(
                method,
                self._info.url + path,
                params=params,
                json=json_body,
                headers={"authorization": f"Bearer {token}"},
                timeout=limit_s,
            )
        if len(response.content) > MAX_ADMIN_BODY:
            raise _malformed()
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            if response.status_code == 404:
                raise ApproverUnreachableError(
                    f"{self._info.url} is not a blindfill approver with admin "
                    "endpoints",
                    code="not_an_approver",
                )
            raise _malformed()
        if response.status_code == 401:
            raise UsageError(
                "the running approver refused the admin token",
                code="admin_refused",
                hint="the approver was restarted; run the command again",
            )
        if response.status_code != 200:
            raise LocalProtocolError(
                str(document.get("error", "the approver refused the request")),
                code=str(document.get("error_code", "admin_refused")),
            )
        return document


def _view(document: dict[str, Any]) -> OfferView:
    try:
        return OfferView(
            offer_id=str(document["offer_id"]),
            status=DeskStatus(document["status"]),
            expires_in=float(document["expires_in"]),
            agent_name=document.get("agent_name"),
            fingerprint=document.get("fingerprint"),
            detail=str(document.get("detail", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed() from exc


def _malformed() -> RemoteProtocolError:
    return RemoteProtocolError(
        "the approver's admin answer is malformed", code="admin_malformed"
    )
