"""What the renderers need from an audit report: deployable services, datastores, secrets.

Every target renders from this one normalized view, so the three targets always agree on which
services ship, which env vars are secrets (names only: the audit never holds secret values and
neither does the plan) and why a service was left out. Names from the repository are untrusted
and end up as DNS labels, Terraform identifiers and AWS names, so they are reduced to a safe
alphabet here, once, with a short hash keeping distinct names distinct.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Any

from prodsprint_dagster.errors import ProdSprintError

TARGETS = ("aws", "kubernetes", "local")

DEPLOYABLE_ROLES = ("app", "frontend", "worker")
PUBLIC_ROLES = ("app", "frontend")
SQL_ENGINES = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mariadb",
}
REDIS_ENGINES = ("redis",)
_S3_ENV = re.compile(r"(^|_)(S3|BUCKET|AWS_STORAGE_BUCKET_NAME)(_|$)")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# How each migration tool applies pending migrations (run by the pre-deploy hook / one-off task).
MIGRATION_COMMANDS = {
    "alembic": "alembic upgrade head",
    "django": "python manage.py migrate --noinput",
    "rails": "bin/rails db:migrate",
    "prisma": "npx prisma migrate deploy",
    "flyway": "flyway migrate",
    "liquibase": "liquibase update",
    "knex": "npx knex migrate:latest",
    "sequelize": "npx sequelize-cli db:migrate",
    "typeorm": "npx typeorm migration:run",
    "goose": "goose up",
}


class PlanError(ProdSprintError):
    """The plan cannot be rendered: unknown target, nothing deployable, malformed input."""


@dataclass(frozen=True)
class Service:
    """One deployable service, with names safe for every target."""

    name: str
    slug: str
    ident: str
    role: str
    language: str | None
    root: str | None
    dockerfile: str | None
    build_context: str | None
    image: str | None
    port: int | None
    start_command: str | None
    has_health: bool
    env: tuple[tuple[str, str | None], ...]
    secrets: tuple[str, ...]
    migrations: tuple[tuple[str, str, str], ...] = ()

    @property
    def public(self) -> bool:
        return self.role in PUBLIC_ROLES and self.port is not None


@dataclass(frozen=True)
class Model:
    repo: str
    repo_slug: str
    commit: str
    services: tuple[Service, ...]
    sql_engine: str | None
    redis: bool
    s3: bool
    notes: tuple[dict[str, str], ...] = field(default=())


def slug(text: str, max_len: int = 40) -> str:
    """A DNS-1123 label; a hash suffix keeps truncated or rewritten names distinct."""
    base = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "svc"
    if not base[0].isalpha():
        base = "s-" + base
    if base == text and len(base) <= max_len:
        return base
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{base[: max_len - 7].rstrip('-')}-{digest}"


def ident(label: str) -> str:
    """A Terraform identifier (and Helm values key) from a slug."""
    return label.replace("-", "_")


def note(severity: str, code: str, message: str) -> dict[str, str]:
    return {"severity": severity, "code": code, "message": message}


def _migrations_for(audit: dict[str, Any], root: str | None) -> list[tuple[str, str, str]]:
    if root is None:
        return []
    out = []
    for mig in audit.get("migrations") or []:
        path = str(mig.get("path") or ".")
        if root == "." or path == root or path.startswith(root.rstrip("/") + "/"):
            tool = str(mig.get("tool") or "")
            command = MIGRATION_COMMANDS.get(tool)
            if tool == "golang-migrate":
                rel = posixpath.relpath(path, root) if root != "." else path
                command = f'migrate -path {rel} -database "$DATABASE_URL" up'
            if command:
                out.append((tool, path, command))
    return sorted(out)


def _irreversible_migration_notes(audit: dict[str, Any]) -> list[dict[str, str]]:
    """Warn before approval: a rollback moves the application back, never the database."""
    notes = []
    for mig in audit.get("migrations") or []:
        missing = [str(e).rsplit(":", 1)[0] for e in mig.get("without_down") or []]
        if not missing:
            continue
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        notes.append(
            note(
                "warning",
                "irreversible_migrations",
                f"{len(missing)} {mig.get('tool')} migration(s) in {mig.get('path')} have no down "
                f"step ({shown}): a rollback returns the application to the last good version "
                "but leaves the database migrated, so the old version must work with the new "
                "schema (expand/contract)",
            )
        )
    return notes


def _check_audit(audit: Any) -> None:
    if not isinstance(audit, dict):
        raise PlanError(f"audit report must be a JSON object, got {type(audit).__name__}")
    for key in ("services", "env_vars", "datastores"):
        if not isinstance(audit.get(key, []), list):
            raise PlanError(f"audit report field {key!r} must be a list")
    for i, svc in enumerate(audit.get("services") or []):
        if not isinstance(svc, dict) or not isinstance(svc.get("name"), str) or not svc["name"]:
            raise PlanError(f"audit report services[{i}] has no name")


def build_model(audit: dict[str, Any], *, repo: str, commit: str) -> Model:
    """Normalize the audit; raise :class:`PlanError` saying why when nothing is deployable."""
    _check_audit(audit)
    if not isinstance(repo, str) or not repo.strip():
        raise PlanError("repo must be a non-empty string")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9A-Za-z._-]{1,64}", commit):
        raise PlanError(f"commit {commit!r} is not a commit id or tag")
    notes: list[dict[str, str]] = []
    env_by_service: dict[str, list[tuple[str, str | None]]] = {}
    secrets_by_service: dict[str, list[str]] = {}
    s3 = False
    for var in audit.get("env_vars") or []:
        name = str(var.get("name", ""))
        if not _ENV_NAME.match(name):
            notes.append(note("warning", "env_name_invalid", f"env var {name!r} skipped"))
            continue
        s3 = s3 or bool(_S3_ENV.search(name))
        for svc in var.get("services") or []:
            if var.get("secret_like"):
                secrets_by_service.setdefault(svc, []).append(name)
            else:
                default = var.get("default")
                env_by_service.setdefault(svc, []).append(
                    (name, None if default is None else str(default))
                )

    services: list[Service] = []
    skipped: list[str] = []
    used: set[str] = set()
    for raw in sorted(audit.get("services") or [], key=lambda s: s["name"]):
        name, role = raw["name"], raw.get("role", "app")
        why = None
        if role not in DEPLOYABLE_ROLES:
            why = {
                "proxy": "a proxy (the load balancer / ingress takes its place)",
                "job": "a one-off job (migrations run as a pre-deploy hook instead)",
            }.get(role, f"of unknown role {role!r}")
        elif raw.get("root") is None and not raw.get("image"):
            why = "built by no directory of this tree and has no image"
        elif role in PUBLIC_ROLES and not raw.get("port"):
            why = "a web service with no known port (audit gap port_unknown)"
        if why:
            skipped.append(f"{name!r} is {why}")
            notes.append(
                note("warning", "service_skipped", f"service {name!r} not deployed: {why}")
            )
            continue
        label = slug(name)
        while label in used:
            label = slug(label + "-x")
        used.add(label)
        port = raw.get("port")
        env = sorted(set(env_by_service.get(name, [])))
        if port and not any(k == "PORT" for k, _ in env):
            env.append(("PORT", str(port)))
            env.sort()
        svc = Service(
            name=name,
            slug=label,
            ident=ident(label),
            role=role,
            language=raw.get("language"),
            root=raw.get("root"),
            dockerfile=raw.get("dockerfile"),
            build_context=raw.get("build_context"),
            image=raw.get("image") if raw.get("root") is None else None,
            port=int(port) if port else None,
            start_command=raw.get("start_command"),
            has_health=bool(raw.get("health_evidence")),
            env=tuple((k, v) for k, v in env if k != "PORT" or port),
            secrets=tuple(sorted(set(secrets_by_service.get(name, [])))),
            migrations=tuple(_migrations_for(audit, raw.get("root"))),
        )
        if svc.role in PUBLIC_ROLES and not svc.has_health:
            notes.append(
                note(
                    "warning",
                    "no_health_endpoint",
                    f"service {name!r} has no health evidence; the plan probes '/health'",
                )
            )
        services.append(svc)

    if not services:
        found = audit.get("services") or []
        if not found:
            reason = "the audit found no services (gap no_services)"
        else:
            reason = f"{len(found)} service(s) found but none deployable: " + "; ".join(skipped)
        raise PlanError(f"no deployable service in the audit of {repo!r}: {reason}")

    # Migrations of the whole tree run once, from the first service whose root holds them.
    seen: set[str] = set()
    deduped = []
    for svc in services:
        mine = tuple(m for m in svc.migrations if m[1] not in seen)
        seen.update(m[1] for m in mine)
        deduped.append(replace(svc, migrations=mine))

    notes.extend(_irreversible_migration_notes(audit))
    engines = sorted({str(d.get("engine")) for d in audit.get("datastores") or []})
    sql = [SQL_ENGINES[e] for e in engines if e in SQL_ENGINES]
    if len(set(sql)) > 1:
        notes.append(
            note("info", "several_sql_engines", f"engines {sorted(set(sql))}: using {sql[0]}")
        )
    for engine in engines:
        if engine not in SQL_ENGINES and engine not in REDIS_ENGINES and engine != "sqlite":
            notes.append(
                note(
                    "warning",
                    "datastore_not_provisioned",
                    f"datastore {engine!r} is not provisioned by the plan; provide it and "
                    "set its connection env vars",
                )
            )
    return Model(
        repo=repo,
        repo_slug=slug(repo.replace("__", "-").replace("_", "-").replace(".", "-"), 24),
        commit=commit,
        services=tuple(deduped),
        sql_engine=sql[0] if sql else None,
        redis=any(e in REDIS_ENGINES for e in engines),
        s3=s3 or "minio" in engines or "s3" in engines,
        notes=tuple(notes),
    )
