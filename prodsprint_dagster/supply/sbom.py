"""CycloneDX 1.6 JSON from an inventory: render, validate, split per service, read back.

The document has the shape cyclonedx-python-lib's ``JsonV1Dot6`` writes (a test builds the same
BOM through the library's model and compares), but is assembled directly: the library's model
sorts components by a deep comparison key and its serializer re-checks the dependency graph
quadratically (``Bom.validate`` scans all dependencies per component), which costs minutes at
20,000 components. Licence strings are classified with the library's SPDX tables
(``cyclonedx.spdx``), and validation uses the library's shipped CycloneDX 1.6 JSON schema,
compiled by jsonschema-rs: python-jsonschema's ``uniqueItems`` is quadratic on arrays of
objects, which makes ``JsonStrictValidator`` take minutes on large SBOMs
(cyclonedx-python-lib#862).

Output is deterministic: everything is sorted, the serial number is derived from repository and
commit, and the timestamp is present only when the caller passes one.
"""

from __future__ import annotations

import gc
import json
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata as importlib_metadata

from packageurl import PackageURL

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.supply.inventory import components_by_ecosystem, components_by_scope
from prodsprint_dagster.supply.lockfiles import (
    ECOSYSTEM_OF_PURL_TYPE,
    HASH_HEX_LENGTHS,
    has_dependency_edges,
)
from prodsprint_dagster.supply.model import Component, Gap, Inventory

SPEC_VERSION = "1.6"
SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.6.schema.json"
ROOT_REF = "prodsprint:repository"
PROPERTY_PREFIX = "prodsprint:"
# Our three scopes onto CycloneDX's: a dev-only package is not part of what runs, which is
# what CycloneDX calls "excluded"; the property keeps "dev" readable and round-trippable.
CDX_SCOPE = {"required": "required", "optional": "optional", "dev": "excluded"}
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://prodsprint.dev/sbom")


class SbomError(ProdSprintError):
    """An SBOM is not valid CycloneDX 1.6 JSON, or a document given as an SBOM is not one."""


# ---------------------------------------------------------------- render


def render_sbom(
    inventory: Inventory,
    *,
    repo: str,
    commit: str,
    version: str | None = None,
    services: list[dict] | None = None,
    timestamp: datetime | None = None,
) -> dict:
    """The CycloneDX 1.6 document (a dict) for ``inventory`` of ``repo`` at ``commit``.

    ``metadata.component`` is the repository (type application, version = ``version`` when a
    release label is given, else the commit; the commit is always a property). ``services``
    are audit-style service dicts (``name``, optional ``root``, ``port``, ``framework``,
    ``language``, ``image``) rendered as CycloneDX services.
    """
    root = {
        "type": "application",
        "bom-ref": ROOT_REF,
        "name": repo,
        "version": version or commit,
        "properties": _props([("commit", commit)]),
    }
    return _document(
        inventory,
        root=root,
        serial_seed=f"{repo}@{commit}",
        services=services,
        timestamp=timestamp,
    )


def service_sboms(
    inventory: Inventory,
    audit: dict,
    *,
    repo: str,
    commit: str,
    timestamp: datetime | None = None,
) -> dict[str, dict]:
    """One SBOM per service, keyed by service name, when the audit found several services.

    A component belongs to the service whose root is the deepest one containing its lockfile;
    components read from lockfiles at the repository root belong to every service. Returns
    ``{}`` for zero or one service (the repository SBOM is then the service's SBOM).
    """
    services = [s for s in audit.get("services") or [] if isinstance(s, dict)]
    if len(services) < 2:
        return {}
    rooted = [s for s in services if isinstance(s.get("root"), str) and s.get("name")]
    roots = sorted({_norm_dir(s["root"]) for s in rooted}, key=len, reverse=True)

    def owner(rel: str) -> str | None:
        directory = _norm_dir(posixpath.dirname(rel))
        if directory == ".":
            return "*"
        return next((r for r in roots if r == "." or _under(directory, r)), None)

    out: dict[str, dict] = {}
    for svc in sorted(rooted, key=lambda s: str(s["name"])):
        svc_root = _norm_dir(svc["root"])
        sub = Inventory()
        for purl, comp in inventory.components.items():
            if owner(comp.source) in ("*", svc_root):
                sub.components[purl] = comp
        sub.lockfiles = [lf for lf in inventory.lockfiles if owner(lf) in ("*", svc_root)]
        sub.gaps = [g for g in inventory.gaps if owner(g.file) in ("*", svc_root)]
        root = {
            "type": "application",
            "bom-ref": ROOT_REF,
            "group": repo,
            "name": str(svc["name"]),
            "version": commit,
            "properties": _props([("commit", commit), ("service_root", svc_root)]),
        }
        out[str(svc["name"])] = _document(
            sub,
            root=root,
            serial_seed=f"{repo}@{commit}#{svc['name']}",
            services=[svc],
            timestamp=timestamp,
        )
    return out


