"""The one error a failed verification raises, so callers can refuse to apply on exactly it."""

from prodsprint_dagster.errors import ProdSprintError


class ProvenanceError(ProdSprintError):
    """An attestation is missing, malformed, signed by another key, or no longer matches the
    artifacts it describes; the message names the envelope, subject or key at fault."""
