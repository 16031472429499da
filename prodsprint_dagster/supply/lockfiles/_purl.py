"""Package URLs and hashes, one way per ecosystem, so that the same package read from two
different lockfiles gets the same purl (the inventory's dedupe key).

purls are built by packageurl-python (it encodes ``@scope`` and ``+`` and lowercases where the
purl spec says so); PyPI names are normalized per PEP 503 first, which the purl spec's own rule
(lowercase, ``_`` to ``-``) does not fully do.
"""

from __future__ import annotations

import binascii
import re
from functools import lru_cache

from packageurl import PackageURL

from prodsprint_dagster.supply.model import Component

# purl type per OSV ecosystem, and back.
PURL_TYPES = {
    "PyPI": "pypi",
    "npm": "npm",
    "Go": "golang",
    "crates.io": "cargo",
    "RubyGems": "gem",
    "Packagist": "composer",
    "Maven": "maven",
}
ECOSYSTEM_OF_PURL_TYPE = {v: k for k, v in PURL_TYPES.items()}

# CycloneDX hash algorithm names with the hex length each must have (the schema's pattern).
HASH_HEX_LENGTHS = {"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-384": 96, "SHA-512": 128}
_SRI_ALGS = {"sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
_PEP503 = re.compile(r"[-_.]+")
_HEX = frozenset("0123456789abcdef")


def pep503(name: str) -> str:
    return _PEP503.sub("-", name).lower()


@lru_cache(maxsize=1 << 16)
def _purl(
    ptype: str,
    namespace: str | None,
    name: str,
    version: str | None,
    qualifiers: tuple[tuple[str, str], ...],
) -> str:
    # to_string() normalizes (and encodes) by itself; normalizing in the constructor as well
    # would do the same work twice.
    return PackageURL(
        type=ptype,
        namespace=namespace or None,
        name=name,
        version=version or None,
        qualifiers=dict(qualifiers) or None,
        normalize_purl=False,
    ).to_string()


def purl_for(
    ecosystem: str,
    name: str,
    version: str | None,
    qualifiers: tuple[tuple[str, str], ...] = (),
) -> str:
    """The purl of ``name`` (as the ecosystem spells it: ``@scope/pkg``, ``vendor/pkg``,
    ``group:artifact``, a Go module path) at ``version``."""
    ptype = PURL_TYPES[ecosystem]
    namespace = None
    if ecosystem == "PyPI":
        name = pep503(name)
    elif ecosystem == "Maven":
        namespace, _, name = name.rpartition(":")
    elif ecosystem in ("npm", "Packagist", "Go") and "/" in name:
        namespace, _, name = name.rpartition("/")
    return _purl(ptype, namespace, name, version, qualifiers)


def make(
    ecosystem: str,
    name: str,
    version: str | None,
    *,
    source: str,
    line: int | None = None,
    scope: str = "required",
    hashes: tuple[tuple[str, str], ...] = (),
    licenses: tuple[str, ...] = (),
    dependencies: tuple[str, ...] = (),
    workspace: str | None = None,
    qualifiers: tuple[tuple[str, str], ...] = (),
) -> Component:
    return Component(
        name=name,
        version=version or None,
        ecosystem=ecosystem,
        purl=purl_for(ecosystem, name, version, qualifiers),
        scope=scope,
        hashes=hashes,
        licenses=licenses,
        dependencies=dependencies,
        source=source,
        line=line,
        workspace=workspace,
    )


def hex_hash(algorithm: str, digest: str) -> tuple[str, str] | None:
    """("SHA-256", hex) when ``digest`` is a well-formed hex digest for ``algorithm``."""
    digest = digest.strip().lower()
    if len(digest) != HASH_HEX_LENGTHS.get(algorithm, -1) or not _HEX.issuperset(digest):
        return None
    return algorithm, digest


def prefixed_hash(value: str) -> tuple[str, str] | None:
    """``sha256:ab12..`` (pip, poetry, uv, Pipfile, pdm) as a (CycloneDX algorithm, hex) pair."""
    alg, sep, digest = value.partition(":")
    if not sep:
        alg, sep, digest = value.partition("=")
    if not sep:
        return None
    name = {"md5": "MD5", **_SRI_ALGS}.get(alg.strip().lower())
    return hex_hash(name, digest) if name else None


def sri_hashes(integrity: str) -> tuple[tuple[str, str], ...]:
    """npm/pnpm/bun ``integrity`` (Subresource Integrity: ``sha512-<base64>``, possibly several
    separated by spaces) as hex digests."""
    out: list[tuple[str, str]] = []
    for part in integrity.split():
        alg, sep, b64 = part.partition("-")
        name = _SRI_ALGS.get(alg.lower())
        if not sep or name is None:
            continue
        try:
            digest = binascii.a2b_base64(b64.split("?", 1)[0], strict_mode=True).hex()
        except (binascii.Error, ValueError):
            continue
        pair = hex_hash(name, digest)
        if pair and pair not in out:
            out.append(pair)
    return tuple(out)
