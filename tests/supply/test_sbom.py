"""The CycloneDX 1.6 SBOM: schema validity, the mapping (scopes, hashes, licences, graph,
properties), determinism, agreement with cyclonedx-python-lib's own model and validator,
per-service SBOMs and reading documents back."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from lock_helpers import write_tree

from prodsprint_dagster.supply.inventory import build_inventory
from prodsprint_dagster.supply.model import Component, Inventory
from prodsprint_dagster.supply.sbom import (
    ROOT_REF,
    SbomError,
    components_from_sbom,
    render_sbom,
    sbom_summary,
    service_sboms,
    validate_sbom,
)

SHA = "3f" * 32

TREE = {
    "services/api/package-lock.json": json.dumps(
        {
            "name": "api",
            "lockfileVersion": 3,
            "packages": {
                "": {"dependencies": {"express": "^4"}, "devDependencies": {"jest": "^29"}},
                "node_modules/express": {
                    "version": "4.19.2",
                    "integrity": "sha512-" + "Q" * 86 + "==",
                    "license": "MIT",
                    "dependencies": {"debug": "2.6.9"},
                },
                "node_modules/debug": {"version": "2.6.9", "license": "MIT"},
                "node_modules/jest": {"version": "29.7.0", "dev": True, "license": "MIT"},
                "node_modules/dual": {"version": "1.0.0", "license": "(MIT OR Apache-2.0)"},
                "node_modules/odd": {"version": "0.1.0", "license": "SEE LICENSE IN LICENSE.md"},
            },
        },
        indent=2,
    ),
    "services/worker/go.mod": "module example.com/worker\n\ngo 1.22\n\n"
    "require github.com/google/uuid v1.6.0\n",
    "services/worker/go.sum": "github.com/google/uuid v1.6.0 "
    "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n",
    "requirements.txt": f"flask==3.0.3 --hash=sha256:{SHA}\ngunicorn\n",
}


@pytest.fixture
def inventory(tmp_path) -> Inventory:
    write_tree(tmp_path, TREE)
    return build_inventory(tmp_path)


def by_ref(doc: dict) -> dict[str, dict]:
    return {c["bom-ref"]: c for c in doc["components"]}


def props(item: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in item.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def test_sbom_is_valid_cyclonedx_1_6_with_the_documented_mapping(inventory):
    doc = render_sbom(inventory, repo="acme/shop", commit="0123abcd")
    validate_sbom(doc)
    assert (doc["bomFormat"], doc["specVersion"]) == ("CycloneDX", "1.6")
    root = doc["metadata"]["component"]
    assert (root["type"], root["name"], root["version"]) == ("application", "acme/shop", "0123abcd")
    comps = by_ref(doc)
    express = comps["pkg:npm/express@4.19.2"]
    assert express["scope"] == "required"
    digest = base64.b64decode("Q" * 86 + "==").hex()
    assert express["hashes"] == [{"alg": "SHA-512", "content": digest}]
    assert express["licenses"] == [{"license": {"id": "MIT"}}]
    assert props(express)["prodsprint:source"] == ["services/api/package-lock.json"]
    jest = comps["pkg:npm/jest@29.7.0"]
    assert jest["scope"] == "excluded" and props(jest)["prodsprint:scope"] == ["dev"]
    assert comps["pkg:npm/dual@1.0.0"]["licenses"] == [{"expression": "(MIT OR Apache-2.0)"}]
    assert comps["pkg:npm/odd@0.1.0"]["licenses"] == [
        {"license": {"name": "SEE LICENSE IN LICENSE.md"}}
    ]
    uuid_mod = comps["pkg:golang/github.com/google/uuid@v1.6.0"]
    assert "hashes" not in uuid_mod  # the Go h1: dirhash is not a CycloneDX hash
    assert props(uuid_mod)["prodsprint:hash:go-h1"] == [
        "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="
    ]
    gunicorn = comps["pkg:pypi/gunicorn"]
    assert "version" not in gunicorn
    meta = props(doc["metadata"])
    assert sorted(meta["prodsprint:lockfile"]) == inventory.lockfiles
    gaps = [json.loads(v) for v in meta["prodsprint:gap"]]
    assert gaps == [
        {
            "code": "unpinned_requirement",
            "file": "requirements.txt",
            "line": 2,
            "message": gaps[0]["message"],
        }
    ]


def test_dependency_graph_roots_and_unknown_edges(inventory):
    doc = render_sbom(inventory, repo="acme/shop", commit="c1")
    graph = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    # package-lock records edges: every npm component has an entry, express -> debug.
    assert graph["pkg:npm/express@4.19.2"] == ["pkg:npm/debug@2.6.9"]
    assert graph["pkg:npm/debug@2.6.9"] == []
    # requirements.txt and go.mod do not: no entry (unknown), the repository depends on them.
    assert "pkg:pypi/flask@3.0.3" not in graph
    assert graph[ROOT_REF] == sorted(
        [
            "pkg:golang/github.com/google/uuid@v1.6.0",
            "pkg:npm/dual@1.0.0",
            "pkg:npm/express@4.19.2",
            "pkg:npm/jest@29.7.0",
            "pkg:npm/odd@0.1.0",
            "pkg:pypi/flask@3.0.3",
            "pkg:pypi/gunicorn",
        ]
    )


def test_output_is_deterministic_and_the_serial_follows_repo_and_commit(inventory):
    first = json.dumps(render_sbom(inventory, repo="acme/shop", commit="c1"))
    reordered = Inventory(
        components=dict(reversed(list(inventory.components.items()))),
        lockfiles=list(reversed(inventory.lockfiles)),
        gaps=list(inventory.gaps),
    )
    reordered.lockfiles.sort()
    assert json.dumps(render_sbom(reordered, repo="acme/shop", commit="c1")) == first
    doc1 = json.loads(first)
    doc2 = render_sbom(inventory, repo="acme/shop", commit="c2")
    assert doc1["serialNumber"] != doc2["serialNumber"]
    assert uuid.UUID(doc1["serialNumber"].removeprefix("urn:uuid:")).version == 5
    assert "timestamp" not in doc1["metadata"]
    stamped = render_sbom(
        inventory,
        repo="acme/shop",
        commit="c1",
        version="2.4.0",
        timestamp=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    validate_sbom(stamped)
    assert stamped["metadata"]["timestamp"] == "2024-05-01T12:00:00+00:00"
    assert stamped["metadata"]["component"]["version"] == "2.4.0"
    assert props(stamped["metadata"]["component"])["prodsprint:commit"] == ["c1"]


def test_services_are_rendered_and_must_have_names(inventory):
    doc = render_sbom(
        inventory,
        repo="acme/shop",
        commit="c1",
        services=[{"name": "api", "root": "services/api", "port": 8080, "framework": None}],
    )
    validate_sbom(doc)
    assert doc["services"] == [
        {
            "bom-ref": "service:api",
            "name": "api",
            "properties": [
                {"name": "prodsprint:port", "value": "8080"},
                {"name": "prodsprint:root", "value": "services/api"},
            ],
        }
    ]
    with pytest.raises(SbomError, match="no 'name'"):
        render_sbom(inventory, repo="r", commit="c", services=[{"root": "."}])


BROKEN = [
    (lambda d: d["components"][0].__setitem__("scope", "dev"), "/components/0/scope"),
    (
        lambda d: d["components"][0].__setitem__("hashes", [{"alg": "SHA-256", "content": "xyz"}]),
        "/components/0/hashes/0/content",
    ),
    (lambda d: d.__setitem__("serialNumber", "not-a-urn"), "/serialNumber"),
    (lambda d: d["components"].append(dict(d["components"][0])), "/components"),
    (lambda d: d["metadata"].__setitem__("surprise", 1), "/metadata"),
]


@pytest.mark.parametrize(("breakage", "pointer"), BROKEN)
def test_schema_violations_raise_sbom_error_naming_the_place(inventory, breakage, pointer):
    doc = render_sbom(inventory, repo="acme/shop", commit="c1")
    breakage(doc)
    with pytest.raises(SbomError) as err:
        validate_sbom(doc)
    assert f"at {pointer}:" in str(err.value)
    assert len(str(err.value)) < 400


def test_wrong_spec_version_and_non_objects_are_refused():
    with pytest.raises(SbomError, match="specVersion"):
        validate_sbom({"bomFormat": "CycloneDX", "specVersion": "1.4"})
    with pytest.raises(SbomError):
        validate_sbom([])  # type: ignore[arg-type]


def test_the_librarys_own_validator_agrees(inventory):
    """cyclonedx-python-lib's JsonStrictValidator (too slow for large SBOMs, fine for this one)
    gives the same verdicts as validate_sbom on a valid document and on each breakage."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    lib = JsonStrictValidator(SchemaVersion.V1_6)
    doc = render_sbom(inventory, repo="acme/shop", commit="c1", services=[{"name": "api"}])
    assert lib.validate_str(json.dumps(doc)) is None
    for breakage, _ in BROKEN:
        broken = json.loads(json.dumps(doc))
        breakage(broken)
        assert lib.validate_str(json.dumps(broken)) is not None


