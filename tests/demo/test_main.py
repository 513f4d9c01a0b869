"""`python -m blindfill.demo`, run as a separate process."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

READY = "Press Ctrl-C to stop."


@contextmanager
def demo_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start the demo, yield it with the lines printed up to READY, and
    make sure it is gone afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "blindfill.demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.strip() == READY:
                break
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def printed(lines: list[str], label: str) -> str:
    """The value after `label:` in the demo's output."""
    for line in lines:
        key, _, value = line.strip().partition(":")
        if key == label:
            return value.strip()
    raise AssertionError(f"no {label!r} line in {lines!r}")


def signs_in(client: httpx.Client, username: str, password: str) -> bool:
    reply = client.post("/plain/", data={"username": username, "password": password})
    return reply.status_code == 200


def test_prints_url_and_username_but_no_secret() -> None:
    """Without --show-secrets the output names the URL, the username and
    every page, and no word of it is the password: none signs in."""
    with demo_process() as (process, lines):
        base_url = printed(lines, "blindfill demo site").rstrip("/")
        username = printed(lines, "username")
        words = {word for line in lines for word in line.split()}
        with httpx.Client(base_url=base_url) as client:
            assert client.get("/").status_code == 200
            assert not any(signs_in(client, username, word) for word in words)
        for name in ("plain", "two_step", "iframe", "shadow_root", "react", "totp"):
            assert any(line.split()[0] == name for line in lines if line.strip())
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)

    assert process.returncode == 0
    assert "stopped" in out
    assert "Traceback" not in err


def test_show_secrets_prints_a_working_password() -> None:
    """With --show-secrets the printed password signs in, and SIGTERM
    stops the process cleanly."""
    with demo_process("--show-secrets") as (process, lines):
        base_url = printed(lines, "blindfill demo site").rstrip("/")
        username = printed(lines, "username")
        password = printed(lines, "password")
        seed = printed(lines, "TOTP seed")
        with httpx.Client(base_url=base_url) as client:
            assert signs_in(client, username, password)
        assert len(seed) == 32
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)

    assert process.returncode == 0


def test_bad_port_is_one_line_and_exit_status_2() -> None:
    """An out-of-range port is refused with one error line, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "blindfill.demo", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "out of range" in result.stderr
    assert "Traceback" not in result.stderr
