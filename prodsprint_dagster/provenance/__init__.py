"""Signed provenance: an in-toto statement with a SLSA v1 predicate per plan and per release,
in a DSSE envelope signed with the home's ed25519 key; the release stage verifies the plan's
before applying it, and `prodsprint verify` checks any envelope by hand."""

from prodsprint_dagster.provenance.attest import (
    attest_plan,
    attest_release,
    directory_reader,
    plan_envelope_name,
    release_envelope_name,
    statement_summary,
    store_reader,
    verify_envelope,
    verify_plan,
)
from prodsprint_dagster.provenance.dsse import PAYLOAD_TYPE, pae, sign_envelope, verify_dsse
from prodsprint_dagster.provenance.errors import ProvenanceError
from prodsprint_dagster.provenance.keys import (
    SigningKey,
    key_id,
    load_or_create_signing_key,
    load_public_key,
    public_key_path,
)
from prodsprint_dagster.provenance.statement import PREDICATE_TYPE, STATEMENT_TYPE

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "ProvenanceError",
    "SigningKey",
    "attest_plan",
    "attest_release",
    "directory_reader",
    "key_id",
    "load_or_create_signing_key",
    "load_public_key",
    "pae",
    "plan_envelope_name",
    "public_key_path",
    "release_envelope_name",
    "sign_envelope",
    "statement_summary",
    "store_reader",
    "verify_dsse",
    "verify_envelope",
    "verify_plan",
]