def test_same_document_as_cyclonedx_python_lib_builds_from_its_model(inventory):
    """Build the same BOM through the library's model and JsonV1Dot6 writer: components,
    dependencies and the root component must match ours exactly."""
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentScope, ComponentType
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    ours = render_sbom(inventory, repo="acme/shop", commit="c1")
    licences = LicenseFactory()
    cdx_components = []
    for item in ours["components"]:
        licenses = []
        for choice in item.get("licenses", []):
            if "expression" in choice:
                licenses.append(licences.make_with_expression(choice["expression"]))
            elif "id" in choice["license"]:
                licenses.append(licences.make_with_id(choice["license"]["id"]))
            else:
                licenses.append(licences.make_with_name(choice["license"]["name"]))
        cdx_components.append(
            CdxComponent(
                type=ComponentType.LIBRARY,
                bom_ref=item["bom-ref"],
                group=item.get("group"),
                name=item["name"],
                version=item.get("version"),
                scope=ComponentScope(item["scope"]),
                hashes=[
                    HashType(alg=HashAlgorithm(h["alg"]), content=h["content"])
                    for h in item.get("hashes", [])
                ],
                licenses=licenses,
                purl=PackageURL.from_string(item["purl"]),
                properties=[Property(name=p["name"], value=p["value"]) for p in item["properties"]],
            )
        )
    root = ours["metadata"]["component"]
    cdx_root = CdxComponent(
        type=ComponentType.APPLICATION,
        bom_ref=root["bom-ref"],
        name=root["name"],
        version=root["version"],
        properties=[Property(name=p["name"], value=p["value"]) for p in root["properties"]],
    )
    deps = [
        Dependency(
            ref=next(c.bom_ref for c in [cdx_root, *cdx_components] if c.bom_ref.value == d["ref"]),
            dependencies=[
                Dependency(ref=next(c.bom_ref for c in cdx_components if c.bom_ref.value == t))
                for t in d.get("dependsOn", [])
            ],
        )
        for d in ours["dependencies"]
    ]
    bom = Bom(
        components=cdx_components,
        metadata=BomMetaData(component=cdx_root),
        dependencies=deps,
        serial_number=uuid.UUID(ours["serialNumber"].removeprefix("urn:uuid:")),
    )
    theirs = json.loads(JsonV1Dot6(bom).output_as_string())
    assert sorted(theirs["components"], key=lambda c: c["bom-ref"]) == ours["components"]
    # The library also lists every component without known edges as an empty graph entry
    # ("no dependencies"); ours leaves them out, which CycloneDX reads as "unknown".
    no_edges = {
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:pypi/flask@3.0.3",
        "pkg:pypi/gunicorn",
    }
    theirs_deps = sorted(theirs["dependencies"], key=lambda d: d["ref"])
    assert [d for d in theirs_deps if d["ref"] not in no_edges] == ours["dependencies"]
    assert [d for d in theirs_deps if d["ref"] in no_edges] == [
        {"ref": r} for r in sorted(no_edges)
    ]
    assert theirs["metadata"]["component"] == root
    assert theirs["serialNumber"] == ours["serialNumber"]


