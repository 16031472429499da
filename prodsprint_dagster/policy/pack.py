"""Policy packs: a directory of Rego modules plus a pack.yaml with name, version and settings.

A pack may ``extends`` another (soc2 extends default, hipaa extends soc2): the parent's modules
are loaded first and its settings are the base the child's settings override key by key. Every
threshold a gate reads must be present and well typed once the chain is merged, because a
missing number would make a Rego rule silently undefined, and an undefined deny is a pass.

Packs are user input (prodsprint.yaml may name a pack directory): files are bounded in size
and count, symlinks are refused, and every error names the file.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from prodsprint_dagster.policy.errors import PolicyError
from prodsprint_dagster.policy.freeze import validate_windows
from prodsprint_dagster.policy.gates import GATES
from prodsprint_dagster.policy.rego import RegoPack
from prodsprint_dagster.policy.rollout import validate_rollout

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "policies" / "packs"
BUILTIN_PACKS: tuple[str, ...] = ("default", "soc2", "hipaa", "demo")
_MAX_FILE_BYTES = 1 << 20
_MAX_FILES = 200
_MAX_EXTENDS = 8

_NUM = (int, float)
# Settings each gate reads from `data.settings`, with their types.
REQUIRED_SETTINGS: dict[str, dict[str, tuple[type, ...]]] = {
    "tests": {"tests_min_total": (int,)},
    "coverage": {"coverage_min": _NUM, "patch_coverage_min": _NUM},
    "vulnerabilities": {
        "vulnerability_block_severities": (list,),
        "vulnerability_warn_severities": (list,),
    },
    "sbom": {"sbom_min_components": (int,)},
    "secrets": {"secrets_allow_in_tests": (bool,)},
    "perf": {"perf_budgets": (dict,), "perf_max_regression_pct": _NUM},
    "cost": {"cost_ceiling_usd_month": _NUM, "cost_max_increase_pct": _NUM},
    "risk": {"risk_block_score": _NUM, "risk_warn_bands": (list,), "risk_manual_bands": (list,)},
    "freeze_window": {"freeze_windows": (list,)},
    "audit": {"audit_ignore_gaps": (list,)},
    "encryption_at_rest": {"encryption_kinds": (list,)},
    "audit_log_retention": {"audit_log_retention_days_min": (int,)},
    "two_approvers_prod": {"prod_min_approvers": (int,)},
    "backup_retention": {"backup_retention_days_min": (int,), "backup_kinds": (list,)},
    "data_classification": {
        "data_classification_levels": (list,),
        "classification_kinds": (list,),
    },
}


@dataclass(frozen=True, eq=False)
class PolicyPack:
    """A loaded pack: its identity, its files, its merged settings and its compiled Rego."""

    name: str
    version: str
    description: str
    path: Path
    files: tuple[Path, ...]
    settings: dict[str, Any]
    gates: tuple[str, ...]
    digest: str
    chain: tuple[str, ...]
    rollout: dict[str, Any] = field(repr=False)
    freeze_windows: tuple[dict[str, Any], ...] = field(repr=False)
    rego: RegoPack = field(repr=False, compare=False)

    def identity(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "digest": self.digest}

    def not_measured_blocks(self, gate: str) -> bool:
        value = self.settings.get("not_measured_blocking", False)
        return gate in value if isinstance(value, list) else bool(value)

    def control(self, gate: str) -> str | None:
        return (self.settings.get("controls") or {}).get(gate)


def _read(path: Path) -> str:
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot be read: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise PolicyError(f"{path}: symlinks are not allowed in a policy pack")
    if not stat.S_ISREG(info.st_mode):
        raise PolicyError(f"{path}: not a regular file")
    if info.st_size > _MAX_FILE_BYTES:
        raise PolicyError(f"{path}: larger than {_MAX_FILE_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None


def _resolve(name_or_path: str, extra_dirs: Iterable[Path], near: Path | None) -> Path:
    """The directory of a pack: a built-in name, a path, or a name under an extra directory."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise PolicyError("policy pack name is empty")
    if name_or_path in BUILTIN_PACKS:
        return BUILTIN_DIR / name_or_path
    candidate = Path(name_or_path)
    if (candidate / "pack.yaml").is_file():
        return candidate
    if "/" not in name_or_path and "\\" not in name_or_path and ".." not in name_or_path:
        roots = [*extra_dirs, *([near] if near else [])]
        for root in roots:
            root = Path(root)
            if (root / name_or_path / "pack.yaml").is_file():
                return root / name_or_path
            if (root / "pack.yaml").is_file() and root.name == name_or_path:
                return root
    known = ", ".join(BUILTIN_PACKS)
    raise PolicyError(
        f"policy pack {name_or_path!r} not found: not a built-in pack ({known}), not a directory "
        "with a pack.yaml, and not under the extra pack directories"
    )


def _manifest(directory: Path) -> dict[str, Any]:
    path = directory / "pack.yaml"
    try:
        doc = yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise PolicyError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict):
        raise PolicyError(f"{path}: expected a mapping with name, version and description")
    for key in ("name", "version", "description"):
        if not isinstance(doc.get(key), str | int | float) or str(doc.get(key)).strip() == "":
            raise PolicyError(f"{path}: `{key}` is required")
    if doc.get("settings") is not None and not isinstance(doc.get("settings"), dict):
        raise PolicyError(f"{path}: `settings` must be a mapping")
    return doc


