"""``audit_repository``: one walk, one read per file, then the report.

Files are dispatched by name and extension to the readers that care about them, so each file
is opened once whatever number of facts it yields. Nothing from the tree is executed; every
failure inside the tree becomes a gap or a ``skipped`` entry and the audit goes on.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.context
import os
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from prodsprint_dagster.audit import (
    code,
    containers,
    gaps,
    manifests,
    migrations,
    probe,
    secrets,
)
from prodsprint_dagster.audit.facts import EnvRef, Facts, PortLink
from prodsprint_dagster.audit.services import build_env_vars, build_services, build_tests
from prodsprint_dagster.audit.structured import load_xml
from prodsprint_dagster.audit.walk import (
    BINARY_EXT,
    GENERATED_MARKER,
    MAX_DEPTH,
    MAX_FILES,
    FileEntry,
    WalkResult,
    file_size,
    read_file,
    walk,
)
from prodsprint_dagster.errors import ProdSprintError

AUDIT_SCHEMA_VERSION = "1.0.0"
# Below this many files a process pool costs more to start than it saves.
POOL_MIN_FILES = 2000
_MAX_WORKERS = 8
_CHUNK_MIN, _CHUNK_MAX = 32, 2048
# Readers that look at facts from earlier files (package.json reads the root's deps): always
# run in the parent, between the records of the files around them.
_PARENT_ONLY = frozenset({"package.json"})
_log = logging.getLogger(__name__)
_LOCK_HEAD = 64 * 1024
_CODE_LANGS = frozenset(code._ENV_GUARD) | {"C", "C++", "Swift", "Dart", "Kotlin"}
_REQUIREMENTS = re.compile(r"^requirements([-_.\w]*)\.txt$|^(dev|test|prod|base)[-_\w]*\.txt$")
_JSONC = re.compile(
    r"^(tsconfig.*|jsconfig.*|\.eslintrc.*|\.babelrc|.*\.jsonc|devcontainer)\.?(json)?$"
)
_PY_TEST = re.compile(r"^(test_.*|.*_test)\.py$")
_PRISMA_PROVIDER = re.compile(
    r'provider\s*=\s*"(postgresql|mysql|sqlite|mongodb|sqlserver|cockroachdb)"'
)
_DJANGO_ENGINE = re.compile(r"django\.db\.backends\.(postgresql|mysql|sqlite3|oracle)\w*")
_RAILS_ADAPTER = re.compile(
    r"(?m)^\s*adapter:\s*(postgresql|postgis|mysql2|trilogy|sqlite3|sqlserver)"
)
_SPRING_PORT = re.compile(r"(?m)^\s*server\.port\s*[=:]\s*(\d{2,5})\s*$")
_SPRING_YAML_PORT = re.compile(r"(?m)^server:\s*\n(?:\s+\S.*\n)*?\s+port:\s*(\d{2,5})\b")
_SPRING_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::([^}]*))?\}")
_ENGINES = {
    "postgresql": "postgres",
    "postgis": "postgres",
    "mysql2": "mysql",
    "trilogy": "mysql",
    "sqlite3": "sqlite",
    "sqlserver": "mssql",
    "cockroachdb": "cockroachdb",
}
_ENV_FILES = frozenset({".env", ".env.local", ".env.production", ".env.prod", ".env.development"})
_CONFIG_EXT = frozenset({".ini", ".cfg", ".conf", ".properties", ".yml", ".yaml", ".toml", ".env"})
_SEVERITY = {"error": 0, "warning": 1, "info": 2}
# What the readers test, found for each file by the one probe pass (name, pattern, caseless).
# Every generated-file marker contains "enerat" (any case).
_PROBES: tuple[probe.Named, ...] = (
    *((name, pattern, False) for name, pattern in code.PROBES.items()),
    ("django.db.backends", rb"django\.db\.backends", False),
    ("enerat", b"enerat", True),
)
_MANIFEST_READERS = {
    "package.json": manifests.package_json,
    "pyproject.toml": manifests.pyproject,
    "Gemfile": manifests.gemfile,
    "go.mod": manifests.gomod,
    "pom.xml": manifests.pom,
    "build.gradle": manifests.gradle,
    "build.gradle.kts": manifests.gradle,
    "Cargo.toml": manifests.cargo,
    "composer.json": manifests.composer,
}


def audit_repository(
    root: Path,
    *,
    repo_name: str | None = None,
    commit: str | None = None,
    progress: Callable[[str], None] | None = None,
    max_files: int = MAX_FILES,
    max_depth: int = MAX_DEPTH,
    workers: int | None = None,
    pool_min_files: int = POOL_MIN_FILES,
) -> dict[str, Any]:
    """The audit report of the tree at ``root`` (see docs/audit.md for every field).

    Trees of ``pool_min_files`` files or more are read by ``workers`` processes (default: the
    usable CPUs, at most 8; 1 reads in this process); the report is the same either way.
    """
    root = Path(root)
    if not root.exists():
        raise ProdSprintError(f"audit root {root} does not exist")
    if not root.is_dir():
        raise ProdSprintError(f"audit root {root} is not a directory")
    name = repo_name or root.resolve().name or "repo"
    with _gc_paused():
        return _audit(root, name, commit, progress, max_files, max_depth, workers, pool_min_files)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off for the audit (and its forked workers).

    The audit allocates hundreds of thousands of small, acyclic objects (entries, strings,
    fact records); every collection pass walks all of them, finds nothing to free, and on a
    50,000-file tree costs about a third of the run. Reference counting still frees memory
    as usual; the collector's previous state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _audit(
    root: Path,
    name: str,
    commit: str | None,
    progress: Callable[[str], None] | None,
    max_files: int,
    max_depth: int,
    workers: int | None,
    pool_min_files: int,
) -> dict[str, Any]:
    say = progress or (lambda _msg: None)
    say(f"walking {root}")
    # Sizes are learnt when files are opened (by the workers), not by an lstat per file here.
    tree = walk(str(root), max_files=max_files, max_depth=max_depth, stat_files=False)
    say(f"{len(tree.files)} files to audit")
    facts = Facts(walk=tree, roots=_candidate_roots(tree))
    chart_dirs = {f.dir for f in tree.files if f.name == "Chart.yaml" and f.excluded is None}
    facts.helm_charts = chart_dirs
    n = len(tree.files)
    if workers is None:
        workers = _default_workers()
    total_bytes = 0
    with secrets.scanner() as gate:
        look = probe.build(gate, _PROBES)
        done = 0
        if workers > 1 and n >= max(pool_min_files, 1):
            done, total_bytes = _audit_in_pool(facts, chart_dirs, look, workers, say)
        files = tree.files
        for i in range(done, n):
            if i and i % 10000 == 0:
                say(f"read {i}/{n} files")
            total_bytes += _audit_file(facts, files[i], chart_dirs, look)
    say("assembling the report")
    return _report(facts, name, commit, total_bytes)


def _default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_WORKERS))


def _pool_context() -> multiprocessing.context.BaseContext | None:
    """fork on Linux (workers inherit the imported auditor); elsewhere no pool at all."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


