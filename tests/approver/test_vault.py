"""The built-in vault file, KeePass databases and CSV imports."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from blindfill.approver.csvimport import parse_csv_export, read_csv_export
from blindfill.approver.items import Item, TotpSpec, new_item_id, parse_totp
from blindfill.approver.kdbx import KeePassVault
from blindfill.approver.vault import (
    LockState,
    VaultAccess,
    VaultKind,
    detect_kind,
    open_vault,
)
from blindfill.approver.vaultfile import KdfParams, VaultFile, edit_vault
from blindfill.errors import (
    InvalidInputError,
    StorageError,
    UsageError,
    VaultCorruptError,
    VaultPasswordError,
)
from blindfill.sensitive import Secret
from blindfill.totp import decode_seed, totp

from .conftest import (
    ALL_SECRETS,
    BANK_PASSWORD,
    KDBX_PASSWORD,
    MAIL_PASSWORD,
    MASTER,
    TOTP_SEED,
)


def bank_item() -> Item:
    return Item(
        id=new_item_id(),
        title="Bank",
        username="alice",
        password=Secret(BANK_PASSWORD, kind="password"),
        urls=("https://bank.test/login",),
        totp=parse_totp(TOTP_SEED),
        match_subdomains=True,
    )


@pytest.fixture
def vault_path(tmp_path: Path, fast_kdf: KdfParams) -> Path:
    path = tmp_path / "vault.bfv"
    vault = VaultFile.create(path, Secret(MASTER), kdf=fast_kdf)
    vault.add(bank_item())
    vault.save()
    return path


# --- built-in vault file ------------------------------------------------------


def test_vault_round_trips_items(vault_path: Path) -> None:
    """Items saved come back equal, secrets included, after reopening."""
    vault = VaultFile.open(vault_path, Secret(MASTER))
    (item,) = vault.items()
    assert item.title == "Bank"
    assert item.password.reveal() == BANK_PASSWORD
    assert item.totp is not None
    assert item.totp.seed.reveal() == TOTP_SEED
    assert item.match_subdomains
    assert vault.get(item.id) == item


def test_vault_file_is_private_and_holds_no_plaintext(vault_path: Path) -> None:
    """The file has mode 0600 and none of the secrets in the clear."""
    assert stat.S_IMODE(vault_path.stat().st_mode) == 0o600
    data = vault_path.read_bytes()
    for secret in ALL_SECRETS:
        assert secret.encode() not in data
    assert b"Bank" not in data  # titles are encrypted too
    lines = data.split(b"\n")
    assert lines[0] == b"blindfill-vault"
    header = json.loads(lines[1])
    assert header["kdf"]["name"] == "argon2id"
    assert header["cipher"] == "chacha20-poly1305"


def test_each_save_uses_a_fresh_nonce(vault_path: Path) -> None:
    """Saving twice never reuses a nonce under the same key."""
    vault = VaultFile.open(vault_path, Secret(MASTER))
    nonces = set()
    for _ in range(3):
        vault.save()
        nonces.add(json.loads(vault_path.read_bytes().split(b"\n")[1])["nonce"])
    assert len(nonces) == 3


def test_wrong_password_is_a_clear_error_and_keeps_the_file(
    vault_path: Path,
) -> None:
    """A wrong master password raises VaultPasswordError; the file is intact."""
    before = vault_path.read_bytes()
    with pytest.raises(VaultPasswordError) as exc:
        VaultFile.open(vault_path, Secret("not the password"))
    assert "not the password" not in str(exc.value)
    assert vault_path.read_bytes() == before
    assert VaultFile.open(vault_path, Secret(MASTER)).items()


@pytest.mark.parametrize("where", ["ciphertext", "nonce", "truncated", "garbage"])
def test_damaged_vault_is_a_clear_error_and_keeps_the_file(
    vault_path: Path, where: str
) -> None:
    """A damaged file raises VaultCorruptError, never a wrong-password error."""
    data = vault_path.read_bytes()
    magic, header, body, _ = data.split(b"\n")
    if where == "ciphertext":
        flipped = bytearray(body)
        flipped[10] = ord("A") if flipped[10] != ord("A") else ord("B")
        data = b"\n".join([magic, header, bytes(flipped), b""])
    elif where == "nonce":
        fields = json.loads(header)
        fields["nonce"] = "AAAAAAAAAAAAAAAA"
        data = b"\n".join([magic, json.dumps(fields).encode(), body, b""])
    elif where == "truncated":
        data = data[: len(data) // 2]
    else:
        data = b"\x00\x01 not a vault"
    vault_path.write_bytes(data)
    with pytest.raises(VaultCorruptError):
        VaultFile.open(vault_path, Secret(MASTER))
    assert vault_path.read_bytes() == data


def test_raised_costs_in_header_do_not_pass_as_a_wrong_password(
    vault_path: Path,
) -> None:
    """An edited header fails its checksum: reported as damage."""
    magic, header, body, _ = vault_path.read_bytes().split(b"\n")
    fields = json.loads(header)
    fields["kdf"]["iterations"] = 2
    vault_path.write_bytes(b"\n".join([magic, json.dumps(fields).encode(), body, b""]))
    with pytest.raises(VaultCorruptError, match="checksum"):
        VaultFile.open(vault_path, Secret(MASTER))


def test_newer_format_version_is_refused_clearly(vault_path: Path) -> None:
    """A vault from a newer format version is refused with vault_version."""
    magic, header, body, _ = vault_path.read_bytes().split(b"\n")
    fields = json.loads(header)
    fields.pop("header_sha256")
    fields["version"] = 2
    import hashlib

    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    fields["header_sha256"] = hashlib.sha256(canonical.encode()).hexdigest()
    vault_path.write_bytes(b"\n".join([magic, json.dumps(fields).encode(), body, b""]))
    with pytest.raises(VaultCorruptError) as exc:
        VaultFile.open(vault_path, Secret(MASTER))
    assert exc.value.code == "vault_version"


def test_missing_vault_and_group_readable_vault_are_storage_errors(
    vault_path: Path, tmp_path: Path
) -> None:
    """A missing vault, or one others may read, is a StorageError."""
    with pytest.raises(StorageError) as exc:
        VaultFile.open(tmp_path / "nope.bfv", Secret(MASTER))
    assert exc.value.code == "storage_missing"
    os.chmod(vault_path, 0o644)
    with pytest.raises(StorageError) as exc:
        VaultFile.open(vault_path, Secret(MASTER))
    assert exc.value.code == "storage_permissions"


def test_create_never_overwrites(vault_path: Path, fast_kdf: KdfParams) -> None:
    """Creating a vault over an existing file is refused; the file survives."""
    before = vault_path.read_bytes()
    with pytest.raises(UsageError):
        VaultFile.create(vault_path, Secret("other"), kdf=fast_kdf)
    assert vault_path.read_bytes() == before


def test_empty_master_password_is_refused(tmp_path: Path, fast_kdf: KdfParams) -> None:
    """An empty master password is refused at creation."""
    with pytest.raises(UsageError):
        VaultFile.create(tmp_path / "v.bfv", Secret(""), kdf=fast_kdf)


def test_edit_vault_saves_only_on_success(vault_path: Path) -> None:
    """A failing edit leaves the file as it was; a good one saves."""
    before = vault_path.read_bytes()

    def failing_edit() -> None:
        with edit_vault(vault_path, Secret(MASTER)) as vault:
            vault.remove(vault.items()[0].id)
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        failing_edit()
    assert vault_path.read_bytes() == before

    with edit_vault(vault_path, Secret(MASTER)) as vault:
        removed = vault.remove(vault.items()[0].id[:8])
    assert removed.title == "Bank"
    assert VaultFile.open(vault_path, Secret(MASTER)).items() == ()


def test_remove_needs_a_known_unique_id(vault_path: Path) -> None:
    """Unknown or empty ids and duplicate adds are usage errors."""
    vault = VaultFile.open(vault_path, Secret(MASTER))
    with pytest.raises(UsageError):
        vault.remove("zzzz")
    with pytest.raises(UsageError):
        vault.remove("")
    with pytest.raises(UsageError):
        vault.add(vault.items()[0])


def test_default_costs_are_memory_hard() -> None:
    """The default Argon2id costs are RFC 9106's 64 MiB, 3 passes, 4 lanes."""
    params = KdfParams()
    assert params.memory_kib == 65536
    assert params.iterations == 3
    assert params.lanes == 4
    assert not params.is_weak
    assert KdfParams(memory_kib=8, iterations=1, lanes=1).is_weak


