"""`blindfill vault ...` through `blindfill.cli.main` and a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blindfill.approver.vaultfile import VaultFile
from blindfill.cli import main
from blindfill.errors import ExitStatus
from blindfill.sensitive import Secret

from .conftest import ALL_SECRETS, BANK_PASSWORD, KDBX_PASSWORD, MASTER, TOTP_SEED

FAST = ["--kdf-memory-kib", "8", "--kdf-iterations", "1", "--kdf-lanes", "1"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG data directory and no master password in the environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("BLINDFILL_VAULT_PASSWORD", raising=False)
    return tmp_path


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in ALL_SECRETS:
            assert secret not in text


def test_init_add_list_remove(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole life of an item; secrets come from stdin and are never printed."""
    assert run(monkeypatch, ["vault", "init", "--password-stdin", *FAST], MASTER) == 0
    vault_path = env / "data" / "blindfill" / "vault.bfv"
    assert vault_path.exists()

    code = run(
        monkeypatch,
        [
            "vault", "add", "--password-stdin", "--title", "Bank",
            "--username", "alice", "--url", "https://bank.test/login",
            "--url", "https://app.bank.test", "--subdomains", "--totp",
        ],
        f"{MASTER}\n{BANK_PASSWORD}\n{TOTP_SEED}\n",
    )  # fmt: skip
    assert code == 0
    item = VaultFile.open(vault_path, Secret(MASTER)).items()[0]
    assert item.password.reveal() == BANK_PASSWORD
    assert item.match_subdomains
    assert item.totp is not None

    assert run(monkeypatch, ["vault", "list", "--password-stdin"], MASTER) == 0
    listed = capsys.readouterr()
    assert "Bank" in listed.out
    assert "[totp, subdomains]" in listed.out
    no_secrets(listed.out, listed.err)

    assert (
        run(monkeypatch, ["vault", "list", "--json", "--password-stdin"], MASTER) == 0
    )
    out = capsys.readouterr().out
    (entry,) = json.loads(out)["items"]
    assert entry["id"] == item.id
    assert entry["has_totp"] is True
    assert "password" not in entry
    no_secrets(out)

    argv = ["vault", "remove", "--password-stdin", item.id[:10]]
    assert run(monkeypatch, argv, MASTER) == 0
    assert VaultFile.open(vault_path, Secret(MASTER)).items() == ()
    captured = capsys.readouterr()
    no_secrets(captured.out, captured.err)