# What forked workers inherit instead of receiving it pickled: the walk's file list, the
# candidate roots, chart dirs and the probe. Set only while a pool runs.
_JOB: dict[str, Any] = {}


def _chunks(n: int, workers: int) -> list[tuple[int, int]]:
    """Guided scheduling: each chunk is a share of what is left, so chunks shrink towards the
    end and the last ones finish together whatever the file sizes (unknown before reading)."""
    bounds = []
    lo = 0
    while lo < n:
        size = max(_CHUNK_MIN, min(_CHUNK_MAX, (n - lo) // (workers * 4)))
        bounds.append((lo, min(lo + size, n)))
        lo += size
    return bounds


def _audit_in_pool(
    facts: Facts, chart_dirs: set[str], look: probe.Probe, workers: int, say
) -> tuple[int, int]:
    """Read the files in worker processes; merge their facts here, in file order.

    Returns how many files (a prefix of ``facts.walk.files``) were audited and their bytes;
    the caller reads the rest sequentially, so a pool that cannot start or breaks midway costs
    time, not facts.
    """
    ctx = _pool_context()
    if ctx is None:
        return 0, 0
    files = facts.walk.files
    n = len(files)
    bounds = _chunks(n, workers)
    done = total = 0
    _JOB.update(files=files, roots=facts.roots, chart_dirs=chart_dirs, probe=look)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            try:
                results = pool.map(_worker_chunk, bounds)
                for (lo, hi), (segments, nbytes) in zip(bounds, results, strict=True):
                    for i in range(max(10000, -(-lo // 10000) * 10000), hi, 10000):
                        say(f"read {i}/{n} files")
                    total += nbytes + _merge_chunk(facts, segments, chart_dirs, look)
                    done = hi
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    except Exception as exc:  # no pool here (daemon process, no fork, ...): read the rest
        _log.info("audit worker pool stopped after %d files: %s", done, type(exc).__name__)
    finally:
        _JOB.clear()
    return done, total


def _merge_chunk(facts: Facts, segments: list, chart_dirs: set[str], look: probe.Probe) -> int:
    tree = facts.walk
    nbytes = 0
    for seg in segments:
        if isinstance(seg, int):  # a file whose reader looks at earlier facts: read it here
            nbytes += _audit_file(facts, tree.files[seg], chart_dirs, look)
            continue
        record, skipped, skipped_total = seg
        facts.absorb(record)
        for s in skipped:
            tree.skip(s["path"], s["reason"])
        tree.skipped_total += skipped_total - len(skipped)
    return nbytes


def _worker_chunk(bounds: tuple[int, int]) -> tuple[list, int]:
    """Facts of a run of files, as records for ``Facts.absorb`` (see ``_merge_chunk``), and
    the bytes of the files read here."""
    files, roots, chart_dirs, look = (_JOB[k] for k in ("files", "roots", "chart_dirs", "probe"))
    out: list = []
    part: Facts | None = None
    nbytes = 0
    for i in range(*bounds):
        entry = files[i]
        if entry.name in _PARENT_ONLY:
            if part is not None:
                out.append(_segment(part))
                part = None
            out.append(i)
            continue
        if part is None:
            part = Facts(walk=WalkResult(), roots=roots)
            part.helm_charts = chart_dirs
        nbytes += _audit_file(part, entry, chart_dirs, look)
    if part is not None:
        out.append(_segment(part))
    return out, nbytes


def _segment(part: Facts) -> tuple[dict[str, Any], list[dict], int]:
    return part.record(), part.walk.skipped, part.walk.skipped_total


def _candidate_roots(tree: WalkResult) -> list[str]:
    roots = {"."}
    for f in tree.files:
        name = f.name
        if f.excluded is None and (
            name in manifests.MANIFESTS or name == "Dockerfile" or name == "Procfile"
        ):
            roots.add(f.dir)
    return sorted(roots)


def _audit_file(facts: Facts, entry: FileEntry, chart_dirs: set[str], look: probe.Probe) -> int:
    """Read one file into ``facts``; returns its size in bytes."""
    name, ext, excluded = entry.name, entry.ext, entry.excluded
    if excluded == "vendored" or excluded == "generated":
        return file_size(entry.path)
    rel_dir = entry.dir
    owner = facts.owner(rel_dir)
    if name in manifests.LOCKFILES:
        if name == "bun.lockb":
            size, head = file_size(entry.path), None
        else:
            size, head = _read_head(entry.path)
        manifests.lockfile(facts, entry.rel, owner, name, head)
        return size
    if ext in BINARY_EXT:
        return file_size(entry.path)
    if ext == ".tf":
        facts.terraform_dirs.add(rel_dir)
    size, data, text = read_file(entry, facts.walk)
    if text is None:
        return size
    if excluded == "documentation":  # linguist: no language bytes, and no facts
        return size
    lang = code.language_of(name, ext)
    anchors, present = look.scan(data)  # type: ignore[arg-type]
    if lang:
        if (
            lang in _CODE_LANGS
            and "enerat" in present
            and "enerat" in text[:1024].lower()
            and GENERATED_MARKER.search(text, 0, 1024)
        ):
            return size
        facts.lang_bytes[lang] += size
        facts.code_lang_bytes[owner][lang] += size
    rel = entry.rel
    _dispatch(facts, entry, text, name, rel, rel_dir, ext, owner, lang, chart_dirs, present)
    if anchors or look.gate.always:
        found = secrets.scan(entry.path, rel, text, data, look.gate, anchors)  # type: ignore[arg-type]
        if found:
            facts.secrets.extend(found)
    return size


def _read_head(path: str) -> tuple[int, str | None]:
    """Size and first 64 KiB (as text) of a lockfile; (size, None) when unreadable."""
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError:
        return file_size(path), None
    try:
        size = os.fstat(fd).st_size
        return size, os.read(fd, _LOCK_HEAD).decode("utf-8", errors="replace")
    except OSError:
        return file_size(path), None
    finally:
        os.close(fd)


def _dispatch(
    facts: Facts,
    entry: FileEntry,
    text: str,
    name: str,
    rel: str,
    rel_dir: str,
    ext: str,
    owner: str,
    lang: str | None,
    chart_dirs: set[str],
    present: set[str],
) -> None:
    if lang in _CODE_LANGS and lang is not None:
        code.scan_code(facts, rel, owner, lang, text, present)
        if lang == "Python":
            _python_extras(facts, rel, name, rel_dir, owner, text, present)
        elif lang == "Go" and name.endswith("_test.go"):
            facts.test_hits.setdefault(("go", owner), f"{rel}:1")
        elif lang == "Ruby":
            if name.endswith("_spec.rb"):
                facts.test_hits.setdefault(("rspec", owner), f"{rel}:1")
            elif name.endswith("_test.rb") and "/test/" in f"/{rel}":
                facts.test_hits.setdefault(("minitest", owner), f"{rel}:1")
        elif lang in ("Java", "Kotlin") and "src/test/" in rel and "@Test" in text:
            facts.test_hits.setdefault(("junit", owner), f"{rel}:1")
        elif lang == "Rust" and ("#[test]" in text or "#[tokio::test]" in text):
            facts.test_hits.setdefault(("cargo", owner), f"{rel}:1")
        elif lang == "PHP" and name.endswith("Test.php"):
            facts.test_hits.setdefault(("phpunit", owner), f"{rel}:1")
        migrations.detect(facts, rel, name, rel_dir, ext, text)
        return
    if name == "Dockerfile" or name.startswith("Dockerfile.") or ext == ".dockerfile":
        containers.dockerfile(facts, rel, rel_dir, text)
        return
    if containers.is_compose_name(name):
        containers.compose(facts, rel, rel_dir, text)
        return
    if name == "Procfile":
        manifests.procfile(facts, rel, owner, text)
        return
    handler = _MANIFEST_READERS.get(name)
    if handler is not None:
        handler(facts, rel, owner, text)
        return
    if ext == ".txt" and (_REQUIREMENTS.match(name) or rel_dir.endswith("requirements")):
        manifests.requirements(facts, rel, owner, text)
        return
    if name in ("Pipfile", "setup.py", "setup.cfg", "mix.exs"):
        facts.manifests[owner].append(name)
        if name == "setup.cfg" and "[tool:pytest]" in text:
            facts.pytest_config.setdefault(owner, f"{rel}:1")
        return
    if name in ("pytest.ini", "conftest.py") or (name == "tox.ini" and "[pytest]" in text):
        facts.pytest_config.setdefault(owner, f"{rel}:1")
        return
    if name in manifests.ENV_EXAMPLES:
        manifests.env_example(facts, rel, text)
        code.scan_urls(facts, rel, text, present)
        return
    if name in _ENV_FILES:
        facts.env_files_committed.append(rel)
        manifests.env_example(facts, rel, text)
        code.scan_urls(facts, rel, text, present)
        return
    ci = manifests.CI_FILES.get(rel)
    if ci is None and rel.startswith(".github/workflows/") and ext in (".yml", ".yaml"):
        ci = "github-actions"
    if ci is not None:
        facts.ci.append({"system": ci, "path": rel})
    if ext == ".prisma":
        m = _PRISMA_PROVIDER.search(text)
        if m:
            engine = _ENGINES.get(m.group(1), m.group(1))
            facts.datastore_hits.append(
                (engine, f"{rel}:{text.count(chr(10), 0, m.start()) + 1}", None)
            )
        return
    if name.startswith("application") and ext in (".properties", ".yml", ".yaml"):
        _spring(facts, rel, owner, text)
    if rel.endswith("config/database.yml"):
        m = _RAILS_ADAPTER.search(text)
        if m:
            engine = _ENGINES.get(m.group(1), m.group(1))
            facts.datastore_hits.append(
                (engine, f"{rel}:{text.count(chr(10), 0, m.start()) + 1}", None)
            )
    if ext in (".yml", ".yaml"):
        if name == "Chart.yaml":
            return
        in_chart = any(rel_dir == d or rel_dir.startswith(d + "/") for d in chart_dirs)
        if not in_chart and not ("{{" in text and "}}" in text and ci is None):
            containers.yaml_manifest(facts, rel, text)
    elif ext == ".json" and not _JSONC.match(name):
        manifests.generic_json(facts, rel, text)
    elif ext == ".toml":
        manifests.generic_toml(facts, rel, text)
    elif ext in (".xml", ".csproj"):
        _, err = load_xml(text)
        if err is not None:
            facts.malformed(rel, "XML", err)
        elif ext == ".csproj":
            _csproj(facts, rel, owner, text)
        if name == "phpunit.xml" or name == "phpunit.xml.dist":
            facts.test_hits.setdefault(("phpunit", owner), f"{rel}:1")
    migrations.detect(facts, rel, name, rel_dir, ext, text)
    if ext in _CONFIG_EXT:
        code.scan_urls(facts, rel, text, present)


def _python_extras(
    facts: Facts, rel: str, name: str, rel_dir: str, owner: str, text: str, present: set[str]
) -> None:
    if name == "manage.py":
        facts.django_manage.setdefault(owner, f"{rel}:1")
        facts.manifests[owner].append("manage.py")
    if name == "conftest.py":
        facts.pytest_config.setdefault(owner, f"{rel}:1")
    in_tests = "/tests/" in f"/{rel_dir}/" or "/test/" in f"/{rel_dir}/"
    if _PY_TEST.match(name) or (name == "tests.py") or (in_tests and name.startswith("test")):
        facts.py_test_files.setdefault(owner, f"{rel}:1")
        if "import unittest" in text or "from unittest" in text:
            facts.unittest_roots.setdefault(owner, f"{rel}:1")
    if "django.db.backends" in present:
        for m in _DJANGO_ENGINE.finditer(text):
            engine = _ENGINES.get(m.group(1), m.group(1))
            facts.datastore_hits.append(
                (engine, f"{rel}:{text.count(chr(10), 0, m.start()) + 1}", None)
            )


def _spring(facts: Facts, rel: str, owner: str, text: str) -> None:
    for pattern in (_SPRING_PORT, _SPRING_YAML_PORT):
        m = pattern.search(text)
        if m:
            line = text.count("\n", 0, m.start(1)) + 1
            facts.code_ports[owner].append(
                PortLink("code_default", int(m.group(1)), (f"{rel}:{line}",))
            )
    for m in _SPRING_PLACEHOLDER.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        default = m.group(2)
        facts.env_refs.append(EnvRef(m.group(1), f"{rel}:{line}", "spring", default or None))
        if m.group(1) == "PORT" and default and default.isdigit():
            facts.code_ports[owner].append(
                PortLink("code_default", int(default), (f"{rel}:{line}",))
            )


def _csproj(facts: Facts, rel: str, owner: str, text: str) -> None:
    facts.manifests[owner].append("csproj")
    if "Microsoft.NET.Sdk.Web" in text:
        facts.frameworks[owner].setdefault("aspnetcore", f"{rel}:1")
    for fw in ("xunit", "nunit", "mstest"):
        if fw in text.lower():
            facts.test_hits.setdefault((fw, owner), f"{rel}:1")
            break


def _report(facts: Facts, name: str, commit: str | None, total_bytes: int) -> dict[str, Any]:
    tree = facts.walk
    services, datastores = build_services(facts, name)
    lang_total = sum(facts.lang_bytes.values()) or 1
    languages = [
        {"name": lang, "bytes": b, "percent": round(100.0 * b / lang_total, 2)}
        for lang, b in sorted(facts.lang_bytes.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    lockfiles = sorted(
        ({k: v for k, v in lf.items()} for lf in facts.lockfiles), key=lambda lf: lf["path"]
    )
    report: dict[str, Any] = {
        "schema_version": AUDIT_SCHEMA_VERSION,
        "repo": {
            "name": name,
            "commit": commit,
            "files": len(tree.files),
            "bytes": total_bytes,
            "excluded_dirs": tree.excluded_dirs,
            "truncated": tree.truncated,
        },
        "languages": languages,
        "services": services,
        "datastores": datastores,
        "env_vars": build_env_vars(facts, services),
        "migrations": migrations.finish(facts),
        "tests": build_tests(facts),
        "ci": sorted(facts.ci, key=lambda c: (c["path"], c["system"])),
        "lockfiles": lockfiles,
        "infra": {
            "dockerfiles": sorted(facts.dockerfiles),
            "compose": sorted(facts.compose_files),
            "kubernetes": [
                {"path": p, "kinds": sorted(k)} for p, k in sorted(facts.k8s_manifests.items())
            ],
            "helm_charts": sorted(facts.helm_charts),
            "terraform": sorted(facts.terraform_dirs),
        },
        "secrets": sorted(facts.secrets, key=lambda s: (s["path"], s["line"], s["kind"])),
    }
    gaps.compute(facts, report)
    report["gaps"] = sorted(
        facts.gaps,
        key=lambda g: (_SEVERITY[g["severity"]], g["code"], g.get("service") or "", g["message"]),
    )
    report["skipped"] = tree.skipped
    report["skipped_total"] = tree.skipped_total
    return report
