"""Gradle dependency lock state: ``gradle.lockfile`` / ``buildscript-gradle.lockfile``
(``group:artifact:version=conf1,conf2``, Gradle 6+) and the older per-configuration files
``gradle/dependency-locks/<configuration>.lockfile`` (``group:artifact:version`` lines).

A module locked only for test configurations (``testCompileClasspath`` ...) is dev; anything a
non-test configuration resolves is required; buildscript locks describe the build's own
classpath, so they are dev as well. No edges: the lock is a flat list.
"""

from __future__ import annotations

from prodsprint_dagster.supply.lockfiles._base import LockInput, Malformed
from prodsprint_dagster.supply.lockfiles._purl import make
from prodsprint_dagster.supply.model import Component


def _is_test(configuration: str) -> bool:
    return "test" in configuration.lower()


def parse(src: LockInput) -> list[Component]:
    filename = src.rel.rsplit("/", 1)[-1]
    buildscript = filename.startswith("buildscript")
    legacy_conf = None
    if filename != "gradle.lockfile" and not buildscript:
        legacy_conf = filename[: -len(".lockfile")]
    out: list[Component] = []
    for number, raw in enumerate(src.text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        coords, sep, confs = line.partition("=")
        if coords == "empty":
            continue
        configurations = [c for c in confs.split(",") if c] if sep else [legacy_conf or ""]
        parts = coords.split(":")
        if len(parts) < 3 or not all(parts[:3]):
            raise Malformed(
                f"expected 'group:artifact:version[=configurations]', got {line!r}", number
            )
        group, artifact, version = parts[0], parts[1], parts[2]
        dev = buildscript or (bool(configurations) and all(_is_test(c) for c in configurations))
        out.append(
            make(
                "Maven",
                f"{group}:{artifact}",
                version,
                source=src.rel,
                line=number,
                scope="dev" if dev else "required",
            )
        )
    return out
