"""The `approver serve`, `approver pair` and `pair` commands."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from blindfill.agent.link import ApproverLink
from blindfill.channel import Grant, PairingOffer
from blindfill.cli import main
from blindfill.pairing_state import load_approver_state, load_browser_state

from .harness import (
    MASTER,
    SECRETS,
    login_request,
    make_vault,
    pair_state,
    run_approver,
)
from .process import ServeProcess, cli_env, free_port, run_cli


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["approver", "--help"], "serve"),
        (["approver", "serve", "--help"], "--allow-remote"),
        (["approver", "pair", "--help"], "replaces"),
        (["pair", "--help"], "--code-stdin"),
    ],
)
def test_help(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each command explains itself and exits 0."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 0
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["approver", "serve", "--port", "99999"],
        ["approver", "serve", "--port", "http"],
        ["approver", "serve", "--timeout", "0"],
        ["approver", "serve", "--bogus"],
        ["approver", "pair", "--port", "-1"],
        ["pair", "--approver", "http://127.0.0.1:7355"],
    ],
)
def test_bad_flags_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong flag exits 2 with a one-line reason and no traceback."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert "error:" in err
    assert "Traceback" not in err


def test_non_loopback_host_is_refused_with_the_risk(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Listening beyond loopback needs --allow-remote; the refusal says why."""
    status = main(["approver", "serve", "--host", "0.0.0.0"])  # noqa: S104
    err = capsys.readouterr().err
    assert status == 2
    assert "not loopback" in err
    assert "--allow-remote" in err