def _rego_files(directory: Path) -> list[Path]:
    files = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name.endswith(".rego") and not entry.name.endswith("_test.rego"):
            if entry.is_symlink():
                raise PolicyError(f"{entry.path}: symlinks are not allowed in a policy pack")
            files.append(Path(entry.path))
    if len(files) > _MAX_FILES:
        raise PolicyError(f"{directory}: more than {_MAX_FILES} Rego files")
    return files


def _check_settings(settings: dict[str, Any], gates: tuple[str, ...], where: str) -> None:
    for gate in gates:
        for key, types in REQUIRED_SETTINGS.get(gate, {}).items():
            value = settings.get(key)
            if value is None:
                raise PolicyError(f"{where}: gate {gate} needs setting `{key}`")
            if isinstance(value, bool) and bool not in types:
                raise PolicyError(f"{where}: setting `{key}` must be {types[0].__name__}")
            if not isinstance(value, types):
                raise PolicyError(f"{where}: setting `{key}` must be {types[0].__name__}")
    for key in ("advisory_gates",):
        value = settings.get(key, [])
        if not isinstance(value, list) or any(g not in GATES for g in value):
            raise PolicyError(f"{where}: `{key}` must be a list of gate names")
    blocking = settings.get("not_measured_blocking", False)
    if not isinstance(blocking, bool) and not (
        isinstance(blocking, list) and all(g in GATES for g in blocking)
    ):
        raise PolicyError(f"{where}: `not_measured_blocking` must be true, false or gate names")
    controls = settings.get("controls", {})
    if not isinstance(controls, dict) or not all(isinstance(v, str) for v in controls.values()):
        raise PolicyError(f"{where}: `controls` must map gate names to control ids")
    budgets = settings.get("perf_budgets", {})
    if not all(isinstance(v, _NUM) and not isinstance(v, bool) for v in budgets.values()):
        raise PolicyError(f"{where}: `perf_budgets` values must be numbers")


_CACHE: dict[str, PolicyPack] = {}
_CACHE_LOCK = threading.Lock()


def load_pack(name_or_path: str, *, extra_dirs: Iterable[Path] = ()) -> PolicyPack:
    """Load, validate and compile a pack (cached by content digest: build once, reuse)."""
    extra = [Path(d) for d in extra_dirs]
    chain: list[tuple[Path, dict[str, Any]]] = []
    target, near = name_or_path, None
    while target is not None:
        directory = _resolve(str(target), extra, near).resolve()
        if any(directory == seen for seen, _ in chain):
            raise PolicyError(f"{directory / 'pack.yaml'}: `extends` forms a cycle")
        if len(chain) >= _MAX_EXTENDS:
            raise PolicyError(f"{directory / 'pack.yaml'}: `extends` chain is too long")
        manifest = _manifest(directory)
        chain.append((directory, manifest))
        target, near = manifest.get("extends"), directory.parent
    chain.reverse()  # base first

    settings: dict[str, Any] = {}
    gates: tuple[str, ...] = ()
    modules: list[tuple[Path, str]] = []
    hasher = hashlib.sha256()
    for directory, manifest in chain:
        settings.update(manifest.get("settings") or {})
        if manifest.get("gates") is not None:
            gates = tuple(manifest["gates"]) if isinstance(manifest["gates"], list) else ()
            if not gates or any(not isinstance(g, str) for g in gates):
                raise PolicyError(f"{directory / 'pack.yaml'}: `gates` must list gate names")
        hasher.update(b"pack.yaml\0" + _read(directory / "pack.yaml").encode() + b"\0")
        for path in _rego_files(directory):
            source = _read(path)
            modules.append((path, source))
            hasher.update(path.name.encode() + b"\0" + source.encode() + b"\0")
    top_dir, top = chain[-1]
    where = str(top_dir / "pack.yaml")
    if not gates:
        raise PolicyError(f"{where}: no `gates` listed (in the pack or what it extends)")
    _check_settings(settings, gates, where)
    if not modules:
        raise PolicyError(f"{top_dir}: no .rego files")
    digest = "sha256:" + hasher.hexdigest()

    with _CACHE_LOCK:
        cached = _CACHE.get(digest)
        if cached is not None and cached.path == top_dir:
            return cached
    rollout = validate_rollout(settings.get("rollout"), where)
    windows = validate_windows(settings.get("freeze_windows"), where)
    rego_settings = {k: v for k, v in settings.items() if k not in ("rollout", "freeze_windows")}
    pack = PolicyPack(
        name=str(top["name"]),
        version=str(top["version"]),
        description=str(top["description"]).strip(),
        path=top_dir,
        files=tuple(path for path, _ in modules),
        settings=settings,
        gates=gates,
        digest=digest,
        chain=tuple(str(m["name"]) for _, m in chain),
        rollout=rollout,
        freeze_windows=tuple(windows),
        rego=RegoPack(str(top["name"]), modules, rego_settings),
    )
    with _CACHE_LOCK:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[digest] = pack
    return pack