@pytest.mark.parametrize(
    "costs",
    [
        {"memory_kib": 4, "lanes": 1},
        {"memory_kib": 8 * 1024 * 1024},
        {"iterations": 0},
        {"iterations": 1000},
        {"lanes": 0},
    ],
)
def test_kdf_bounds_refuse_absurd_costs(costs: dict[str, int]) -> None:
    """Costs outside the bounds are refused before any derivation."""
    with pytest.raises(InvalidInputError):
        KdfParams(**costs)


def test_reprs_show_no_secrets(vault_path: Path) -> None:
    """Items, TOTP specs and vaults print without any secret."""
    vault = VaultFile.open(vault_path, Secret(MASTER))
    text = repr(vault) + repr(vault.items()) + str(vault.items()[0])
    for secret in ALL_SECRETS:
        assert secret not in text
    assert "Bank" in text


# --- items ----------------------------------------------------------------------


def test_totp_codes_are_computed_from_the_seed() -> None:
    """A TotpSpec computes the RFC 6238 code; the seed stays inside."""
    spec = parse_totp(f"otpauth://totp/x?secret={TOTP_SEED}&digits=8&period=60")
    code = spec.code_at(1_700_000_000)
    assert code.reveal() == totp(
        decode_seed(TOTP_SEED), 1_700_000_000, digits=8, period=60
    )
    assert TOTP_SEED not in repr(spec) + repr(code)