def _norm_dir(directory: str) -> str:
    norm = posixpath.normpath(directory or ".")
    return "." if norm in ("", "/") else norm.strip("/")


def _under(directory: str, root: str) -> bool:
    return directory == root or directory.startswith(root + "/")


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The document is a tree of fresh dicts and lists without cycles; while tens of thousands
    of them are created, the cyclic collector would otherwise rescan everything alive again and
    again (2-3x the assembly time at 20,000 components). Reference counting still frees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _document(
    inventory: Inventory,
    *,
    root: dict,
    serial_seed: str,
    services: list[dict] | None,
    timestamp: datetime | None,
) -> dict:
    with _cyclic_gc_paused():
        return _assemble(inventory, root, serial_seed, services, timestamp)


def _assemble(
    inventory: Inventory,
    root: dict,
    serial_seed: str,
    services: list[dict] | None,
    timestamp: datetime | None,
) -> dict:
    comps = [inventory.components[p] for p in sorted(inventory.components)]
    known = set(inventory.components)
    metadata: dict = {}
    if timestamp is not None:
        metadata["timestamp"] = timestamp.astimezone(UTC).isoformat()
    metadata["tools"] = {
        "components": [
            {"type": "application", "name": "prodsprint-dagster", "version": _tool_version()}
        ]
    }
    metadata["component"] = root
    meta_props = [("lockfile", lf) for lf in inventory.lockfiles]
    meta_props += [("gap", gap_value(g)) for g in inventory.gaps]
    if meta_props:
        metadata["properties"] = _props(meta_props)
    doc: dict = {
        "$schema": SCHEMA_URI,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid5(_SERIAL_NAMESPACE, serial_seed)}",
        "version": 1,
        "metadata": metadata,
        "components": [_component(c) for c in comps],
    }
    if services:
        doc["services"] = _services(services)
    doc["dependencies"] = _dependencies(comps, known)
    return doc


def gap_value(gap: Gap) -> str:
    return json.dumps(
        {"code": gap.code, "file": gap.file, "line": gap.line, "message": gap.message},
        sort_keys=True,
    )


@lru_cache(maxsize=1)
def _tool_version() -> str:
    try:
        return importlib_metadata.version("prodsprint-dagster")
    except importlib_metadata.PackageNotFoundError:
        return "0"


def _props(pairs) -> list[dict]:
    return [
        {"name": PROPERTY_PREFIX + k, "value": str(v)}
        for k, v in sorted(set(pairs), key=lambda kv: (kv[0], str(kv[1])))
    ]


def _split_name(comp: Component) -> tuple[str | None, str]:
    """(group, name) as CycloneDX writers use them: npm scope, Maven groupId, Composer vendor."""
    if comp.ecosystem == "npm" and comp.name.startswith("@") and "/" in comp.name:
        group, _, name = comp.name.partition("/")
        return group, name
    if comp.ecosystem == "Maven" and ":" in comp.name:
        group, _, name = comp.name.rpartition(":")
        return group, name
    if comp.ecosystem == "Packagist" and "/" in comp.name:
        group, _, name = comp.name.partition("/")
        return group, name
    return None, comp.name


def _component(comp: Component) -> dict:
    group, name = _split_name(comp)
    out: dict = {"type": "library", "bom-ref": comp.purl}
    if group:
        out["group"] = group
    out["name"] = name
    if comp.version:
        out["version"] = comp.version
    out["scope"] = CDX_SCOPE.get(comp.scope, "required")
    hashes, extra = [], []
    for alg, content in comp.hashes:
        if len(content) == HASH_HEX_LENGTHS.get(alg, -1):
            hashes.append({"alg": alg, "content": content})
        else:
            extra.append((f"hash:{alg}", content))
    if hashes:
        out["hashes"] = sorted(hashes, key=lambda h: (h["alg"], h["content"]))
    if comp.licenses:
        out["licenses"] = licence_choices(comp.licenses)
    out["purl"] = comp.purl
    props = [("source", comp.source)] if comp.source else []
    if comp.line:
        props.append(("line", comp.line))
    if comp.workspace:
        props.append(("workspace", comp.workspace))
    if comp.scope == "dev":
        props.append(("scope", "dev"))
    props.extend(extra)
    if props:
        out["properties"] = _props(props)
    return out


