"""`blindfill approver serve` as a real subprocess, driven by a test.

`ServeProcess` starts the command with `--json`, collects its event lines
(stdout) and its terminal prompts (stderr), types answers on its standard
input, and can freeze, kill -9 or stop it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from .harness import MASTER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli_env(directory: Path, **extra: str) -> dict[str, str]:
    """An environment whose XDG directories all live under `directory`."""
    env = dict(os.environ)
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        env[name] = str(directory / name.lower())
    env.pop("BLINDFILL_PAIRING_TOKEN", None)
    env.pop("BLINDFILL_STATE_DIR", None)
    env.update(extra)
    return env


async def run_cli(
    *args: str, env: dict[str, str], stdin: bytes = b"", within: float = 60
) -> tuple[int, str, str]:
    """Run `blindfill ARGS`; return (status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "blindfill",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(within):
        out, err = await proc.communicate(stdin)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class ServeProcess:
    """One run of `blindfill approver serve` over the files in `directory`."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.directory = directory
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = cli_env(directory, BLINDFILL_VAULT_PASSWORD=MASTER, **(env or {}))
        self.args = args
        self.events: list[dict[str, Any]] = []
        self.stdout = ""
        self.stderr = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []

    @property
    def audit_path(self) -> Path:
        return self.directory / "audit.jsonl"

    @property
    def proc(self) -> asyncio.subprocess.Process:
        assert self._proc is not None
        return self._proc

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "blindfill",
            "approver",
            "serve",
            "--vault",
            str(self.directory / "vault.bfv"),
            "--audit",
            str(self.audit_path),
            "--state-dir",
            str(self.directory / "state"),
            "--port",
            str(self.port),
            "--json",
            "--timeout",
            "30",
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        self._readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]
        await self.wait_event("service.started")

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode()
            self.stdout += line
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self.stderr += chunk.decode(errors="replace")

    async def wait_event(
        self, name: str, *, count: int = 1, within: float = 30
    ) -> None:
        await self._until(
            lambda: sum(e.get("event") == name for e in self.events) >= count,
            within,
            f"event {name}",
        )

    async def wait_stderr(
        self, text: str, *, count: int = 1, within: float = 30
    ) -> None:
        await self._until(lambda: self.stderr.count(text) >= count, within, text)

    async def type_line(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def wait_frozen(self, within: float = 30) -> None:
        """Wait until the process stopped itself (SIGSTOP)."""
        stat = Path(f"/proc/{self.proc.pid}/stat")
        await self._until(
            lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "T",
            within,
            "the process to stop itself",
        )

    async def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await self._drain()

    async def terminate(self, within: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(within):
            status = await self.proc.wait()
        await self._drain()
        return status

    async def _drain(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self._readers)

    async def _until(self, condition: Any, within: float, what: str) -> None:
        for _ in range(int(within / 0.05)):
            if condition():
                return
            if self._proc is not None and self._proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"waited for {what}; stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )
