"""Plan diff against the last applied plan: a unified diff, a resource summary, risk notes.

Reviewers read the unified diff; policy reads the summary and the risk notes. The notes name
the changes that deserve a human look even when every gate is green: a database that would be
destroyed or replaced, a new way in from the internet, a new secret someone must set, a
resize of a database, cache or task.
"""

from __future__ import annotations

import difflib
from typing import Any

DATABASE_TYPES = {
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_elasticache_replication_group",
    "aws_elasticache_cluster",
}
# Attributes whose change makes the provider replace the resource (destroy + create).
REPLACING_ATTRIBUTES = {
    "engine",
    "identifier",
    "db_name",
    "username",
    "storage_encrypted",
    "kms_key_id",
    "replication_group_id",
    "availability_zone",
    "at_rest_encryption_enabled",
}
SIZE_ATTRIBUTES = {"instance_class", "node_type", "cpu", "memory"}
PUBLIC_TYPES = {"aws_lb_listener", "aws_cloudfront_distribution", "Ingress"}
SECRET_TYPES = {"aws_secretsmanager_secret"}


def _unified(new_files: dict[str, str], old_files: dict[str, str]) -> str:
    chunks = []
    for path in sorted(set(new_files) | set(old_files)):
        old, new = old_files.get(path), new_files.get(path)
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"a/{path}" if old is not None else "/dev/null",
                tofile=f"b/{path}" if new is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)


def _is_database(res: dict[str, Any]) -> bool:
    return res["type"] in DATABASE_TYPES or (
        res["type"] == "terraform_data" and res["name"].startswith("datastore_")
    )


def _open_to_world(res: dict[str, Any]) -> bool:
    for rule in (res.get("attributes") or {}).get("ingress") or []:
        if isinstance(rule, dict) and "0.0.0.0/0" in (rule.get("cidr_blocks") or []):
            return True
    return False


def _is_public(res: dict[str, Any]) -> bool:
    attrs = res.get("attributes") or {}
    if res["type"] == "aws_lb":
        return attrs.get("internal") is not True
    if res["type"] == "Service":
        return (attrs.get("spec") or {}).get("type") in ("LoadBalancer", "NodePort")
    if res["type"] == "aws_security_group":
        return _open_to_world(res)
    return res["type"] in PUBLIC_TYPES


def _secret_names(res: dict[str, Any]) -> set[str]:
    attrs = res.get("attributes") or {}
    if res["type"] == "ExternalSecret":
        return {d.get("secretKey") for d in (attrs.get("spec") or {}).get("data") or []}
    if res["type"] == "terraform_data":
        return set((attrs.get("input") or {}).get("secret_names") or [])
    return set()


def _sizes(res: dict[str, Any]) -> dict[str, Any]:
    attrs = res.get("attributes") or {}
    out = {k: attrs[k] for k in SIZE_ATTRIBUTES if k in attrs}
    spec = (attrs.get("spec") or {}).get("template", {}).get("spec", {})
    for c in spec.get("containers") or [] if isinstance(spec, dict) else []:
        out[f"{c.get('name')}.resources"] = c.get("resources")
    return out


def _note(code: str, message: str, address: str) -> dict[str, str]:
    return {"code": code, "message": message, "address": address}


def diff_plans(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """Diff ``new`` against the last applied plan ``old`` (None: nothing applied yet)."""
    old = old or {"files": {}, "resources": []}
    new_res = {r["address"]: r for r in new.get("resources") or []}
    old_res = {r["address"]: r for r in old.get("resources") or []}
    added = sorted(set(new_res) - set(old_res))
    destroyed = sorted(set(old_res) - set(new_res))
    changed, changes = [], {}
    for address in sorted(set(new_res) & set(old_res)):
        a, b = old_res[address].get("attributes") or {}, new_res[address].get("attributes") or {}
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        if keys:
            changed.append(address)
            changes[address] = keys
    notes: list[dict[str, str]] = []
    for address in destroyed:
        if _is_database(old_res[address]):
            notes.append(
                _note("destructive_database_change", f"{address} would be destroyed", address)
            )
    for address in changed:
        before, after = old_res[address], new_res[address]
        if _is_database(after):
            forcing = sorted(set(changes[address]) & REPLACING_ATTRIBUTES)
            if forcing:
                notes.append(
                    _note(
                        "destructive_database_change",
                        f"{address} would be replaced (changes {', '.join(forcing)})",
                        address,
                    )
                )
            if (before.get("attributes") or {}).get("deletion_protection") and not (
                after.get("attributes") or {}
            ).get("deletion_protection"):
                notes.append(
                    _note(
                        "destructive_database_change",
                        f"{address} loses deletion protection",
                        address,
                    )
                )
        old_sizes, new_sizes = _sizes(before), _sizes(after)
        for key in sorted(set(old_sizes) | set(new_sizes)):
            if old_sizes.get(key) != new_sizes.get(key):
                notes.append(
                    _note(
                        "instance_class_change",
                        f"{address}: {key} {old_sizes.get(key)!r} -> {new_sizes.get(key)!r}",
                        address,
                    )
                )
        if _is_public(after) and not _is_public(before):
            notes.append(_note("new_public_ingress", f"{address} becomes public", address))
        new_secrets = sorted(_secret_names(after) - _secret_names(before))
        if new_secrets:
            notes.append(
                _note("secret_added", f"{address} needs new secret(s) {new_secrets}", address)
            )
    for address in added:
        res = new_res[address]
        if _is_public(res):
            notes.append(_note("new_public_ingress", f"{address} adds public ingress", address))
        if res["type"] in SECRET_TYPES or _secret_names(res):
            notes.append(
                _note(
                    "secret_added",
                    f"{address} adds a secret; set its value out of band before apply",
                    address,
                )
            )
    notes.sort(key=lambda n: (n["code"], n["address"], n["message"]))
    return {
        "unified": _unified(new.get("files") or {}, old.get("files") or {}),
        "summary": {"added": added, "changed": changed, "destroyed": destroyed},
        "changes": changes,
        "risk_notes": notes,
    }
