"""The signing key of a ProdSprint home: one ed25519 pair, created the first time it is needed.

The private key never leaves ``<home>/keys`` (mode 0600 inside a 0700 folder); the public
key next to it is what a verifier is given. Creation is race-free across processes: the key
is written to a private temp file and hard-linked into place, so two runs that both find no
key end up signing with the same one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from prodsprint_dagster.provenance.errors import ProvenanceError

KEY_DIR = "keys"
PRIVATE_KEY_FILE = "provenance.ed25519.pem"
PUBLIC_KEY_FILE = "provenance.ed25519.pub.pem"


def key_id(public_key: Ed25519PublicKey) -> str:
    """sha256 (hex) of the raw 32-byte public key: stable, and computable by any verifier."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    public_path: Path | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def keyid(self) -> str:
        return key_id(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_paths(home: Path) -> tuple[Path, Path]:
    """(private, public) key files of ``home``."""
    folder = Path(home) / KEY_DIR
    return folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE


def load_or_create_signing_key(home: Path) -> SigningKey:
    """The home's signing key; generated (and its public half exported) on first use."""
    private_path, public_path = key_paths(home)
    if not private_path.exists():
        _create_private_key(private_path)
    key = _load_private_key(private_path)
    pem = public_key_pem(key.public_key())
    if not public_path.is_file() or public_path.read_bytes() != pem:
        _atomic_write(public_path, pem, mode=0o644)
    return SigningKey(key, public_path)


def public_key_path(home: Path) -> Path:
    return key_paths(home)[1]


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An ed25519 public key from a PEM (SubjectPublicKeyInfo) file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProvenanceError(f"public key {path} does not exist") from None
    except OSError as exc:
        raise ProvenanceError(f"public key {path}: cannot read: {exc.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ProvenanceError(f"public key {path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ProvenanceError(f"public key {path}: not an ed25519 key")
    return key


def _create_private_key(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        with contextlib.suppress(FileExistsError):  # another process won the race: keep theirs
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ProvenanceError(f"signing key {path}: not an unencrypted PEM private key") from None
    except OSError as exc:
        raise ProvenanceError(f"signing key {path}: cannot read: {exc.strerror}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ProvenanceError(f"signing key {path}: not an ed25519 key")
    return key


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