@pytest.mark.parametrize(
    "text",
    [
        "otpauth://hotp/x?secret=JBSWY3DP&counter=1",
        "otpauth://totp/x",
        "otpauth://totp/x?secret=JBSWY3DP&digits=12",
        "otpauth://totp/x?secret=JBSWY3DP&algorithm=MD5",
        "otpauth://totp/x?secret=JBSWY3DP&period=abc",
        "not base32 !!",
    ],
)
def test_bad_totp_values_are_refused_without_echo(text: str) -> None:
    """HOTP, bad parameters and non-base32 seeds are refused without echo."""
    with pytest.raises(InvalidInputError) as exc:
        parse_totp(text)
    assert "JBSWY3DP" not in str(exc.value)


def test_item_bounds() -> None:
    """Bad ids and over-long titles are refused."""
    with pytest.raises(InvalidInputError):
        Item(id="bad id!", title="", username="", password=Secret(""))
    with pytest.raises(InvalidInputError):
        Item(id="a", title="x" * 500, username="", password=Secret(""))


# --- KeePass ----------------------------------------------------------------------


def test_kdbx_entries_map_to_items(kdbx_file: tuple[Path, Path]) -> None:
    """KeePass entries become items: URLs, extra URLs, otp, subdomain mark."""
    path, key_file = kdbx_file
    vault = KeePassVault.open(path, Secret(KDBX_PASSWORD), key_file=key_file)
    by_title = {item.title: item for item in vault.items()}
    assert set(by_title) == {"Bank", "Mail", "Legacy", "Broken otp"}

    bank = by_title["Bank"]
    assert bank.username == "alice"
    assert bank.password.reveal() == BANK_PASSWORD
    assert bank.urls == (
        "https://bank.test/login",
        "https://second.bank.test",
        "https://third.bank.test",
    )
    assert bank.totp is not None
    assert bank.totp.seed.reveal() == TOTP_SEED
    assert not bank.match_subdomains
    assert len(bank.id) == 32

    assert by_title["Mail"].match_subdomains
    assert by_title["Mail"].password.reveal() == MAIL_PASSWORD
    assert by_title["Mail"].source == "keepass:Work"
    legacy = by_title["Legacy"].totp
    assert legacy is not None
    assert (legacy.period, legacy.digits) == (60, 8)
    broken = by_title["Broken otp"]
    assert broken.totp is None
    assert broken.match_subdomains
    assert any("Broken otp" in warning for warning in vault.warnings)
    assert vault.read_only


