"""Schema migrations: which tool, where, how many, and whether each can be rolled back.

A deploy that cannot roll its schema back cannot roll back at all, so every migration file is
checked for a down step in the way its tool expresses one (alembic ``downgrade``, Rails
``change``/``down``, golang-migrate ``.down.sql``, Flyway ``U`` files, ...).
"""

from __future__ import annotations

import posixpath
import re

from prodsprint_dagster.audit.facts import Facts

_ALEMBIC_DOWN = re.compile(r"(?m)^def downgrade\([^)]*\)[^:]*:\s*\n((?:[ \t]+\S.*\n?|[ \t]*\n)*)")
_DJANGO_NAME = re.compile(r"^\d{4}_\w+\.py$")
_RAILS_NAME = re.compile(r"^\d+_\w+\.rb$")
_FLYWAY = re.compile(r"^([VUR])(\d+(?:[._]\d+)*)?__\w[\w.-]*\.sql$")
_GOMIGRATE = re.compile(r"^(\d+)_[\w.-]+\.(up|down)\.sql$")
_LIQUIBASE = re.compile(r"^db\.changelog[\w.-]*\.(xml|ya?ml|json|sql)$")
_JS_DOWN = re.compile(r"(\bdown\s*[:(]|exports\.down|function\s+down\b|async\s+down\b)")
_TRIVIAL = re.compile(r'^(\s*(pass|\.\.\.|#.*|"""[^"]*"""|\'\'\'[^\']*\'\'\')?\s*)*$')


def _add(facts: Facts, tool: str, path: str, rel: str, down: bool | None) -> None:
    entry = facts.migration_dirs.setdefault(
        (tool, path), {"count": 0, "with_down": 0, "evidence": [], "without_down": []}
    )
    if down is None:  # a companion file (e.g. a .down.sql or Flyway undo) only adds a down
        return
    entry["count"] += 1
    entry["evidence"].append(f"{rel}:1")
    if down:
        entry["with_down"] += 1
    else:
        entry["without_down"].append(f"{rel}:1")


def detect(facts: Facts, rel: str, name: str, rel_dir: str, ext: str, text: str) -> None:
    parent = rel_dir[rel_dir.rfind("/") + 1 :]  # posixpath.basename
    if ext == ".py":
        if parent == "versions" and "down_revision" in text and "revision" in text:
            m = _ALEMBIC_DOWN.search(text)
            down = bool(m) and not _TRIVIAL.match(m.group(1))
            _add(facts, "alembic", posixpath.dirname(rel_dir) or ".", rel, down)
        elif parent == "migrations" and _DJANGO_NAME.match(name) and "Migration" in text:
            irreversible = (
                re.search(r"RunPython\(\s*[\w.]+\s*\)", text) is not None
                or re.search(r"RunSQL\(\s*(?:sql\s*=\s*)?(['\"]).*?\1\s*\)", text, re.S) is not None
            )
            _add(facts, "django", rel_dir, rel, not irreversible)
        return
    if ext == ".rb" and rel_dir.endswith("db/migrate") and _RAILS_NAME.match(name):
        down = ("def down" in text) or (
            "def change" in text and "IrreversibleMigration" not in text
        )
        _add(facts, "rails", rel_dir, rel, down)
        return
    if ext in (".js", ".ts", ".cjs", ".mjs") and parent in ("migrations", "migration"):
        if "MigrationInterface" in text:
            tool = "typeorm"
        elif "queryInterface" in text or "Sequelize" in text:
            tool = "sequelize"
        elif "knex" in text:
            tool = "knex"
        else:
            return
        _add(facts, tool, rel_dir, rel, _JS_DOWN.search(text) is not None)
        return
    if ext == ".sql":
        if (
            name == "migration.sql"
            and posixpath.basename(posixpath.dirname(rel_dir)) == "migrations"
        ):
            _add(facts, "prisma", posixpath.dirname(rel_dir), rel, False)
            return
        if "+goose Up" in text:
            _add(
                facts, "goose", rel_dir, rel, re.search(r"\+goose Down\s*\n\s*\S", text) is not None
            )
            return
        if "migrate:up" in text:
            _add(
                facts,
                "dbmate",
                rel_dir,
                rel,
                re.search(r"migrate:down\s*\n\s*\S", text) is not None,
            )
            return
        m = _GOMIGRATE.match(name)
        if m:
            if m.group(2) == "up":
                _add(facts, "golang-migrate", rel_dir, rel, False)
            facts.migration_files.append(
                ("golang-migrate", rel_dir, m.group(1), m.group(2) == "down")
            )
            return
        m = _FLYWAY.match(name)
        if m and ("db/migration" in rel_dir or parent in ("migration", "migrations", "sql")):
            if m.group(1) == "U":
                facts.migration_files.append(("flyway", rel_dir, m.group(2) or "", True))
            else:
                facts.migration_files.append(("flyway", rel_dir, m.group(2) or "", False))
                _add(facts, "flyway", rel_dir, rel, m.group(1) == "R")
            return
    if _LIQUIBASE.match(name):
        count = len(re.findall(r"(?i)changeSet", text)) or 1
        rollbacks = len(re.findall(r"(?i)rollback", text))
        entry = facts.migration_dirs.setdefault(
            ("liquibase", rel_dir), {"count": 0, "with_down": 0, "evidence": [], "without_down": []}
        )
        entry["count"] += count
        entry["with_down"] += min(rollbacks, count)
        entry["evidence"].append(f"{rel}:1")
        if rollbacks < count:
            entry["without_down"].append(f"{rel}:1")


def finish(facts: Facts) -> list[dict]:
    """Pair companion down files with their up steps and produce the report entries."""
    downs = {(t, d, v) for t, d, v, is_down in facts.migration_files if is_down}
    ups = {(t, d, v) for t, d, v, is_down in facts.migration_files if not is_down}
    for (tool, path), entry in facts.migration_dirs.items():
        if tool in ("golang-migrate", "flyway"):
            paired = sum(1 for k in ups if k[0] == tool and k[1] == path and k in downs)
            entry["with_down"] = min(entry["count"], entry["with_down"] + paired)
            if entry["with_down"] >= entry["count"]:
                entry["without_down"] = []
    out = []
    for (tool, path), entry in sorted(facts.migration_dirs.items()):
        if entry["count"] == 0:
            continue
        out.append(
            {
                "tool": tool,
                "path": path,
                "count": entry["count"],
                "with_down": entry["with_down"],
                "has_down": entry["with_down"] == entry["count"],
                "evidence": sorted(entry["evidence"])[:20],
                "without_down": sorted(entry["without_down"])[:20],
            }
        )
    return out
