"""The home's signing key: made once, private, and the same for every caller."""

from __future__ import annotations

import hashlib
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import serialization

from prodsprint_dagster.provenance import (
    ProvenanceError,
    load_or_create_signing_key,
    load_public_key,
    public_key_path,
)
from prodsprint_dagster.provenance.keys import key_paths


def test_key_is_created_once_with_private_modes(tmp_path):
    key = load_or_create_signing_key(tmp_path)
    private, public = key_paths(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(private.parent.stat().st_mode) == 0o700
    assert public == public_key_path(tmp_path) and public.is_file()
    assert b"PRIVATE" not in public.read_bytes()
    again = load_or_create_signing_key(tmp_path)
    assert again.keyid == key.keyid
    raw = load_public_key(public).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert key.keyid == hashlib.sha256(raw).hexdigest()


def test_concurrent_first_use_yields_one_key(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: load_or_create_signing_key(tmp_path).keyid, range(16)))
    assert len(ids) == 1
    assert [p.name for p in key_paths(tmp_path)[0].parent.iterdir() if p.name.startswith(".")] == []


def test_a_lost_public_key_is_exported_again(tmp_path):
    key = load_or_create_signing_key(tmp_path)
    public_key_path(tmp_path).unlink()
    assert load_or_create_signing_key(tmp_path).keyid == key.keyid
    assert public_key_path(tmp_path).is_file()


def test_bad_key_files_are_named(tmp_path):
    with pytest.raises(ProvenanceError, match="does not exist"):
        load_public_key(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    with pytest.raises(ProvenanceError, match=f"{bad}: not a PEM public key"):
        load_public_key(bad)
    private, _ = key_paths(tmp_path / "home")
    private.parent.mkdir(parents=True)
    private.write_text("garbage")
    with pytest.raises(ProvenanceError, match="not an unencrypted PEM private key"):
        load_or_create_signing_key(tmp_path / "home")
