"""OSV matching: 20,000 components against 50,000 generated OSV records, load and match apart.

Records are generated with a realistic mix: seven ecosystems (PyPI and npm heaviest),
``introduced 0 / fixed`` ranges, bounded windows, two-range records, ``last_affected``, explicit
``versions`` lists, extra GIT ranges, CVE aliases shared by GHSA+PYSEC pairs, CVSS v3 vectors
or database severities. They are written as one OSV ``all.zip`` per ecosystem (the export
layout), and 60% of the components name a package that has advisories.

Reference figures measured in the same run:
- load: reading every zip member and ``json.loads`` (stdlib) of each record, i.e. the cost
  of merely decoding the export, and the same with ``orjson`` (what the loader uses);
- match: one dict look-up per component against a prebuilt (ecosystem, name) index, i.e. the
  floor of any indexed matcher (no version semantics at all).
Both references run with the garbage collector paused, as the loader and the matcher do.
"Cold" matching includes compiling the ranges of every package looked up (first match on a
freshly opened database); "warm" is a later match on the same database.

Prints a table on stderr and one JSON object on stdout.

    python benchmarks/bench_osv.py [--records 50000] [--components 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.supply.model import Component
from prodsprint_dagster.supply.osv import OsvDatabase, match_components
from prodsprint_dagster.supply.osv.gcpause import gc_paused

ECOSYSTEMS = [  # (name, share, purl type, range type)
    ("PyPI", 0.30, "pypi", "ECOSYSTEM"),
    ("npm", 0.30, "npm", "SEMVER"),
    ("Go", 0.10, "golang", "SEMVER"),
    ("Maven", 0.12, "maven", "ECOSYSTEM"),
    ("crates.io", 0.06, "cargo", "SEMVER"),
    ("RubyGems", 0.06, "gem", "ECOSYSTEM"),
    ("Packagist", 0.06, "composer", "ECOSYSTEM"),
]
VECTORS = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N",
    "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N",
    "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
]


def _version(rng: random.Random, eco: str) -> str:
    major, minor, patch = rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 20)
    if eco == "Go":
        return f"v{major}.{minor}.{patch}"
    if eco == "Maven" and rng.random() < 0.2:
        return f"{major}.{minor}.{patch}.{rng.randint(1, 3)}"
    return f"{major}.{minor}.{patch}"


def _bare(version: str) -> str:
    return version[1:] if version.startswith("v") else version


def _package_name(eco: str, i: int) -> str:
    if eco == "Go":
        return f"github.com/org{i % 97}/mod{i}"
    if eco == "Maven":
        return f"org.example{i % 53}:artifact-{i}"
    if eco == "Packagist":
        return f"vendor{i % 61}/package-{i}"
    if eco == "npm" and i % 5 == 0:
        return f"@scope{i % 41}/pkg-{i}"
    return f"pkg-{i}"


def _ranges(rng: random.Random, eco: str, range_type: str) -> dict:
    def v() -> str:
        return _bare(_version(rng, eco))

    lo, hi = sorted([v(), v()], key=lambda s: [int(p) for p in s.split(".")])
    shape = rng.random()
    affected: dict = {}
    if shape < 0.45:
        events = [{"introduced": "0"}, {"fixed": hi}]
    elif shape < 0.65:
        events = [{"introduced": lo}, {"fixed": hi}]
    elif shape < 0.80:
        a, b, c, d = sorted([v() for _ in range(4)], key=lambda s: [int(p) for p in s.split(".")])
        events = [{"introduced": a}, {"fixed": b}, {"introduced": c}, {"fixed": d}]
    elif shape < 0.88:
        events = [{"introduced": lo}, {"last_affected": hi}]
    else:
        events = [{"introduced": "0"}, {"fixed": hi}]
        affected["versions"] = sorted({v() for _ in range(rng.randint(5, 30))})
    rng.shuffle(events) if rng.random() < 0.1 else None
    affected["ranges"] = [{"type": range_type, "events": events}]
    if rng.random() < 0.1:
        git_events = [{"introduced": "0"}, {"fixed": "a" * 40}]
        affected["ranges"].append(
            {"type": "GIT", "repo": "https://example.test/r.git", "events": git_events}
        )
    return affected


def generate(records: int, components: int, seed: int = 7) -> tuple[dict, list[Component]]:
    rng = random.Random(seed)
    packages_per_eco = {}
    docs_by_eco: dict[str, list[dict]] = {eco: [] for eco, *_ in ECOSYSTEMS}
    cve = 0
    for eco, share, _purl, range_type in ECOSYSTEMS:
        count = int(records * share)
        packages = max(1, count // 3)
        packages_per_eco[eco] = packages
        i = 0
        while i < count:
            cve += 1
            pkg = _package_name(eco, rng.randrange(packages))
            twins = 2 if eco == "PyPI" and rng.random() < 0.2 and i + 1 < count else 1
            for twin in range(twins):
                rid = f"PYSEC-2024-{cve}" if twin else f"GHSA-{cve:04x}-bnch-{i % 9999:04d}"
                doc = {
                    "schema_version": "1.6.0", "id": rid, "modified": "2024-06-01T00:00:00Z",
                    "aliases": [f"CVE-2024-{cve}"] if rng.random() < 0.6 or twins > 1 else [],
                    "summary": f"Generated advisory {rid}", "details": "Generated.",
                    "affected": [{"package": {"ecosystem": eco, "name": pkg},
                                  **_ranges(rng, eco, range_type)}],
                    "references": [{"type": "ADVISORY", "url": f"https://example.test/{rid}"}],
                }  # fmt: skip
                roll = rng.random()
                if roll < 0.6:
                    doc["severity"] = [{"type": "CVSS_V3", "score": rng.choice(VECTORS)}]
                elif roll < 0.9:
                    doc["database_specific"] = {
                        "severity": rng.choice(["LOW", "MODERATE", "HIGH", "CRITICAL"])
                    }
                if rng.random() < 0.005:
                    doc["withdrawn"] = "2024-07-01T00:00:00Z"
                docs_by_eco[eco].append(doc)
                i += 1
    comps = []
    for n in range(components):
        eco, _share, purl_type, _rt = rng.choices(ECOSYSTEMS, [e[1] for e in ECOSYSTEMS])[0]
        index = rng.randrange(packages_per_eco[eco]) if rng.random() < 0.6 else 10**6 + n
        name = _package_name(eco, index)
        version = _version(rng, eco)
        comps.append(Component(name=name, version=version, ecosystem=eco,
                               purl=f"pkg:{purl_type}/{name}@{version}"))  # fmt: skip
    return docs_by_eco, comps


def write_zips(root: Path, docs_by_eco: dict[str, list[dict]]) -> int:
    total = 0
    for eco, docs in docs_by_eco.items():
        path = root / eco / "all.zip"
        path.parent.mkdir(parents=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for doc in docs:
                archive.writestr(f"{doc['id']}.json", json.dumps(doc))
                total += 1
    return total


def decode_all(root: Path, loads) -> int:
    count = 0
    for path in sorted(root.rglob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                loads(archive.read(info))
                count += 1
    return count


def floor_index(docs_by_eco: dict[str, list[dict]]) -> dict[tuple[str, str], list[str]]:
    index: dict[tuple[str, str], list[str]] = {}
    for docs in docs_by_eco.values():
        for doc in docs:
            for affected in doc["affected"]:
                package = affected["package"]
                index.setdefault((package["ecosystem"], package["name"]), []).append(doc["id"])
    return index


def lookup_floor(index: dict[tuple[str, str], list[str]], comps: list[Component]) -> int:
    return sum(1 for c in comps if index.get((c.ecosystem, c.name)))


def _median(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--components", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    docs_by_eco, comps = generate(args.records, args.components)
    index = floor_index(docs_by_eco)
    with tempfile.TemporaryDirectory(prefix="bench-osv-") as tmp:
        root = Path(tmp)
        written = write_zips(root, docs_by_eco)
        del docs_by_eco
        gc.collect()
        # The references run with the collector paused, as the loader and matcher do.
        with gc_paused():
            json_s, _ = _median(lambda: decode_all(root, json.loads), args.runs)
            orjson_s, _ = _median(lambda: decode_all(root, orjson.loads), args.runs)
            floor_s, with_advisories = _median(lambda: lookup_floor(index, comps), args.runs)
        load_s, db = _median(lambda: OsvDatabase.open(root), args.runs)

        cold_times = []
        for _ in range(args.runs):
            fresh = OsvDatabase.open(root)
            start = time.perf_counter()
            report = match_components(comps, fresh)
            cold_times.append(time.perf_counter() - start)
            del fresh
        match_s = statistics.median(cold_times)
        match_components(comps, db)  # compile every looked-up package once
        warm_s, _ = _median(lambda: match_components(comps, db), args.runs)

    result = {
        "records": written,
        "records_loaded": len(db),
        "components": len(comps),
        "components_with_advisories": with_advisories,
        "findings": len(report.findings),
        "counts": report.counts,
        "warnings": len(report.warnings),
        "load_s": round(load_s, 3),
        "decode_json_s": round(json_s, 3),
        "decode_orjson_s": round(orjson_s, 3),
        "load_ratio_to_json_decode": round(load_s / json_s, 2),
        "load_ratio_to_orjson_decode": round(load_s / orjson_s, 2),
        "match_cold_s": round(match_s, 3),
        "match_warm_s": round(warm_s, 3),
        "dict_lookup_floor_s": round(floor_s, 4),
        "match_cold_ratio_to_floor": round(match_s / floor_s, 1),
        "match_warm_ratio_to_floor": round(warm_s / floor_s, 1),
        "runs": args.runs,
    }
    rows = [
        ("read + json.loads every record (reference)", json_s, 1.0),
        ("read + orjson.loads every record", orjson_s, orjson_s / json_s),
        ("OsvDatabase.open (decode + index)", load_s, load_s / json_s),
        ("dict look-up per component (floor)", floor_s, None),
        ("match_components, cold (compiles ranges)", match_s, match_s / floor_s),
        ("match_components, warm (ranges compiled)", warm_s, warm_s / floor_s),
    ]
    print(f"{written} records, {len(comps)} components, {len(report.findings)} findings",
          file=sys.stderr)  # fmt: skip
    for label, seconds, ratio in rows:
        shown = "" if ratio is None else f"{ratio:8.2f}x"
        print(f"  {label:<46} {seconds:8.3f} s {shown}", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