def test_service_sboms_split_by_the_deepest_root_and_share_root_lockfiles(inventory):
    audit = {
        "services": [
            {"name": "api", "root": "services/api", "port": 8080},
            {"name": "worker", "root": "services/worker"},
            {"name": "postgres", "root": None, "image": "postgres:16"},
        ]
    }
    docs = service_sboms(inventory, audit, repo="acme/shop", commit="c1")
    assert sorted(docs) == ["api", "worker"]
    for doc in docs.values():
        validate_sbom(doc)
    api_refs = set(by_ref(docs["api"]))
    worker_refs = set(by_ref(docs["worker"]))
    assert "pkg:npm/express@4.19.2" in api_refs and "pkg:npm/express@4.19.2" not in worker_refs
    assert "pkg:golang/github.com/google/uuid@v1.6.0" in worker_refs
    assert "pkg:golang/github.com/google/uuid@v1.6.0" not in api_refs
    assert "pkg:pypi/flask@3.0.3" in api_refs and "pkg:pypi/flask@3.0.3" in worker_refs
    root = docs["api"]["metadata"]["component"]
    assert (root["group"], root["name"], root["version"]) == ("acme/shop", "api", "c1")
    assert docs["api"]["serialNumber"] != docs["worker"]["serialNumber"]
    assert [s["name"] for s in docs["api"]["services"]] == ["api"]
    assert service_sboms(inventory, {"services": audit["services"][:1]}, repo="r", commit="c") == {}