def test_kdbx_ids_are_stable_across_opens(kdbx_file: tuple[Path, Path]) -> None:
    """KeePass item ids are the entry UUIDs, the same on every open."""
    path, key_file = kdbx_file
    first = KeePassVault.open(path, Secret(KDBX_PASSWORD), key_file=key_file)
    second = KeePassVault.open(path, Secret(KDBX_PASSWORD), key_file=key_file)
    assert [i.id for i in first.items()] == [i.id for i in second.items()]


def test_kdbx_wrong_password_or_key_file(
    kdbx_file: tuple[Path, Path], tmp_path: Path
) -> None:
    """A wrong password, a missing or wrong key file: clear errors, file intact."""
    path, key_file = kdbx_file
    before = path.read_bytes()
    with pytest.raises(VaultPasswordError):
        KeePassVault.open(path, Secret("wrong"), key_file=key_file)
    with pytest.raises(VaultPasswordError):
        KeePassVault.open(path, Secret(KDBX_PASSWORD))
    other = tmp_path / "other.keyx"
    other.write_bytes(b"another key file")
    with pytest.raises(VaultPasswordError):
        KeePassVault.open(path, Secret(KDBX_PASSWORD), key_file=other)
    with pytest.raises(InvalidInputError):
        KeePassVault.open(path, Secret(KDBX_PASSWORD), key_file=tmp_path / "none")
    assert path.read_bytes() == before


def test_kdbx_damaged_is_a_clear_error(kdbx_file: tuple[Path, Path]) -> None:
    """A damaged or truncated KeePass file raises VaultCorruptError."""
    path, key_file = kdbx_file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(VaultCorruptError):
        KeePassVault.open(path, Secret(KDBX_PASSWORD), key_file=key_file)
    path.write_bytes(bytes(data[:100]))
    with pytest.raises(VaultCorruptError):
        KeePassVault.open(path, Secret(KDBX_PASSWORD), key_file=key_file)


def test_kdbx_without_password_but_key_file(kdbx_blank: Path, tmp_path: Path) -> None:
    """A database locked by a key file alone opens with an empty password."""
    from .conftest import make_kdbx

    key_file = tmp_path / "only.key"
    key_file.write_bytes(b"k" * 32)
    make_kdbx(kdbx_blank, tmp_path / "k.kdbx", key_file, None)
    vault = KeePassVault.open(tmp_path / "k.kdbx", Secret(""), key_file=key_file)
    assert vault.items() == ()


def test_open_vault_picks_the_backend_by_content(
    vault_path: Path, kdbx_file: tuple[Path, Path], tmp_path: Path
) -> None:
    """Magic bytes, not the file name, choose the backend."""
    path, key_file = kdbx_file
    renamed = tmp_path / "renamed.bfv"
    renamed.write_bytes(path.read_bytes())
    assert detect_kind(renamed) is VaultKind.KEEPASS
    assert detect_kind(vault_path) is VaultKind.BLINDFILL
    assert isinstance(
        open_vault(renamed, Secret(KDBX_PASSWORD), key_file=key_file), KeePassVault
    )
    assert isinstance(open_vault(vault_path, Secret(MASTER)), VaultFile)
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello")
    with pytest.raises(VaultCorruptError):
        detect_kind(junk)
    with pytest.raises(StorageError):
        detect_kind(tmp_path / "missing")


async def test_vault_access_locks_and_unlocks(vault_path: Path) -> None:
    """A locked access opens with the right password and stays locked on a wrong one."""
    access = VaultAccess.for_path(vault_path)
    assert access.state is LockState.LOCKED
    with pytest.raises(VaultPasswordError):
        await access.unlock(Secret("wrong"))
    assert access.state is LockState.LOCKED
    await access.unlock(Secret(MASTER))
    assert access.state is LockState.UNLOCKED
    vault = await access.wait_unlocked()
    assert vault.items()[0].title == "Bank"
    access.lock()
    assert access.vault is None


