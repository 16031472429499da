"""DSSE: the spec's PAE vector, the envelope's JSON shape, and signatures that must fail."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization

from prodsprint_dagster.provenance import (
    PAYLOAD_TYPE,
    ProvenanceError,
    load_or_create_signing_key,
    pae,
    sign_envelope,
    verify_dsse,
)


def test_pae_matches_the_dsse_spec_vector():
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_utf8_bytes_not_characters():
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_envelope_json_shape_follows_the_spec(tmp_path):
    key = load_or_create_signing_key(tmp_path)
    env = sign_envelope(b'{"a":1}', key)
    assert set(env) == {"payload", "payloadType", "signatures"}
    assert env["payloadType"] == "application/vnd.in-toto+json" == PAYLOAD_TYPE
    assert base64.b64decode(env["payload"], validate=True) == b'{"a":1}'
    [sig] = env["signatures"]
    assert set(sig) == {"keyid", "sig"}
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert sig["keyid"] == hashlib.sha256(raw).hexdigest()
    signature = base64.b64decode(sig["sig"], validate=True)
    assert len(signature) == 64  # ed25519
    key.public_key.verify(signature, pae(PAYLOAD_TYPE, b'{"a":1}'))  # raises if wrong
    assert verify_dsse(json.dumps(env), key.public_key) == b'{"a":1}'


def test_url_safe_base64_is_accepted_as_the_spec_allows(tmp_path):
    key = load_or_create_signing_key(tmp_path)
    payload = b"\xfb\xff" * 10  # standard base64 of this uses '+' and '/'
    env = sign_envelope(payload, key)
    env["payload"] = base64.urlsafe_b64encode(payload).decode()
    assert "-" in env["payload"] or "_" in env["payload"]
    assert verify_dsse(env, key.public_key) == payload


def test_altered_payload_type_or_payload_fails(tmp_path):
    key = load_or_create_signing_key(tmp_path)
    env = sign_envelope(b"body", key)
    with pytest.raises(ProvenanceError, match="payloadType is 'text/plain'"):
        verify_dsse({**env, "payloadType": "text/plain"}, key.public_key)
    with pytest.raises(ProvenanceError, match="does not match the payload"):
        verify_dsse({**env, "payload": base64.b64encode(b"bodx").decode()}, key.public_key)


def test_wrong_key_is_named(tmp_path):
    signer = load_or_create_signing_key(tmp_path / "a")
    other = load_or_create_signing_key(tmp_path / "b")
    env = sign_envelope(b"body", signer)
    with pytest.raises(ProvenanceError, match=f"not signed by key {other.keyid[:16]}.*"
                       f"signed by {signer.keyid[:16]}"):  # fmt: skip
        verify_dsse(env, other.public_key)
    env["signatures"][0]["keyid"] = ""  # no hint: the signature itself must fail
    with pytest.raises(ProvenanceError, match="does not match the payload"):
        verify_dsse(env, other.public_key)


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        ("not json", "not JSON"),
        ([], "JSON object"),
        ({"payloadType": PAYLOAD_TYPE, "signatures": [{"sig": "AA=="}]}, "`payload`"),
        ({"payload": "AA==", "payloadType": PAYLOAD_TYPE, "signatures": []}, "`signatures`"),
        ({"payload": "AA==", "payloadType": PAYLOAD_TYPE, "signatures": [{}]}, r"\[0\]\.sig"),
        ({"payload": "*!", "payloadType": PAYLOAD_TYPE, "signatures": [{"sig": "AA=="}]},
         "payload is not valid base64"),
    ],
)  # fmt: skip
def test_malformed_envelopes_are_refused_by_field(tmp_path, envelope, message):
    key = load_or_create_signing_key(tmp_path)
    with pytest.raises(ProvenanceError, match=message):
        verify_dsse(envelope if isinstance(envelope, str) else json.dumps(envelope),
                    key.public_key)  # fmt: skip