def test_master_password_from_environment(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """BLINDFILL_VAULT_PASSWORD replaces the first stdin line."""
    monkeypatch.setenv("BLINDFILL_VAULT_PASSWORD", MASTER)
    assert run(monkeypatch, ["vault", "init", "--password-stdin", *FAST]) == 0
    argv = ["vault", "add", "--password-stdin", "--title", "T", "--url", "a.test"]
    assert run(monkeypatch, argv, BANK_PASSWORD + "\n") == 0
    assert run(monkeypatch, ["vault", "list"]) == 0
    assert " T " in capsys.readouterr().out


def test_import_csv_and_skip_duplicates(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV import adds its logins once; a second import skips them."""
    run(monkeypatch, ["vault", "init", "--password-stdin", *FAST], MASTER)
    csv_path = env / "export.csv"
    csv_path.write_text(
        "name,url,username,password\n"
        f"Bank,https://bank.test,alice,{BANK_PASSWORD}\n"
        "Nopass,https://x.test,bob,\n"
    )
    assert (
        run(monkeypatch, ["vault", "import", "--password-stdin", str(csv_path)], MASTER)
        == 0
    )
    first = capsys.readouterr()
    assert "imported 1 items" in first.out
    assert "line 3: skipped (no password)" in first.err
    assert (
        run(monkeypatch, ["vault", "import", "--password-stdin", str(csv_path)], MASTER)
        == 0
    )
    second = capsys.readouterr()
    assert "imported 0 items" in second.out
    assert "already in the vault" in second.err
    no_secrets(first.out, first.err, second.out, second.err)


def test_kdbx_list_with_key_file_and_writes_refused(
    env: Path,
    kdbx_file: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A KeePass file lists with its key file; add and remove are refused."""
    path, key_file = kdbx_file
    argv = [
        "vault",
        "list",
        "--password-stdin",
        "--vault",
        str(path),
        "--key-file",
        str(key_file),
    ]
    assert run(monkeypatch, argv, KDBX_PASSWORD) == 0
    captured = capsys.readouterr()
    assert "Bank" in captured.out
    assert "Broken otp" in captured.err  # the warning about its otp field
    no_secrets(captured.out, captured.err)

    argv = ["vault", "remove", "--password-stdin", "--vault", str(path), "abc"]
    assert run(monkeypatch, argv, KDBX_PASSWORD) == ExitStatus.USAGE
    assert "only reads" in capsys.readouterr().err


def test_secrets_cannot_be_given_as_arguments(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """There is no flag that takes a password: such a flag is a usage error."""
    with pytest.raises(SystemExit) as exc:
        main(["vault", "add", "--title", "x", "--url", "a.test", "--password", "pw"])
    assert exc.value.code == ExitStatus.USAGE
    assert "unrecognized arguments" in capsys.readouterr().err


def test_no_terminal_and_no_stdin_flag_is_a_usage_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a terminal or --password-stdin, the command says how to give secrets."""
    assert run(monkeypatch, ["vault", "init", *FAST]) == ExitStatus.USAGE
    assert "--password-stdin" in capsys.readouterr().err


def test_init_never_overwrites(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vault init` over an existing vault fails and keeps the file."""
    run(monkeypatch, ["vault", "init", "--password-stdin", *FAST], MASTER)
    path = env / "data" / "blindfill" / "vault.bfv"
    before = path.read_bytes()
    assert run(monkeypatch, ["vault", "init", "--password-stdin", *FAST], "other") == 2
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == before


# --- subprocess: bad input gives one line and an exit status -----------------------


def cli(args: list[str], stdin: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key != "BLINDFILL_VAULT_PASSWORD"
    }
    environment["XDG_DATA_HOME"] = str(env_dir / "data")
    return subprocess.run(
        [sys.executable, "-m", "blindfill", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        timeout=60,
    )


@pytest.fixture
def cli_vault(tmp_path: Path) -> Path:
    proc = cli(["vault", "init", "--password-stdin", *FAST], MASTER, tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = cli(
        ["vault", "add", "--password-stdin", "--title", "Bank", "--url", "bank.test"],
        f"{MASTER}\n{BANK_PASSWORD}\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return tmp_path


def assert_clean_failure(
    proc: subprocess.CompletedProcess[str], status: int, code: str
) -> None:
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"[{code}]" in proc.stderr
    no_secrets(proc.stdout, proc.stderr)


def test_subprocess_wrong_password(cli_vault: Path) -> None:
    """A wrong master password: exit 2, one line, no traceback."""
    proc = cli(["vault", "list", "--password-stdin"], "wrong\n", cli_vault)
    assert_clean_failure(proc, ExitStatus.USAGE, "vault_password")


def test_subprocess_damaged_vault(cli_vault: Path) -> None:
    """A damaged vault: exit 4 with vault_corrupt; the file is not changed."""
    path = cli_vault / "data" / "blindfill" / "vault.bfv"
    damaged = path.read_bytes()[:-20] + b"AAAAAAAAAAAAAAAAAAA\n"
    path.write_bytes(damaged)
    proc = cli(["vault", "list", "--password-stdin"], MASTER, cli_vault)
    assert_clean_failure(proc, ExitStatus.ENVIRONMENT, "vault_corrupt")
    proc = cli(
        ["vault", "add", "--password-stdin", "--title", "X", "--url", "x.test"],
        f"{MASTER}\npw\n",
        cli_vault,
    )
    assert_clean_failure(proc, ExitStatus.ENVIRONMENT, "vault_corrupt")
    assert path.read_bytes() == damaged


def test_subprocess_malformed_csv(cli_vault: Path) -> None:
    """A malformed CSV is refused naming the line; nothing is imported."""
    csv_path = cli_vault / "bad.csv"
    csv_path.write_text("url,password\nhttps://a.test,pw,extra\n")
    proc = cli(
        ["vault", "import", "--password-stdin", str(csv_path)], MASTER, cli_vault
    )
    assert_clean_failure(proc, ExitStatus.USAGE, "invalid_input")
    assert "line 2" in proc.stderr


def test_subprocess_missing_files(tmp_path: Path) -> None:
    """A missing vault or CSV file: exit 4 with storage_missing."""
    proc = cli(["vault", "list", "--password-stdin"], MASTER, tmp_path)
    assert_clean_failure(proc, ExitStatus.ENVIRONMENT, "storage_missing")
    assert "vault init" in proc.stderr
    proc = cli(
        ["vault", "import", "--password-stdin", str(tmp_path / "none.csv")],
        MASTER,
        tmp_path,
    )
    assert_clean_failure(proc, ExitStatus.ENVIRONMENT, "storage_missing")


def test_subprocess_stdin_ends_early(cli_vault: Path) -> None:
    """Standard input ending before the item password is a usage error."""
    proc = cli(
        ["vault", "add", "--password-stdin", "--title", "X", "--url", "x.test"],
        MASTER + "\n",
        cli_vault,
    )
    assert_clean_failure(proc, ExitStatus.USAGE, "usage")


def test_debug_logs_carry_no_secrets(cli_vault: Path) -> None:
    """At debug level, with JSON logs, no command prints or logs a secret."""
    csv_path = cli_vault / "export.csv"
    csv_path.write_text(
        f"name,url,username,password,totp\nMail,https://mail.test,bob,{BANK_PASSWORD}2,"
        f"{TOTP_SEED}\n"
    )
    debug = ["--log-level", "debug", "--log-json"]
    runs = [
        cli([*debug, "vault", "list", "--password-stdin"], MASTER, cli_vault),
        cli([*debug, "vault", "list", "--json", "--password-stdin"], MASTER, cli_vault),
        cli(
            [*debug, "vault", "import", "--password-stdin", str(csv_path)],
            MASTER,
            cli_vault,
        ),
        cli(
            [*debug, "vault", "list", "--password-stdin"], "wrong-" + MASTER, cli_vault
        ),
    ]
    assert [proc.returncode for proc in runs] == [0, 0, 0, ExitStatus.USAGE]
    assert any('"event": "vault.imported"' in proc.stderr for proc in runs)
    for proc in runs:
        no_secrets(proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