def test_locked_without_a_prompt_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--locked --no-prompt could never be unlocked: a usage error."""
    assert main(["approver", "serve", "--locked", "--no-prompt"]) == 2
    assert "--no-prompt" in capsys.readouterr().err


def test_missing_vault_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A vault that does not exist: one line naming it, exit 4."""
    status = main(
        [
            "approver",
            "serve",
            "--vault",
            str(tmp_path / "none.bfv"),
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 4
    assert "none.bfv does not exist" in err


def test_pair_with_an_unreachable_approver(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nobody listening: exit 4, a clear line, the token never echoed."""
    token = PairingOffer.create(approver_name="x", clock=lambda: 0.0).token.reveal()
    monkeypatch.setenv("BLINDFILL_PAIRING_TOKEN", token)
    status = main(
        [
            "pair",
            "--approver",
            f"http://127.0.0.1:{free_port()}",
            "--name",
            "bot",
            "--state",
            str(tmp_path / "b.json"),
        ]
    )
    captured = capsys.readouterr()
    assert status == 4
    assert "cannot connect to the approver" in captured.err
    assert "Traceback" not in captured.err
    assert token not in captured.out + captured.err
    assert not (tmp_path / "b.json").exists()


def test_pair_without_a_secret_is_a_usage_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No token variable, no --code-stdin and no terminal: exit 2."""
    monkeypatch.delenv("BLINDFILL_PAIRING_TOKEN", raising=False)
    status = main(["pair", "--approver", "http://127.0.0.1:1", "--name", "bot"])
    assert status == 2
    assert "BLINDFILL_PAIRING_TOKEN" in capsys.readouterr().err


def test_pair_with_a_malformed_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged token is refused without being echoed."""
    monkeypatch.setenv("BLINDFILL_PAIRING_TOKEN", "bf1.not-a-real-token-xyz")
    status = main(["pair", "--approver", "http://127.0.0.1:1", "--name", "bot"])
    err = capsys.readouterr().err
    assert status == 2
    assert "not-a-real-token" not in err


def _token_and_code(text: str) -> tuple[str, str]:
    token = re.search(r"^  token  (\S+)$", text, re.MULTILINE)
    code = re.search(r"^  code   (\S+)$", text, re.MULTILINE)
    assert token, text
    assert code, text
    return token.group(1), code.group(1)


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    text = ""
    async with asyncio.timeout(30):
        while marker not in text:
            chunk = await stream.read(4096)
            assert chunk, f"ended before {marker!r}: {text}"
            text += chunk.decode()
    return text


async def _approver_pair(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    import sys

    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "blindfill",
        "approver",
        "pair",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


@pytest.mark.slow
async def test_pairing_with_a_running_server_over_the_cli(tmp_path: Path) -> None:
    """`approver pair` drives the running `serve`; `blindfill pair` reads the
    token from the environment; after "y" a fill works; nothing leaks."""
    make_vault(tmp_path / "vault.bfv")
    server = ServeProcess(tmp_path, port=free_port())
    await server.start()
    env = cli_env(tmp_path)
    state_dir = str(tmp_path / "state")
    person = await _approver_pair(env, "--state-dir", state_dir)
    assert person.stdout is not None
    assert person.stdin is not None
    shown = await _read_until(person.stdout, "Waiting for the browser side")
    token, _code = _token_and_code(shown)
    assert server.url in shown

    browser_state = tmp_path / "browser.json"
    browser = asyncio.create_task(
        run_cli(
            "pair",
            "--approver",
            server.url,
            "--name",
            "cli-bot",
            "--state",
            str(browser_state),
            env=cli_env(tmp_path, BLINDFILL_PAIRING_TOKEN=token),
        )
    )
    asked = await _read_until(person.stdout, "[y/N]")
    person.stdin.write(b"y\n")
    await person.stdin.drain()
    rest, person_err = await person.communicate()
    status, out, err = await browser

    assert person.returncode == 0, person_err
    assert status == 0, err
    fingerprint = re.search(r"fingerprint  (\S+)", asked)
    assert fingerprint
    assert fingerprint.group(1) in out  # both screens show the same string
    assert "cli-bot" in asked
    assert "Paired with agent 'cli-bot'" in rest.decode()
    assert token not in out + err  # the browser side never prints it

    async with ApproverLink.open(state_path=browser_state) as link:
        fill = asyncio.create_task(link.request_fill(**login_request()))
        await server.wait_stderr("Fill with item [1]")
        await server.type_line("1")
        await fill
    assert await server.terminate() == 0
    for text in (server.stdout, server.stderr, out, err, shown, rest.decode()):
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.slow
async def test_standalone_pairing_with_a_code(tmp_path: Path) -> None:
    """Without a server, `approver pair` serves pairing itself; a wrong code
    burns the offer with a clear error on both sides; the right code on a
    new offer pairs, and `serve` then knows the pairing."""
    env = cli_env(tmp_path)
    state_dir = str(tmp_path / "state")
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"

    # A wrong code: both sides fail, nothing is saved.
    person = await _approver_pair(env, "--state-dir", state_dir, "--port", port)
    assert person.stdout is not None
    shown = await _read_until(person.stdout, "Waiting for the browser side")
    _token, code = _token_and_code(shown)
    wrong = f"{(int(code.replace('-', '')) + 7) % 10**8:08d}"
    status, _out, err = await run_cli(
        "pair",
        "--approver",
        url,
        "--name",
        "bot",
        "--code-stdin",
        "--state",
        str(tmp_path / "b.json"),
        env=env,
        stdin=wrong.encode() + b"\n",
    )
    _rest, person_err = await person.communicate()
    assert status == 3
    assert "pairing_failed" in err
    assert person.returncode == 3
    assert "did not match" in person_err.decode()
    assert load_approver_state(tmp_path / "state" / "approver-pairing.json") is None
    assert not (tmp_path / "b.json").exists()

    # A new offer and the right code.
    person = await _approver_pair(env, "--state-dir", state_dir, "--port", port)
    assert person.stdout is not None
    assert person.stdin is not None
    shown = await _read_until(person.stdout, "Waiting for the browser side")
    _token, code = _token_and_code(shown)
    browser = asyncio.create_task(
        run_cli(
            "pair",
            "--approver",
            url,
            "--name",
            "bot",
            "--code-stdin",
            "--state",
            str(tmp_path / "b.json"),
            env=env,
            stdin=code.encode() + b"\n",
        )
    )
    await _read_until(person.stdout, "[y/N]")
    person.stdin.write(b"yes\n")
    await person.stdin.drain()
    await person.communicate()
    status, out, err = await browser
    assert person.returncode == 0
    assert status == 0, err
    browser_state = load_browser_state(tmp_path / "b.json")
    approver_state = load_approver_state(tmp_path / "state" / "approver-pairing.json")
    assert browser_state is not None
    assert approver_state is not None
    assert browser_state.fingerprint == approver_state.fingerprint
    assert code not in out + err


@pytest.mark.slow
async def test_a_second_server_on_one_state_dir_is_refused(tmp_path: Path) -> None:
    """Two approvers advancing one key chain would break it: exit 4."""
    make_vault(tmp_path / "vault.bfv")
    server = ServeProcess(tmp_path, port=free_port())
    await server.start()
    status, _out, err = await run_cli(
        "approver",
        "serve",
        "--vault",
        str(tmp_path / "vault.bfv"),
        "--state-dir",
        str(tmp_path / "state"),
        "--port",
        "0",
        env=cli_env(tmp_path, BLINDFILL_VAULT_PASSWORD=MASTER),
    )
    assert await server.terminate() == 0
    assert status == 4
    assert "approver_running" in err
    assert "Traceback" not in err


@pytest.mark.slow
async def test_serve_prints_its_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`--port 0` picks a free port and prints the URL; SIGTERM stops it."""
    make_vault(tmp_path / "vault.bfv")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blindfill", "approver", "serve",
        "--vault", str(tmp_path / "vault.bfv"),
        "--audit", str(tmp_path / "audit.jsonl"),
        "--state-dir", str(tmp_path / "state"),
        "--port", "0",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(tmp_path, BLINDFILL_VAULT_PASSWORD=MASTER),
    )  # fmt: skip
    assert proc.stdout is not None
    shown = await _read_until(proc.stdout, "\n")
    url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", shown)
    assert url, shown
    async with httpx.AsyncClient() as client:
        health = await client.get(url.group(1) + "/v1/health")
    proc.send_signal(signal.SIGTERM)
    out, err = await proc.communicate()
    assert health.json()["service"] == "blindfill-approver"
    assert proc.returncode == 0
    assert "not paired yet" in shown + out.decode()
    assert "stopped" in out.decode()
    assert "Traceback" not in err.decode()


@pytest.mark.slow
async def test_a_locked_server_is_unlocked_at_its_terminal(tmp_path: Path) -> None:
    """`--locked`: the first request asks for the master password at the
    approver's terminal; typed there, the fill is approved and goes through."""
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path) as approver:
        await pair_state(approver, state_path)
    server = ServeProcess(tmp_path, port=free_port(), args=("--locked",))
    server.env.pop("BLINDFILL_VAULT_PASSWORD")
    await server.start()
    assert server.events[0]["locked"] is True
    async with ApproverLink.open(server.url, state_path=state_path) as link:
        fill = asyncio.create_task(link.request_fill(**login_request()))
        await server.wait_stderr("Master password for")
        await server.type_line(MASTER)
        await server.wait_stderr("Fill with item [1]")
        await server.type_line("1")
        decision = await fill
    assert await server.terminate() == 0
    assert isinstance(decision, Grant)
    for secret in SECRETS:
        assert secret not in server.stdout + server.stderr