def test_components_round_trip_through_the_sbom(inventory, tmp_path):
    doc = render_sbom(inventory, repo="acme/shop", commit="c1")
    back = components_from_sbom(json.loads(json.dumps(doc)))
    assert {c.purl: c for c in back} == inventory.components


def test_components_from_a_foreign_cyclonedx_document():
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {
                "type": "library",
                "bom-ref": "ref-1",
                "name": "PyYAML",
                "version": "5.3.1",
                "purl": "pkg:pypi/pyyaml@5.3.1",
                "scope": "excluded",
                "components": [
                    {
                        "type": "library",
                        "name": "core",
                        "group": "@babel",
                        "purl": "pkg:npm/%40babel/core@7.24.0",
                        "licenses": [{"license": {"id": "MIT"}}],
                    }
                ],
            },
            {
                "type": "library",
                "name": "guava",
                "purl": "pkg:maven/com.google.guava/guava@32.1.3-jre",
            },
            {"type": "library", "name": "openssl", "purl": "pkg:deb/debian/openssl@3.0.11"},
            {"type": "library", "name": "no-purl"},
        ],
        "dependencies": [{"ref": "ref-1", "dependsOn": ["pkg:npm/%40babel/core@7.24.0"]}],
    }
    comps = {c.purl: c for c in components_from_sbom(doc)}
    assert set(comps) == {
        "pkg:pypi/pyyaml@5.3.1",
        "pkg:npm/%40babel/core@7.24.0",
        "pkg:maven/com.google.guava/guava@32.1.3-jre",
    }
    yaml = comps["pkg:pypi/pyyaml@5.3.1"]
    assert (yaml.name, yaml.version, yaml.ecosystem, yaml.scope) == (
        "PyYAML",
        "5.3.1",
        "PyPI",
        "dev",
    )
    assert yaml.dependencies == ("pkg:npm/%40babel/core@7.24.0",)
    babel = comps["pkg:npm/%40babel/core@7.24.0"]
    assert (babel.name, babel.licenses) == ("@babel/core", ("MIT",))
    assert comps["pkg:maven/com.google.guava/guava@32.1.3-jre"].name == "com.google.guava:guava"
    with pytest.raises(SbomError, match="not a CycloneDX"):
        components_from_sbom({"spdxVersion": "SPDX-2.3"})


def test_summary_for_the_readiness_gate(inventory):
    doc = render_sbom(inventory, repo="acme/shop", commit="c1")
    summary = sbom_summary(doc, inventory)
    assert summary == {
        "format": "cyclonedx",
        "spec_version": "1.6",
        "components": 8,
        "by_ecosystem": {"Go": 1, "PyPI": 2, "npm": 5},
        "by_scope": {"required": 7, "optional": 0, "dev": 1},
        "lockfiles": [
            "requirements.txt",
            "services/api/package-lock.json",
            "services/worker/go.mod",
            "services/worker/go.sum",
        ],
        "gaps": [
            {
                "code": "unpinned_requirement",
                "file": "requirements.txt",
                "line": 2,
                "message": inventory.gaps[0].message,
            }
        ],
        "valid": True,
        "validation_error": None,
    }
    doc["components"][0]["scope"] = "sometimes"
    broken = sbom_summary(doc, inventory)
    assert broken["valid"] is False and "/components/0/scope" in broken["validation_error"]


def test_an_empty_inventory_is_still_a_valid_sbom():
    doc = render_sbom(Inventory(), repo="acme/empty", commit="c0")
    validate_sbom(doc)
    assert doc["components"] == [] and doc["dependencies"] == [{"ref": ROOT_REF}]


def test_hand_built_components_with_unusual_hashes_stay_valid():
    comp = Component(
        name="left-pad",
        version="1.3.0",
        ecosystem="npm",
        purl="pkg:npm/left-pad@1.3.0",
        hashes=(("SHA-1", "0" * 40), ("yarn-checksum", "10c0/abc"), ("SHA-256", "short")),
        source="yarn.lock",
        line=3,
    )
    doc = render_sbom(Inventory(components={comp.purl: comp}), repo="r", commit="c")
    validate_sbom(doc)
    (item,) = doc["components"]
    assert item["hashes"] == [{"alg": "SHA-1", "content": "0" * 40}]
    assert props(item)["prodsprint:hash:yarn-checksum"] == ["10c0/abc"]
    assert props(item)["prodsprint:hash:SHA-256"] == ["short"]
