"""prodsprint.yaml: where ProdSprint keeps its data, which repositories it manages, which stores.

The file is the registry of record (reviewable in git, like any other platform config); the
CLI edits it in place. Loading validates everything up front so that a typo shows up as
"prodsprint.yaml: repos[1].branch: ..." instead of a failure deep inside a run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prodsprint_dagster.constants import CONFIG_ENV, CONFIG_FILENAME, DEFAULT_HOME, HOME_ENV
from prodsprint_dagster.errors import ConfigError, InvalidNameError
from prodsprint_dagster.names import validate_branch, validate_git_url, validate_repo_name

DeployTarget = Literal["local", "kubernetes", "aws"]
# libyaml's loader when present: the registry of a large organisation is read at every tick.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReleaseConfig(_Strict):
    """Release settings; the demo and benchmarks shorten soaks here, never in code."""

    soak_seconds: float | None = Field(None, gt=0)  # overrides every step's pause_seconds
    load_rps: float | None = Field(None, gt=0)  # generated load during analysis windows
    canary_judge: dict = Field(default_factory=dict)  # JudgePolicy overrides
    load_paths: tuple[str, ...] = ()  # routes the generated load requests (default: health, /)
    # Judge canaries on Prometheus data (PromQL over the proxy's metrics) instead of the
    # target's own counters; labels narrow the series (e.g. {environment: prod}).
    prometheus_url: str | None = None
    prometheus_labels: dict[str, str] = Field(default_factory=dict)


class RepoConfig(_Strict):
    """One registered repository; ``name`` is its partition key."""

    name: str
    url: str = Field(description="git URL or local path")
    branch: str = "main"
    team: str = "default"
    target: DeployTarget = "local"
    policy_pack: str = "default"
    release: ReleaseConfig | None = None  # per-repository release settings (e.g. the demo's)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _as_value_error(validate_repo_name, v)

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        return _as_value_error(validate_branch, v)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        # Resolution of relative paths happens in load_config, which knows the file's folder.
        _as_value_error(validate_git_url, v, base_dir=Path("/"))
        return v


class HistoryStoreConfig(_Strict):
    path: str = "history.duckdb"
    lock_timeout_seconds: float = Field(30.0, gt=0)


class ArtifactStoreConfig(_Strict):
    kind: Literal["local", "s3"] = "local"
    path: str = "artifacts"
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> ArtifactStoreConfig:
        if self.kind == "s3" and not self.bucket:
            raise ValueError("kind 's3' needs 'bucket'")
        return self


class StoresConfig(_Strict):
    history: HistoryStoreConfig = HistoryStoreConfig()
    artifacts: ArtifactStoreConfig = ArtifactStoreConfig()


class GitConfig(_Strict):
    timeout_seconds: float = Field(120.0, gt=0)
    head_lookup_workers: int = Field(16, ge=1, le=256)
    keep_worktrees: int = Field(5, ge=1)


class PolicyConfig(_Strict):
    """Where policy packs beyond the built-in default, soc2 and hipaa live."""

    pack_dirs: tuple[str, ...] = ()


class DeliveryConfig(_Strict):
    """How a rendered plan reaches the team: a branch in the mirror, optionally pushed + PR."""

    push_plan_branch: bool = False
    github_token_env: str = "GITHUB_TOKEN"  # noqa: S105 - the variable's name, not a token
    github_api_url: str = "https://api.github.com"


class SupplyConfig(_Strict):
    """Where vulnerability advisories come from (docs/vulnerabilities.md).

    ``osv_db`` is a directory of OSV JSON records or an OSV ``all.zip`` export (relative paths
    are read from the config file's folder); ``online`` asks OSV's API instead, through a cache
    under the home. With neither, the vulnerabilities gate is "not measured", never passed.
    """

    osv_db: str | None = None
    online: bool = False
    osv_api_url: str = "https://api.osv.dev"


class ProdSprintConfig(_Strict):
    """The whole file, with paths already resolved (see :func:`load_config`)."""

    home: str = DEFAULT_HOME
    repos: tuple[RepoConfig, ...] = ()
    stores: StoresConfig = StoresConfig()
    git: GitConfig = GitConfig()
    policy: PolicyConfig = PolicyConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    release: ReleaseConfig = ReleaseConfig()
    supply: SupplyConfig = SupplyConfig()
    # Where the file was read from (not part of the YAML).
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> ProdSprintConfig:
        seen: set[str] = set()
        for i, repo in enumerate(self.repos):
            if repo.name in seen:
                raise ValueError(f"repos[{i}].name: {repo.name!r} is registered twice")
            seen.add(repo.name)
        return self

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def dagster_home(self) -> Path:
        return self.home_path / "dagster"

    @property
    def history_path(self) -> Path:
        return _under(self.home_path, self.stores.history.path)

    @property
    def artifacts_path(self) -> Path:
        return _under(self.home_path, self.stores.artifacts.path)

    @property
    def git_path(self) -> Path:
        return self.home_path / "git"

    @property
    def osv_cache_path(self) -> Path:
        return self.home_path / "osv-cache"

    def repo(self, name: str) -> RepoConfig:
        for repo in self.repos:
            if repo.name == name:
                return repo
        known = ", ".join(r.name for r in self.repos) or "none"
        raise ConfigError(f"{self.source}: no repository named {name!r} (registered: {known})")


def config_path() -> Path:
    """The config file in force: $PRODSPRINT_CONFIG, else prodsprint.yaml in the working dir."""
    return Path(os.environ.get(CONFIG_ENV) or Path.cwd() / CONFIG_FILENAME).absolute()


def load_config(path: Path | None = None) -> ProdSprintConfig:
    """Read and validate the config; a missing file means all defaults (nothing registered)."""
    path = (path or config_path()).absolute()
    raw = read_raw(path)
    base = path.parent
    try:
        cfg = ProdSprintConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None
    home = Path(os.environ.get(HOME_ENV) or cfg.home).expanduser()
    home = home if home.is_absolute() else base / home
    repos = tuple(
        r.model_copy(update={"url": validate_git_url(r.url, base_dir=base)}) for r in cfg.repos
    )
    pack_dirs = tuple(str((base / Path(d).expanduser()).resolve()) for d in cfg.policy.pack_dirs)
    osv_db = cfg.supply.osv_db
    if osv_db:
        osv_db = str((base / Path(osv_db).expanduser()).resolve())
    return cfg.model_copy(
        update={
            "home": str(home.resolve()),
            "repos": repos,
            "source": str(path),
            "policy": cfg.policy.model_copy(update={"pack_dirs": pack_dirs}),
            "supply": cfg.supply.model_copy(update={"osv_db": osv_db}),
        }
    )


def read_raw(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(data).__name__}")
    return data


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = "".join(
            f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
            for i, p in enumerate(err["loc"])
        )
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/configuration.md)"
        lines.append(f"{key or '(top level)'}: {msg}")
    return f"{path}: " + "; ".join(lines)


def _as_value_error(fn, value, **kwargs):
    # pydantic reports ValueError with the key's location; our own errors carry the reason.
    try:
        return fn(value, **kwargs)
    except InvalidNameError as exc:
        raise ValueError(str(exc)) from None


def _under(home: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else home / p
