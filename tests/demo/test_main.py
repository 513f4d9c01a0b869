"""`python -m blindfill.demo`, run as a separate process."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

READY = "Press Ctrl-C to stop."


@contextmanager
def demo_process(
    *args: str, stdin: str = ""
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start the demo, yield it with the lines printed up to READY, and
    make sure it is gone afterwards."""
    with tempfile.TemporaryFile("w+") as given:
        given.write(stdin)
        given.seek(0)
        process = subprocess.Popen(
            [sys.executable, "-m", "blindfill.demo", *args],
            stdin=given,
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
    """The output names the URL, the username and every page, and no word
    of it is the random password: none signs in."""
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


def test_chosen_account_signs_in_and_is_never_printed() -> None:
    """A username and password the person chose work, the password is not
    echoed, and SIGTERM stops the process cleanly."""
    password = "typed-by-a-person-4242"
    seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with demo_process(
        "--username", "alice", "--secrets-stdin", stdin=f"{password}\n{seed}\n"
    ) as (process, lines):
        base_url = printed(lines, "blindfill demo site").rstrip("/")
        assert printed(lines, "username") == "alice"
        assert not any(password in line or seed in line for line in lines)
        with httpx.Client(base_url=base_url) as client:
            assert signs_in(client, "alice", password)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)

    assert process.returncode == 0
    assert password not in out + err


def test_secrets_stdin_without_a_password_is_a_usage_error() -> None:
    """An empty standard input is one clear error line, exit status 2."""
    result = subprocess.run(
        [sys.executable, "-m", "blindfill.demo", "--secrets-stdin"],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "read no password" in result.stderr
    assert "Traceback" not in result.stderr


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