def licence_choices(licenses: tuple[str, ...]) -> list[dict]:
    """CycloneDX ``licenses`` for the strings a lockfile gave: an SPDX id as ``license.id``, a
    valid SPDX expression as ``expression`` (only when it is the sole entry, as the schema
    requires), anything else verbatim as ``license.name``."""
    values = list(dict.fromkeys(x.strip() for x in licenses if x and x.strip()))
    if len(values) == 1:
        kind, value = _classify(values[0])
        if kind == "expression":
            return [{"expression": value}]
    out = []
    for raw in values:
        kind, value = _classify(raw)
        out.append({"license": {"id": value}} if kind == "id" else {"license": {"name": raw}})
    return out


@lru_cache(maxsize=4096)
def _classify(value: str) -> tuple[str, str]:
    from cyclonedx.spdx import fixup_id, is_expression

    spdx = fixup_id(value)
    if spdx is not None:
        return "id", spdx
    if is_expression(value):
        return "expression", value
    return "name", value


def _services(services: list[dict]) -> list[dict]:
    out = []
    for svc in services:
        name = svc.get("name") if isinstance(svc, dict) else None
        if not isinstance(name, str) or not name:
            raise SbomError("a service passed to render_sbom has no 'name'")
        props = [
            (key, svc[key])
            for key in ("root", "port", "framework", "language", "image", "role")
            if svc.get(key) not in (None, "")
        ]
        entry: dict = {"bom-ref": f"service:{name}", "name": name}
        if props:
            entry["properties"] = _props(props)
        out.append(entry)
    return sorted(out, key=lambda s: s["name"])


def _dependencies(comps: list[Component], known: set[str]) -> list[dict]:
    """The graph: every component whose format records edges gets an entry (empty means "no
    dependencies"); the repository depends on what nothing else depends on, plus everything
    read from formats without edges."""
    entries: list[dict] = []
    targets: set[str] = set()
    with_edges: set[str] = set()
    edges_known: dict[str, bool] = {}
    for comp in comps:
        deps = sorted(d for d in set(comp.dependencies) if d in known and d != comp.purl)
        if comp.source not in edges_known:
            edges_known[comp.source] = has_dependency_edges(comp.source)
        if deps or edges_known[comp.source]:
            with_edges.add(comp.purl)
            entry: dict = {"ref": comp.purl}
            if deps:
                entry["dependsOn"] = deps
                targets.update(deps)
            entries.append(entry)
    direct = sorted(p for p in known if p not in targets or p not in with_edges)
    root: dict = {"ref": ROOT_REF}
    if direct:
        root["dependsOn"] = direct
    return sorted([root, *entries], key=lambda e: e["ref"])


# ---------------------------------------------------------------- validate


@lru_cache(maxsize=1)
def _validator():
    import jsonschema_rs
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON

    def load(path: str) -> dict:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)

    prefix = "http://cyclonedx.org/schema/"
    registry = jsonschema_rs.Registry(
        [
            (prefix + "spdx.SNAPSHOT.schema.json", load(SPDX_JSON)),
            (prefix + "jsf-0.82.SNAPSHOT.schema.json", load(JSF)),
            (prefix + "cryptography-defs.SNAPSHOT.schema.json", load(CRYPTOGRAPHY_DEFS)),
        ]
    )
    schema = BOM_JSON[SchemaVersion.V1_6]
    if schema is None:  # pragma: no cover - the library ships it
        raise SbomError("cyclonedx-python-lib ships no CycloneDX 1.6 JSON schema")
    return jsonschema_rs.Draft7Validator(load(schema), registry=registry, validate_formats=True)


def validate_sbom(doc: dict) -> None:
    """Raise :class:`SbomError` with the first schema violation (JSON pointer and reason) unless
    ``doc`` is valid CycloneDX 1.6 JSON per the schema cyclonedx-python-lib ships."""
    if not isinstance(doc, dict):
        raise SbomError("an SBOM must be a JSON object")
    if doc.get("specVersion") != SPEC_VERSION:
        raise SbomError(
            f"specVersion is {doc.get('specVersion')!r}; this check validates CycloneDX 1.6"
        )
    error = next(iter(_validator().iter_errors(doc)), None)
    if error is not None:
        pointer = "/" + "/".join(str(p) for p in error.instance_path)
        message = " ".join(str(error.message).split())
        if len(message) > 300:
            message = message[:140] + " ... " + message[-140:]
        raise SbomError(f"SBOM is not valid CycloneDX 1.6 at {pointer}: {message}")


# ---------------------------------------------------------------- read back


