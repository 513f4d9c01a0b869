"""Fixtures for the approver tests: fast vault costs and real KeePass files.

Argon2 runs with tiny costs here so the suite stays fast; the defaults are
tested separately for being memory-hard.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from blindfill.approver.vaultfile import KdfParams

FAST_KDF = KdfParams(memory_kib=8, iterations=1, lanes=1)

# Every secret the approver tests use. The leak tests look for each of
# these in logs, output, audit files and reprs.
MASTER = "master-Xq7!vault-pass"
BANK_PASSWORD = "bank-pw-Zr9#secret"
MAIL_PASSWORD = "mail-pw-Kd2$secret"
TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"
KDBX_PASSWORD = "kdbx-pw-Lm4%secret"
ALL_SECRETS = (MASTER, BANK_PASSWORD, MAIL_PASSWORD, TOTP_SEED, KDBX_PASSWORD)


@pytest.fixture(scope="session")
def kdbx_blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty KeePass 4 database with cheap Argon2 costs (password "blank").

    `pykeepass.create_database` starts from a template with high costs, so it
    runs once per session; other databases are re-keyed copies of this one.
    """
    import pykeepass

    path = tmp_path_factory.mktemp("kdbx-blank") / "blank.kdbx"
    database = pykeepass.create_database(str(path), password="blank")
    params = database.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    params["I"].value = 1
    params["M"].value = 64 * 1024  # bytes in KeePass's header
    database.save()
    return path


def make_kdbx(
    blank: Path, path: Path, key_file: Path | None, password: str | None
) -> Any:
    """A new, empty KeePass database at `path` with these credentials."""
    import pykeepass

    database = pykeepass.PyKeePass(str(blank), password="blank")
    database.password = password
    database.keyfile = str(key_file) if key_file else None
    database.save(str(path))
    return pykeepass.PyKeePass(
        str(path), password=password, keyfile=str(key_file) if key_file else None
    )


@pytest.fixture(scope="session")
def kdbx_template(
    kdbx_blank: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """One KeePass database with a key file and a few entries, built once."""
    directory = tmp_path_factory.mktemp("kdbx")
    key_file = directory / "db.keyx"
    key_file.write_bytes(bytes(range(64)))
    path = directory / "db.kdbx"
    database = make_kdbx(kdbx_blank, path, key_file, KDBX_PASSWORD)
    root = database.root_group
    bank = database.add_entry(
        root,
        "Bank",
        "alice",
        BANK_PASSWORD,
        url="https://bank.test/login",
        otp=f"otpauth://totp/Bank:alice?secret={TOTP_SEED}&period=30&digits=6",
    )
    bank.set_custom_property("KP2A_URL_2", "https://third.bank.test")
    bank.set_custom_property("KP2A_URL", "https://second.bank.test")
    work = database.add_group(root, "Work")
    mail = database.add_entry(
        work, "Mail", "bob", MAIL_PASSWORD, url="https://mail.test", tags=["x"]
    )
    mail.tags = ["blindfill-subdomains"]
    legacy = database.add_entry(
        root, "Legacy", "carol", "legacy-pw", url="https://legacy.test"
    )
    legacy.set_custom_property("TOTP Seed", TOTP_SEED)
    legacy.set_custom_property("TOTP Settings", "60;8")
    broken = database.add_entry(root, "Broken otp", "dave", "pw", otp="not base32!")
    broken.set_custom_property("blindfill-subdomains", "yes")
    trash = database.add_entry(root, "Trashed", "eve", "pw", url="https://bank.test")
    database.trash_entry(trash)
    database.save()
    return path, key_file


@pytest.fixture
def kdbx_file(kdbx_template: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the template database and its key file."""
    path, key_file = kdbx_template
    shutil.copy(path, tmp_path / "db.kdbx")
    shutil.copy(key_file, tmp_path / "db.keyx")
    return tmp_path / "db.kdbx", tmp_path / "db.keyx"


@pytest.fixture
def fast_kdf() -> KdfParams:
    return FAST_KDF


@pytest.fixture(autouse=True)
def _reset_logging() -> Any:
    """`blindfill.cli.main` configures structlog for the test's captured
    stderr; put the defaults back so no later test writes to a closed stream."""
    import structlog

    yield
    structlog.reset_defaults()
