"""DSSE envelopes (secure-systems-lab/dsse v1): sign and verify a payload with ed25519.

The signature covers PAE(payloadType, payload), never the JSON around it, so neither the
payload type nor the payload can be swapped without breaking it. Envelopes come back from
storage, so every field is checked before use and each failure says which field is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from prodsprint_dagster.provenance.errors import ProvenanceError
from prodsprint_dagster.provenance.keys import SigningKey, key_id

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: ``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``,
    lengths in bytes as ASCII decimal."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign_envelope(
    payload: bytes, key: SigningKey, *, payload_type: str = PAYLOAD_TYPE
) -> dict[str, Any]:
    signature = key.sign(pae(payload_type, payload))
    return {
        "payload": base64.standard_b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [
            {"keyid": key.keyid, "sig": base64.standard_b64encode(signature).decode("ascii")}
        ],
    }


def parse_envelope(data: bytes | str | Mapping[str, Any], *, source: str = "envelope") -> dict:
    """The envelope as a dict with its shape checked (not its signature)."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ProvenanceError(f"{source}: not JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise ProvenanceError(f"{source}: a DSSE envelope is a JSON object")
    for field in ("payload", "payloadType"):
        if not isinstance(data.get(field), str):
            raise ProvenanceError(f"{source}: `{field}` must be a string")
    sigs = data.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise ProvenanceError(f"{source}: `signatures` must be a non-empty list")
    for i, sig in enumerate(sigs):
        if not isinstance(sig, Mapping) or not isinstance(sig.get("sig"), str):
            raise ProvenanceError(f"{source}: signatures[{i}].sig must be a string")
        if not isinstance(sig.get("keyid", ""), str):
            raise ProvenanceError(f"{source}: signatures[{i}].keyid must be a string")
    return dict(data)


def verify_dsse(
    envelope: bytes | str | Mapping[str, Any],
    public_key: Ed25519PublicKey,
    *,
    payload_type: str = PAYLOAD_TYPE,
    source: str = "envelope",
) -> bytes:
    """The payload, once a signature by ``public_key`` verifies over it; else ProvenanceError."""
    env = parse_envelope(envelope, source=source)
    if env["payloadType"] != payload_type:
        raise ProvenanceError(
            f"{source}: payloadType is {env['payloadType']!r}, expected {payload_type!r}"
        )
    payload = _b64(env["payload"], f"{source}: payload")
    message = pae(env["payloadType"], payload)
    wanted = key_id(public_key)
    seen = []
    for i, sig in enumerate(env["signatures"]):
        keyid = sig.get("keyid") or ""
        if keyid and keyid != wanted:  # keyid is a hint, not trusted: unnamed sigs are tried
            seen.append(keyid)
            continue
        try:
            public_key.verify(_b64(sig["sig"], f"{source}: signatures[{i}].sig"), message)
        except InvalidSignature:
            raise ProvenanceError(
                f"{source}: signature by key {wanted[:16]} does not match the payload "
                "(the envelope was altered or signed by another key)"
            ) from None
        return payload
    raise ProvenanceError(
        f"{source}: not signed by key {wanted[:16]}; signed by " + ", ".join(k[:16] for k in seen)
    )


def _b64(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, as the DSSE spec allows; padding is required."""
    try:
        standard = text.encode("ascii").translate(bytes.maketrans(b"-_", b"+/"))
        return base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ProvenanceError(f"{what} is not valid base64") from None