def components_from_sbom(doc: dict) -> list[Component]:
    """The components of a CycloneDX JSON document (any 1.x with purls), nested ones included.
    Components without a purl of a supported ecosystem are skipped: nothing could match them."""
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise SbomError("not a CycloneDX JSON document (bomFormat is not 'CycloneDX')")
    raw = doc.get("components") or []
    if not isinstance(raw, list):
        raise SbomError("'components' is not an array")
    flat: list[dict] = []
    stack = list(reversed(raw))
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        flat.append(item)
        nested = item.get("components")
        if isinstance(nested, list):
            stack.extend(reversed(nested))
    purl_of_ref: dict[str, str] = {}
    parsed: list[tuple[dict, PackageURL]] = []
    for item in flat:
        purl = item.get("purl")
        if not isinstance(purl, str):
            continue
        try:
            pu = PackageURL.from_string(purl)
        except ValueError:
            continue
        if pu.type not in ECOSYSTEM_OF_PURL_TYPE:
            continue
        parsed.append((item, pu))
        purl_of_ref[str(item.get("bom-ref") or purl)] = pu.to_string()
    edges: dict[str, list[str]] = {}
    for dep in doc.get("dependencies") or []:
        if isinstance(dep, dict) and isinstance(dep.get("ref"), str):
            edges[dep["ref"]] = [d for d in dep.get("dependsOn") or [] if isinstance(d, str)]
    out = []
    for item, pu in parsed:
        props = {
            p.get("name", "")[len(PROPERTY_PREFIX) :]: p.get("value")
            for p in item.get("properties") or []
            if isinstance(p, dict) and str(p.get("name", "")).startswith(PROPERTY_PREFIX)
        }
        ref = str(item.get("bom-ref") or item["purl"])
        out.append(
            Component(
                name=_name_from_purl(pu, item),
                version=pu.version or item.get("version") or None,
                ecosystem=ECOSYSTEM_OF_PURL_TYPE[pu.type],
                purl=pu.to_string(),
                scope=_scope_back(item, props),
                hashes=_hashes_back(item, props),
                licenses=_licences_back(item),
                dependencies=tuple(purl_of_ref[d] for d in edges.get(ref, ()) if d in purl_of_ref),
                source=str(props.get("source") or ""),
                line=int(props["line"]) if str(props.get("line", "")).isdigit() else None,
                workspace=props.get("workspace") or None,
            )
        )
    return out


def _name_from_purl(pu: PackageURL, item: dict) -> str:
    if pu.type == "pypi":
        return str(item.get("name") or pu.name)
    if pu.type == "maven":
        return f"{pu.namespace}:{pu.name}" if pu.namespace else pu.name
    return f"{pu.namespace}/{pu.name}" if pu.namespace else pu.name


def _scope_back(item: dict, props: dict) -> str:
    if props.get("scope") in ("required", "optional", "dev"):
        return props["scope"]
    return {"optional": "optional", "excluded": "dev"}.get(item.get("scope"), "required")


def _hashes_back(item: dict, props: dict) -> tuple[tuple[str, str], ...]:
    out = [
        (h["alg"], h["content"])
        for h in item.get("hashes") or []
        if isinstance(h, dict)
        and isinstance(h.get("alg"), str)
        and isinstance(h.get("content"), str)
    ]
    out += [(k[len("hash:") :], v) for k, v in sorted(props.items()) if k.startswith("hash:")]
    return tuple(out)


def _licences_back(item: dict) -> tuple[str, ...]:
    out = []
    for choice in item.get("licenses") or []:
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("expression"), str):
            out.append(choice["expression"])
        lic = choice.get("license")
        if isinstance(lic, dict):
            value = lic.get("id") or lic.get("name")
            if isinstance(value, str):
                out.append(value)
    return tuple(out)


# ---------------------------------------------------------------- summary


def sbom_summary(doc: dict, inventory: Inventory) -> dict:
    """What the readiness gate consumes. ``valid`` is the schema verdict; when false,
    ``validation_error`` says why."""
    error = None
    try:
        validate_sbom(doc)
    except SbomError as exc:
        error = str(exc)
    return {
        "format": "cyclonedx",
        "spec_version": str(doc.get("specVersion", SPEC_VERSION)) if isinstance(doc, dict) else "",
        "components": len(doc.get("components") or []) if isinstance(doc, dict) else 0,
        "by_ecosystem": components_by_ecosystem(inventory),
        "by_scope": components_by_scope(inventory),
        "lockfiles": list(inventory.lockfiles),
        "gaps": [
            {"code": g.code, "file": g.file, "line": g.line, "message": g.message}
            for g in inventory.gaps
        ],
        "valid": error is None,
        "validation_error": error,
    }
