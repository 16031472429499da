"""SBOM wall time on generated lockfiles, and side by side with cyclonedx-py (cyclonedx-bom).

(1) In process, each stage timed separately (median of --runs): ``build_inventory`` (walk +
parse), ``render_sbom`` and ``validate_sbom``, for a package-lock.json v3 of 20,000 packages
and a poetry.lock of 2,000.

(2) Like with like, both as a fresh Python process (startup, imports, parse, render, write the
JSON file): ``cyclonedx-py requirements FILE`` and ``cyclonedx-py poetry DIR`` against this
engine run as a CLI (``bench_sbom.py --ours PATH --out FILE``), on the same requirements.txt
(2,000 pinned lines with hashes) and the same poetry project (2,000 locked packages). Measured
with validation on both sides (cyclonedx-py validates by default) and with it off on both
sides. The two component sets are compared purl by purl and every difference is classified.

(3) The reference this engine does not use for large documents: the same 2,000-component BOM
built through cyclonedx-python-lib's model and ``JsonV1Dot6``, and validated with its
``JsonStrictValidator``.

Prints a table on stderr and one JSON object on stdout.

    python benchmarks/bench_sbom.py [--npm 20000] [--poetry 2000] [--requirements 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CDX_PY = Path(sys.executable).with_name("cyclonedx-py")


def _sha(text: str, alg: str = "sha256") -> str:
    return hashlib.new(alg, text.encode()).hexdigest()


# ---------------------------------------------------------------- generators


def write_package_lock(root: Path, n: int) -> None:
    """A package-lock v3 shaped like a big app: hoisted and nested copies, dev and optional
    flags, integrity, licences and 0-4 dependencies each."""
    import base64

    rng = random.Random(6)
    names = [f"@scope{i % 40}/pkg-{i}" if i % 7 == 0 else f"pkg-{i}" for i in range(n)]
    packages: dict[str, dict] = {
        "": {"name": "big-app", "version": "1.0.0", "dependencies": {}, "devDependencies": {}}
    }
    for i, name in enumerate(names):
        nested = i % 25 == 24
        path = (
            f"node_modules/{names[i - 1]}/node_modules/{name}" if nested else f"node_modules/{name}"
        )
        entry: dict = {
            "version": f"{1 + i % 9}.{i % 17}.{i % 5}",
            "resolved": f"https://registry.npmjs.org/{name}/-/{name.rsplit('/', 1)[-1]}-1.0.0.tgz",
            "integrity": "sha512-"
            + base64.b64encode(hashlib.sha512(name.encode()).digest()).decode(),
            "license": "MIT" if i % 3 else "ISC",
        }
        deps = {names[j]: "^1.0.0" for j in rng.sample(range(n), rng.randint(0, 4)) if j != i}
        if deps:
            entry["dependencies"] = deps
        if i % 7 == 3:
            entry["dev"] = True
        elif i % 31 == 5:
            entry["optional"] = True
        packages[path] = entry
        if i < 300:
            packages[""]["dependencies" if i % 5 else "devDependencies"][name] = "^1.0.0"
    lock = {"name": "big-app", "version": "1.0.0", "lockfileVersion": 3, "requires": True}
    lock["packages"] = packages
    (root / "package-lock.json").write_text(json.dumps(lock, indent=2) + "\n")


def python_names(n: int) -> list[str]:
    """Distribution names; a few with dots and underscores, where PEP 503 normalization shows."""
    return [f"zope.part_{i}" if i % 200 == 7 else f"pypkg-{i}" for i in range(n)]


def write_poetry_project(root: Path, n: int) -> None:
    rng = random.Random(7)
    names = python_names(n)
    blocks = []
    incoming = [0] * n
    deps_of = []
    for i in range(n):
        picks = {rng.randrange(i + 1, n) for _ in range(3)} if i + 1 < n else set()
        deps = sorted(picks)[: rng.randint(0, 3)]
        deps_of.append(deps)
        for j in deps:
            incoming[j] += 1
    for i, name in enumerate(names):
        version = f"{1 + i % 7}.{i % 13}.{i % 3}"
        wheel, sdist = _sha(name + "w"), _sha(name + "s")
        block = (
            f'[[package]]\nname = "{name}"\nversion = "{version}"\ndescription = "generated"\n'
            'optional = false\npython-versions = ">=3.8"\nfiles = [\n'
            f'    {{file = "{name}-{version}-py3-none-any.whl", hash = "sha256:{wheel}"}},\n'
            f'    {{file = "{name}-{version}.tar.gz", hash = "sha256:{sdist}"}},\n]\n'
        )
        if deps_of[i]:
            block += "\n[package.dependencies]\n" + "".join(
                f'"{names[j]}" = ">=1"\n' for j in deps_of[i]
            )
        blocks.append(block)
    lock = "\n".join(blocks)
    lock += '\n[metadata]\nlock-version = "2.0"\npython-versions = "^3.11"\n'
    lock += f'content-hash = "{_sha("content")}"\n'
    (root / "poetry.lock").write_text(lock)
    roots = [i for i in range(n) if incoming[i] == 0]
    main = [names[i] for i in roots if i % 10]
    dev = [names[i] for i in roots if not i % 10]
    pyproject = (
        '[tool.poetry]\nname = "bench-app"\nversion = "1.0.0"\ndescription = ""\n'
        'authors = ["bench"]\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        + "".join(f'"{d}" = "*"\n' for d in main)
        + "\n[tool.poetry.group.dev.dependencies]\n"
        + "".join(f'"{d}" = "*"\n' for d in dev)
        + '\n[build-system]\nrequires = ["poetry-core"]\n'
        + 'build-backend = "poetry.core.masonry.api"\n'
    )
    (root / "pyproject.toml").write_text(pyproject)


def write_requirements(root: Path, n: int) -> None:
    lines = ["# generated like pip-compile --generate-hashes"]
    for i, name in enumerate(python_names(n)):
        lines.append(
            f"{name}=={1 + i % 7}.{i % 13}.{i % 3} \\\n"
            f"    --hash=sha256:{_sha(name + 'w')} \\\n"
            f"    --hash=sha256:{_sha(name + 's')}"
        )
    (root / "requirements.txt").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- our CLI side


def run_ours(path: Path, out: Path, validate: bool) -> None:
    """What `prodsprint sbom PATH --out FILE` does: inventory, render, validate, write."""
    from prodsprint_dagster.supply.inventory import build_inventory
    from prodsprint_dagster.supply.sbom import render_sbom, validate_sbom

    root = path if path.is_dir() else path.parent
    lockfiles = None if path.is_dir() else [path.name]
    inventory = build_inventory(root, lockfiles=lockfiles)
    doc = render_sbom(inventory, repo="bench", commit="0" * 40)
    if validate:
        validate_sbom(doc)
    out.write_text(json.dumps(doc))


# ---------------------------------------------------------------- measurements


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def in_process(directory: Path, runs: int) -> dict:
    from prodsprint_dagster.supply.inventory import build_inventory
    from prodsprint_dagster.supply.sbom import render_sbom, validate_sbom

    validate_sbom(render_sbom(build_inventory(directory), repo="warm", commit="up"))  # imports
    inv_s, inventory = median_time(lambda: build_inventory(directory), runs)
    render_s, doc = median_time(lambda: render_sbom(inventory, repo="bench", commit="c"), runs)
    validate_s, _ = median_time(lambda: validate_sbom(doc), runs)
    return {
        "components": len(doc["components"]),
        "inventory_s": round(inv_s, 3),
        "render_s": round(render_s, 3),
        "validate_s": round(validate_s, 3),
        "total_s": round(inv_s + render_s + validate_s, 3),
    }


def timed_process(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode:
            raise RuntimeError(f"{cmd[:3]} failed: {proc.stderr[-2000:]}")
    return statistics.median(times)


def compare_sets(ours_file: Path, theirs_file: Path) -> dict:
    from packageurl import PackageURL

    from prodsprint_dagster.supply.lockfiles import pep503

    def purls(path: Path) -> set[str]:
        doc = json.loads(path.read_text())
        return {PackageURL.from_string(c["purl"]).to_string() for c in doc["components"]}

    def canonical(purl: str) -> str:
        p = PackageURL.from_string(purl)
        name = pep503(p.name) if p.type == "pypi" else p.name
        return PackageURL(
            type=p.type, namespace=p.namespace, name=name, version=p.version
        ).to_string()

    ours, theirs = purls(ours_file), purls(theirs_file)
    only_ours, only_theirs = sorted(ours - theirs), sorted(theirs - ours)
    pep503_only = {canonical(p) for p in only_theirs} == set(only_ours) and all(
        canonical(p) != p for p in only_theirs
    )
    return {
        "components_ours": len(ours),
        "components_cyclonedx_py": len(theirs),
        "identical_purls": ours == theirs,
        "only_ours": only_ours[:5],
        "only_cyclonedx_py": only_theirs[:5],
        "differences": len(only_ours) + len(only_theirs),
        "differences_are_pep503_names_only": bool(only_theirs) and pep503_only,
        "identical_after_pep503": {canonical(p) for p in theirs} == {canonical(p) for p in ours},
    }


def side_by_side(kind: str, target: Path, work: Path, runs: int) -> dict:
    ours_out, theirs_out = work / f"ours-{kind}.json", work / f"theirs-{kind}.json"
    ours = [sys.executable, str(Path(__file__).resolve()), "--ours", str(target)]
    theirs = [str(CDX_PY), kind, str(target), "--output-reproducible", "-o"]
    result: dict = {"input": kind}
    ours_v = timed_process([*ours, "--out", str(ours_out)], runs)
    theirs_v = timed_process([*theirs, str(theirs_out)], max(1, runs // 3))
    ours_nv = timed_process([*ours, "--out", str(ours_out), "--no-validate"], runs)
    theirs_nv = timed_process([*theirs, str(theirs_out), "--no-validate"], runs)
    result.update(
        {
            "ours_s": round(ours_v, 3),
            "cyclonedx_py_s": round(theirs_v, 3),
            "speedup": round(theirs_v / ours_v, 2),
            "ours_no_validate_s": round(ours_nv, 3),
            "cyclonedx_py_no_validate_s": round(theirs_nv, 3),
            "speedup_no_validate": round(theirs_nv / ours_nv, 2),
        }
    )
    result.update(compare_sets(ours_out, theirs_out))
    return result


def library_reference(directory: Path) -> dict:
    """The same BOM through cyclonedx-python-lib's model/writer, and its JsonStrictValidator."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from packageurl import PackageURL

    from prodsprint_dagster.supply.inventory import build_inventory
    from prodsprint_dagster.supply.sbom import render_sbom

    doc = render_sbom(build_inventory(directory), repo="bench", commit="c")
    start = time.perf_counter()
    comps = {
        item["bom-ref"]: Component(
            type=ComponentType.LIBRARY,
            bom_ref=item["bom-ref"],
            name=item["name"],
            version=item.get("version"),
            scope=ComponentScope(item["scope"]),
            hashes=[
                HashType(alg=HashAlgorithm(h["alg"]), content=h["content"])
                for h in item.get("hashes", [])
            ],
            purl=PackageURL.from_string(item["purl"]),
            properties=[
                Property(name=p["name"], value=p["value"]) for p in item.get("properties", [])
            ],
        )
        for item in doc["components"]
    }
    root = Component(type=ComponentType.APPLICATION, bom_ref="root", name="bench", version="c")
    refs = {**{k: c.bom_ref for k, c in comps.items()}, doc["dependencies"][0]["ref"]: root.bom_ref}
    deps = [
        Dependency(
            ref=refs[d["ref"]],
            dependencies=[Dependency(ref=refs[t]) for t in d.get("dependsOn", [])],
        )
        for d in doc["dependencies"]
        if d["ref"] in refs
    ]
    bom = Bom(components=comps.values(), metadata=BomMetaData(component=root), dependencies=deps)
    text = JsonV1Dot6(bom).output_as_string()
    lib_render_s = time.perf_counter() - start
    start = time.perf_counter()
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    lib_validate_s = time.perf_counter() - start
    return {
        "components": len(doc["components"]),
        "library_model_and_JsonV1Dot6_s": round(lib_render_s, 3),
        "library_JsonStrictValidator_s": round(lib_validate_s, 3),
        "library_output_bytes": len(text),
        "library_validator_verdict": "valid" if error is None else str(error)[:200],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm", type=int, default=20_000)
    parser.add_argument("--poetry", type=int, default=2_000)
    parser.add_argument("--requirements", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-library-reference", action="store_true")
    parser.add_argument("--ours", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-validate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours is not None:  # the CLI side of the side-by-side runs
        run_ours(args.ours, args.out, validate=not args.no_validate)
        return
    if not CDX_PY.exists():
        sys.exit("cyclonedx-py is not installed: uv pip install 'cyclonedx-bom==7.5.0'")
    work = Path(tempfile.mkdtemp(prefix="bench-sbom-"))
    try:
        npm_dir, poetry_dir, req_dir = work / "npm", work / "poetry", work / "req"
        for d in (npm_dir, poetry_dir, req_dir):
            d.mkdir()
        write_package_lock(npm_dir, args.npm)
        write_poetry_project(poetry_dir, args.poetry)
        write_requirements(req_dir, args.requirements)
        result: dict = {
            f"sbom_package_lock_v3_{args.npm}": in_process(npm_dir, args.runs),
            f"sbom_poetry_lock_{args.poetry}": in_process(poetry_dir, args.runs),
            "vs_cyclonedx_py": [
                side_by_side("requirements", req_dir / "requirements.txt", work, args.runs),
                side_by_side("poetry", poetry_dir, work, args.runs),
            ],
        }
        if not args.skip_library_reference:
            result[f"library_reference_poetry_{args.poetry}"] = library_reference(poetry_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for key in (f"sbom_package_lock_v3_{args.npm}", f"sbom_poetry_lock_{args.poetry}"):
        r = result[key]
        print(
            f"{key:<32} {r['components']:>6} comps  inventory {r['inventory_s']:7.3f} s  "
            f"render {r['render_s']:7.3f} s  validate {r['validate_s']:7.3f} s",
            file=sys.stderr,
        )
    for r in result["vs_cyclonedx_py"]:
        print(
            f"{r['input']:<13} ours {r['ours_s']:7.3f} s  cyclonedx-py {r['cyclonedx_py_s']:7.3f} s"
            f"  x{r['speedup']:<6}  (no validation: {r['ours_no_validate_s']:.3f} vs "
            f"{r['cyclonedx_py_no_validate_s']:.3f} s, x{r['speedup_no_validate']})  "
            f"purls identical={r['identical_purls']} after PEP 503={r['identical_after_pep503']}",
            file=sys.stderr,
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
