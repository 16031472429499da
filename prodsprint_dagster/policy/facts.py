"""Readiness inputs, normalized into the small, stable facts document the Rego rules read.

The assets that feed readiness come from different tools (coverage.py, OSV/Trivy, CycloneDX or
SPDX, the perf runner, the cost estimator), so each input is read here tolerantly, once, into
one shape (documented in docs/policies.md). The rules then stay short, and the facts stay small
enough that a decision takes milliseconds. A present input that cannot be read is recorded as
``malformed`` and fails its gates: never "not measured", never passed. Every list is sorted so
that the same inputs give the same facts.
"""

from __future__ import annotations

from typing import Any

from prodsprint_dagster.policy.rollout import BANDS

_DATA_KINDS = {
    "aws_db_instance": "database",
    "aws_rds_cluster": "database",
    "aws_dynamodb_table": "database",
    "aws_elasticache_replication_group": "cache",
    "aws_elasticache_cluster": "cache",
    "aws_s3_bucket": "bucket",
    "aws_ebs_volume": "volume",
    "aws_efs_file_system": "volume",
    "aws_sqs_queue": "queue",
}


_UNSAFE = str.maketrans({'"': "'", "\\": "/", **{chr(c): " " for c in range(32)}, "\x7f": " "})


def sanitize(value: Any) -> Any:
    """Every string with quotes, backslashes and control characters replaced.

    regopy 1.5 prints its results without escaping strings, so a quote in a file name would
    break the result document; repository-controlled text is made inert before Rego sees it.
    """
    if isinstance(value, str):
        return value.translate(_UNSAFE)
    if isinstance(value, dict):
        return {sanitize(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(v) for v in value]
    return value


class Malformed(ValueError):
    """An input is present but cannot be read; the message says what was expected."""


def _num(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} input is a {type(value).__name__}, expected a mapping")
    return value


def tests(value: Any) -> dict[str, Any]:
    doc = _dict(value, "tests")
    counts = {
        "passed": _num(_first(doc, "passed")),
        "failed": _num(_first(doc, "failed", "failures")),
        "errors": _num(_first(doc, "errors", "error")),
        "skipped": _num(_first(doc, "skipped")),
    }
    total = _num(_first(doc, "total", "tests", "collected"))
    if total is None and all(v is None for v in counts.values()):
        raise Malformed("tests input has none of total, passed, failed, errors")
    counts = {k: int(v or 0) for k, v in counts.items()}
    if total is None:
        total = sum(counts.values())
    return {**counts, "total": int(total)}


def coverage(value: Any) -> dict[str, Any]:
    if _num(value) is not None:
        return {"percent": float(value)}
    doc = _dict(value, "coverage")
    percent = _num(_first(doc, "percent", "line_percent", "percent_covered"))
    if percent is None and isinstance(doc.get("totals"), dict):
        percent = _num(doc["totals"].get("percent_covered"))
    if percent is None:
        raise Malformed("coverage input has no numeric `percent`")
    out: dict[str, Any] = {"percent": float(percent)}
    patch = _num(_first(doc, "patch_percent", "diff_percent", "patch"))
    if patch is not None:
        out["patch_percent"] = float(patch)
    return out


def _vuln(item: Any) -> dict[str, Any]:
    doc = _dict(item, "vulnerability finding")
    vid = _first(doc, "id", "vulnerability_id", "VulnerabilityID", "cve")
    if not isinstance(vid, str) or not vid:
        raise Malformed("a vulnerability finding has no `id`")
    package = _first(doc, "package", "package_name", "PkgName", "name")
    version = _first(doc, "version", "installed_version", "InstalledVersion")
    if isinstance(package, dict):
        version = version or package.get("version")
        package = package.get("name")
    severity = _first(doc, "severity", "Severity")
    if isinstance(severity, dict):
        severity = severity.get("level") or severity.get("severity")
    fixed = _first(doc, "fixed_version", "fix_version", "FixedVersion", "fixed_versions", "fixed")
    if isinstance(fixed, list):
        fixed = ", ".join(str(f) for f in fixed)
    return {
        "id": vid,
        "package": str(package or "?"),
        "version": str(version or "?"),
        "severity": str(severity or "UNKNOWN").upper(),
        "fix": f"fixed in {fixed}" if isinstance(fixed, str) and fixed else "no fixed version",
    }


def vulnerabilities(value: Any) -> list[dict[str, Any]]:
    items = value
    if isinstance(value, dict):
        items = _first(value, "findings", "vulnerabilities", "results", "matches")
        items = [] if items is None else items
    if not isinstance(items, list):
        raise Malformed("vulnerabilities input is not a list of findings")
    found = {(v["id"], v["package"], v["version"]): v for v in map(_vuln, items)}
    return [found[key] for key in sorted(found)]


def sbom(value: Any) -> dict[str, Any]:
    doc = _dict(value, "sbom")
    if str(doc.get("bomFormat", "")).lower() == "cyclonedx":
        components = doc.get("components") or []
        return {"format": "cyclonedx", "components": len(components)}
    if "spdxVersion" in doc:
        return {"format": "spdx", "components": len(doc.get("packages") or [])}
    fmt = str(doc.get("format") or "unknown").lower()
    fmt = "cyclonedx" if fmt.startswith("cyclonedx") else "spdx" if fmt.startswith("spdx") else fmt
    count = doc.get("components")
    if isinstance(count, list):
        count = len(count)
    count = _num(count) if count is not None else _num(doc.get("component_count"))
    return {"format": fmt, "components": int(count or 0)}


def audit(value: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(gaps, secrets) of an audit report; secret values are never in the report."""
    doc = _dict(value, "audit")
    gaps_in, secrets_in = doc.get("gaps", []), doc.get("secrets", [])
    if not isinstance(gaps_in, list) or not isinstance(secrets_in, list):
        raise Malformed("audit input: `gaps` and `secrets` must be lists")
    gaps = []
    for gap in gaps_in:
        gap = _dict(gap, "audit gap")
        code, service = str(gap.get("code") or "unknown"), gap.get("service")
        gaps.append(
            {
                "code": code,
                "severity": str(gap.get("severity") or "error"),
                "message": str(gap.get("message") or code),
                "service": service,
                "finding": f"{code}:{service}" if service else code,
                "remediation": str(gap.get("remediation") or ""),
            }
        )
    secrets = []
    for secret in secrets_in:
        secret = _dict(secret, "audit secret")
        line = _num(secret.get("line"))
        secrets.append(
            {
                "path": str(secret.get("path") or "?"),
                "line": int(line or 0),
                "kind": str(secret.get("kind") or "secret"),
                "in_test_or_example": bool(secret.get("in_test_or_example")),
            }
        )
    gaps.sort(key=lambda g: (g["finding"], g["severity"], g["message"]))
    secrets.sort(key=lambda s: (s["path"], s["line"], s["kind"]))
    return gaps, secrets


def _numbers(doc: Any) -> dict[str, float | int]:
    if not isinstance(doc, dict):
        return {}
    return {str(k): v for k, v in doc.items() if _num(v) is not None}


def perf(value: Any) -> dict[str, Any]:
    doc = _dict(value, "perf")
    metrics = {**_numbers(doc.get("summary")), **_numbers(doc.get("metrics")), **_numbers(doc)}
    if not metrics:
        raise Malformed("perf input has no numeric metrics (p95_ms, error_ratio, ...)")
    out: dict[str, Any] = {"metrics": dict(sorted(metrics.items()))}
    baseline = _numbers(doc.get("baseline"))
    if baseline:
        out["baseline"] = dict(sorted(baseline.items()))
    if isinstance(doc.get("routes"), list):
        out["routes"] = sorted(
            (
                {"service": str(r.get("service") or "*"), "route": str(r.get("route") or "?"),
                 **_numbers(r)}
                for r in doc["routes"]
                if isinstance(r, dict)
            ),
            key=lambda r: (r["service"], r["route"]),
        )  # fmt: skip
    if isinstance(doc.get("regressions"), list):
        out["regressions"] = sorted(
            (_regression(r) for r in doc["regressions"]
             if isinstance(r, dict) and isinstance(r.get("metric"), str)),
            key=lambda e: (e["metric"], e["service"], e["route"]),
        )  # fmt: skip
    return out


def _regression(raw: dict[str, Any]) -> dict[str, Any]:
    """One judged perf regression (Mann-Whitney + effect size), as the perf gate reads it."""
    entry: dict[str, Any] = {
        "metric": raw["metric"],
        "service": str(raw.get("service") or "*"),
        "route": str(raw.get("route") or "*"),
        "verdict": str(raw.get("verdict") or ""),
        "reason": None if raw.get("reason") is None else str(raw["reason"]),
    }
    for key in ("baseline", "value", "p_value", "effect"):
        entry[key] = _num(raw.get(key))
    return entry


def cost(value: Any) -> dict[str, Any]:
    if _num(value) is not None:
        return {"monthly_usd": float(value), "unknown": []}
    doc = _dict(value, "cost")
    monthly = _num(
        _first(
            doc,
            "monthly_usd",
            "monthly_total",
            "monthly_cost_usd",
            "total_monthly_usd",
            "monthly",
            "total",
        )
    )
    if monthly is None:
        raise Malformed("cost input has no numeric `monthly_usd`")
    out: dict[str, Any] = {"monthly_usd": float(monthly)}
    previous = _num(_first(doc, "previous_monthly_usd", "baseline_monthly_usd", "previous"))
    if previous is not None:
        out["previous_monthly_usd"] = float(previous)
    unknown = {str(u) for u in doc.get("unknown") or [] if u is not None}
    for resource in doc.get("resources") or []:
        if isinstance(resource, dict) and resource.get("monthly_usd", 0) is None:
            unknown.add(str(resource.get("address") or resource.get("name") or "?"))
    out["unknown"] = sorted(unknown)
    return out


def risk(value: Any, thresholds: dict[str, float]) -> dict[str, Any]:
    doc = {"score": value} if _num(value) is not None else _dict(value, "risk")
    score = _num(_first(doc, "score", "risk", "probability"))
    band = doc.get("band")
    if score is None and band is None:
        raise Malformed("risk input has neither `score` nor `band`")
    if band is None:
        band = (
            "high"
            if score >= thresholds.get("high", 0.7)
            else "medium"
            if score >= thresholds.get("medium", 0.3)
            else "low"
        )
    if band not in BANDS:
        raise Malformed(f"risk band {band!r} is not one of {', '.join(BANDS)}")
    out: dict[str, Any] = {"band": band}
    if score is not None:
        out["score"] = float(score)
    return out


def plan(value: Any) -> dict[str, Any]:
    doc = _dict(value, "plan")
    resources_in = doc.get("resources")
    if not isinstance(resources_in, list):
        raise Malformed("deploy plan lists no `resources`, so its controls cannot be checked")
    resources = []
    log_days = []
    for res in resources_in:
        res = _dict(res, "plan resource")
        res = {**_from_terraform_attributes(res), **res}
        rtype = str(res.get("type") or "")
        if rtype == "aws_cloudwatch_log_group" and res.get("retention_days") is not None:
            log_days.append(_num(res["retention_days"]))
        kind = res.get("kind") or _DATA_KINDS.get(rtype) or rtype or "unknown"
        out: dict[str, Any] = {
            "address": str(res.get("address") or res.get("name") or rtype or "?"),
            "kind": str(kind),
            "tags": {str(k): str(v) for k, v in (res.get("tags") or {}).items()},
        }
        out["classification"] = out["tags"].get("data_classification") or "none"
        if isinstance(res.get("encrypted"), bool):
            out["encrypted"] = res["encrypted"]
        days = _num(res.get("backup_retention_days"))
        if days is not None:
            out["backup_retention_days"] = days
        resources.append(out)
    resources.sort(key=lambda r: r["address"])
    facts: dict[str, Any] = {"resources": resources}
    logging = doc.get("logging") if isinstance(doc.get("logging"), dict) else {}
    days = _num(_first(logging, "retention_days")) or _num(doc.get("log_retention_days"))
    if days is None and log_days and None not in log_days:
        days = min(log_days)  # the shortest retention is the one that binds
    facts["logging"] = {"retention_days": days} if days is not None else {}
    return facts


def _from_terraform_attributes(res: dict[str, Any]) -> dict[str, Any]:
    """The control facts the deploy plan records as Terraform attributes (plan engine shape)."""
    attrs = res.get("attributes") if isinstance(res.get("attributes"), dict) else {}
    out: dict[str, Any] = {}
    for key in ("storage_encrypted", "at_rest_encryption_enabled", "encrypted"):
        if isinstance(attrs.get(key), bool):
            out["encrypted"] = attrs[key]
            break
    for key in ("backup_retention_period", "snapshot_retention_limit"):
        if attrs.get(key) is not None:
            out["backup_retention_days"] = attrs[key]
            break
    if isinstance(attrs.get("tags"), dict):
        out["tags"] = attrs["tags"]
    if attrs.get("retention_in_days") is not None:
        out["retention_days"] = attrs["retention_in_days"]
    return out


def environment(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Malformed("environment must be a name such as prod or staging")
    return "prod" if value.lower() in ("prod", "production") else value.lower()


def approvers(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed("approvers must be a list of names")
    names = {
        str(a.get("approver") if isinstance(a, dict) else a)
        for a in value
        if (a.get("approver") if isinstance(a, dict) else a)
    }
    return sorted(names)
