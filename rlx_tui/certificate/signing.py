"""ed25519 keys, fingerprints and detached signatures (library: ``cryptography``).

* The default key lives at ``<data_dir>/keys/certificate-ed25519.pem`` (PKCS#8
  PEM, unencrypted, mode 0600, directory 0700). It is generated on first use,
  race-free: written under a private temporary name, then hard-linked into
  place, so two processes cannot both install a key.
* A user-supplied key may be PKCS#8 PEM or an OpenSSH ``ed25519`` private key
  (unencrypted). Like ssh, a key readable by group or others is refused.
* The fingerprint is ``sha256:<hex>`` of the 32 raw public-key bytes.
* ``<data_dir>/keys/trusted-signers.txt`` lists the fingerprints that signed
  certificates in this data directory; verification trusts them by default.
  (Someone who can write there can also read the private key, so this pins
  signers against strangers, not against the owner.)
* Key files are read as regular files of at most 16 KB (a FIFO or a device is
  refused, never waited on); inside the data directory no link is followed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from rlx_tui import fs_guard
from rlx_tui.atomic import TMP_PREFIX, atomic_write_bytes, fsync_dir
from rlx_tui.limits import MAX_KEY_FILE_BYTES, MAX_SIGNATURE_BYTES, MAX_SMALL_FILE_BYTES
from rlx_tui.logs import logger

KEYS_DIR = "keys"
DEFAULT_KEY_FILE = "certificate-ed25519.pem"
TRUSTED_FILE = "trusted-signers.txt"
ALGORITHM = "ed25519"


class SigningKeyError(Exception):
    """A signing key that cannot be used (unreadable, wrong type, too widely readable)."""


def default_key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEYS_DIR / DEFAULT_KEY_FILE


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key: Ed25519PublicKey | bytes) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_bytes(public_key)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_bytes(public_key)).decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Inverse of :func:`public_key_b64`; ValueError when it is not a 32-byte ed25519 key."""
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) != 32:
        raise ValueError("an ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _check_private_mode(path: Path, info: os.stat_result) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise SigningKeyError(
            f"signing key {path} is accessible by group or others (mode {mode:04o}); run: chmod 600 {path}"
        )


def load_private_key(path: Path, data_dir: Path | None = None) -> Ed25519PrivateKey:
    """Read an ed25519 private key (PKCS#8 PEM or OpenSSH), refusing a widely readable file.

    With ``data_dir`` the key lies inside it and is reached without following
    any link; otherwise ``path`` is the user's own choice (a link is fine).
    """
    path = Path(path)
    try:
        if data_dir is not None:
            data, info = fs_guard.read_file_stat(data_dir, path, MAX_KEY_FILE_BYTES, f"signing key {path}")
        else:
            data, info = fs_guard.read_regular(path, MAX_KEY_FILE_BYTES, f"signing key {path}")
        _check_private_mode(path, info)
    except FileNotFoundError as exc:
        raise SigningKeyError(f"signing key {path} does not exist") from exc
    except fs_guard.FileRefused as exc:
        raise SigningKeyError(str(exc)) from exc
    except OSError as exc:
        raise SigningKeyError(f"signing key {path} cannot be read: {exc.strerror or exc}") from exc
    key: PrivateKeyTypes
    try:
        if b"BEGIN OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"signing key {path} is not an unencrypted private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key {path} is not an ed25519 key")
    return key


def _install_new_key(data_dir: Path, path: Path) -> None:
    """Generate a key and link it into ``path``; FileExistsError if another process won."""
    fs_guard.ensure_dir(data_dir, path.parent, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:8]}")
    fd = fs_guard.open_file(data_dir, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def load_or_create_key(data_dir: Path, key_path: Path | None = None) -> tuple[Ed25519PrivateKey, bool]:
    """The signing key and whether it was just generated.

    ``key_path`` (user-supplied) must exist; without it the data directory's
    default key is used, generated on first use.
    """
    if key_path is not None:
        return load_private_key(Path(key_path)), False
    data_dir = Path(data_dir)
    path = default_key_path(data_dir)
    created = False
    if fs_guard.lstat(data_dir, path) is None:
        try:
            _install_new_key(data_dir, path)
            created = True
        except FileExistsError:
            pass
    return load_private_key(path, data_dir), created


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def signature_text(signature: bytes) -> bytes:
    """The detached signature file's content: base64 of the 64-byte signature, one line."""
    return base64.b64encode(signature) + b"\n"


def read_signature(path: Path) -> bytes:
    """Inverse of :func:`signature_text`; ValueError when malformed (or not a small regular file)."""
    data, _ = fs_guard.read_regular(Path(path), MAX_SIGNATURE_BYTES, f"signature {Path(path).name}")
    raw = base64.b64decode(data.strip(), validate=True)
    if len(raw) != 64:
        raise ValueError("an ed25519 signature has 64 bytes")
    return raw


def signature_matches(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _read_trusted(data_dir: Path) -> str | None:
    """The text of ``keys/trusted-signers.txt`` (bounded, never through a link), None when absent."""
    try:
        data = fs_guard.read_file(
            Path(data_dir), trusted_signers_path(data_dir), MAX_SMALL_FILE_BYTES, TRUSTED_FILE
        )
    except FileNotFoundError:
        return None
    return data.decode("utf-8", "replace")


def trusted_signers_path(data_dir: Path) -> Path:
    """``<data_dir>/keys/trusted-signers.txt``: one ``sha256:<hex>`` fingerprint per line."""
    return Path(data_dir) / KEYS_DIR / TRUSTED_FILE


def trusted_fingerprints(data_dir: Path) -> set[str] | None:
    """Fingerprints trusted in ``data_dir`` (its own key and recorded signers), or None if it has none.

    A linked, oversized or special ``keys`` file counts as absent: it pins nothing.
    """
    found: set[str] = set()
    try:
        text = _read_trusted(data_dir) or ""
    except (OSError, fs_guard.FileRefused):
        text = ""
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip().split()
        if word and word[0].startswith("sha256:"):
            found.add(word[0].lower())
    key_path = default_key_path(data_dir)
    with contextlib.suppress(SigningKeyError, OSError):
        if fs_guard.lstat(Path(data_dir), key_path) is not None:
            found.add(fingerprint(load_private_key(key_path, Path(data_dir)).public_key()))
    return found or None


def remember_signer(data_dir: Path, fp: str, label: str) -> None:
    """Add ``fp`` to the data directory's trusted signers (no-op when already there)."""
    data_dir = Path(data_dir)
    trusted = trusted_signers_path(data_dir)
    try:
        current = _read_trusted(data_dir)
    except fs_guard.FileRefused as exc:  # the certificate is written already: say so, do not fail it
        logger.warning("signer {} not recorded: {}", fp, exc)
        return
    if current is None:
        current = "# fingerprints of keys that signed certificates in this data directory\n"
    if any(line.split()[:1] == [fp] for line in current.splitlines()):
        return
    fs_guard.ensure_dir(data_dir, trusted.parent, 0o700)
    atomic_write_bytes(trusted, (current + f"{fp}  {label}\n").encode("utf-8"))