async def test_vault_access_unlocks_from_environment(
    vault_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BLINDFILL_VAULT_PASSWORD unlocks when set, and only then."""
    access = VaultAccess.for_path(vault_path)
    monkeypatch.delenv("BLINDFILL_VAULT_PASSWORD", raising=False)
    assert not await access.unlock_from_env()
    monkeypatch.setenv("BLINDFILL_VAULT_PASSWORD", MASTER)
    assert await access.unlock_from_env()
    assert access.state is LockState.UNLOCKED


# --- CSV imports ------------------------------------------------------------------


def test_chrome_export_imports() -> None:
    """Chrome's name,url,username,password columns import."""
    result = parse_csv_export(
        "name,url,username,password,note\n"
        f"bank.test,https://bank.test/login,alice,{BANK_PASSWORD},\n"
        ",https://mail.test/,bob,pw2,n\n"
    )
    first, second = result.items
    assert (first.title, first.username) == ("bank.test", "alice")
    assert first.password.reveal() == BANK_PASSWORD
    assert second.title == "mail.test"  # the host stands in for a missing title
    assert first.id != second.id


def test_bitwarden_export_imports_logins_only() -> None:
    """Bitwarden's login_* columns, several URIs, TOTP; notes are skipped."""
    result = parse_csv_export(
        "folder,favorite,type,name,notes,fields,reprompt,login_uri,"
        "login_username,login_password,login_totp\n"
        f',,login,Bank,,,0,"https://bank.test,https://app.bank.test",alice,'
        f"{BANK_PASSWORD},{TOTP_SEED}\n"
        ",,note,Secret note,text,,0,,,,\n"
    )
    (bank,) = result.items
    assert bank.urls == ("https://bank.test", "https://app.bank.test")
    assert bank.totp is not None
    assert result.notes == ("line 3: skipped a 'note' row (only logins are imported)",)


def test_keepassxc_export_imports() -> None:
    """KeePassXC's quoted Title/Username/Password/URL/TOTP columns import."""
    result = parse_csv_export(
        '"Group","Title","Username","Password","URL","Notes","TOTP"\n'
        f'"Root","Bank","alice","{BANK_PASSWORD}","https://bank.test","",'
        f'"otpauth://totp/Bank?secret={TOTP_SEED}&period=30&digits=6"\n'
    )
    (bank,) = result.items
    assert bank.title == "Bank"
    assert bank.totp is not None


def test_csv_rows_without_password_or_with_bad_totp_are_noted() -> None:
    """Rows are skipped or lose their code with a note naming the line only."""
    result = parse_csv_export(
        "title,url,username,password,totp,subdomains\n"
        "A,https://a.test,u,,,\n"
        "B,https://b.test,u,pw,!!!,yes\n"
    )
    (item,) = result.items
    assert item.totp is None
    assert item.match_subdomains
    assert result.notes[0] == "line 2: skipped (no password)"
    assert result.notes[1].startswith("line 3: imported without its one-time code")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is empty"),
        ("name,username\nx,y\n", "no password or url column"),
        ("url,password\nhttps://a.test,pw,extra\n", "line 2: 3 fields"),
        ('url,password\n"https://a.test,pw\n', "line 2: not valid CSV"),
        ('url,password\nhttps://a.test,"pw"x\n', "line 2: not valid CSV"),
    ],
)
def test_malformed_csv_names_the_line(text: str, fragment: str) -> None:
    """A malformed CSV is refused as a whole, naming the line."""
    with pytest.raises(InvalidInputError) as exc:
        parse_csv_export(text, source="export.csv")
    assert fragment in str(exc.value)


def test_csv_file_must_be_utf8(tmp_path: Path) -> None:
    """Non-UTF-8 exports are refused by line; a BOM is fine."""
    path = tmp_path / "export.csv"
    path.write_bytes(b"url,password\nhttps://a.test,p\xe4ss\n")
    with pytest.raises(InvalidInputError, match="line 2: not UTF-8"):
        read_csv_export(path)
    with pytest.raises(StorageError):
        read_csv_export(tmp_path / "missing.csv")
    path.write_bytes(b"\xef\xbb\xbfurl,password\nhttps://a.test,pw\n")
    assert len(read_csv_export(path).items) == 1


def test_totp_spec_validates_on_construction() -> None:
    """A TotpSpec with 5 digits is refused."""
    with pytest.raises(InvalidInputError):
        TotpSpec(Secret("JBSWY3DP"), digits=5)
