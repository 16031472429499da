"""Policy-driven switches for rendering, with defaults that suit a production environment.

Options arrive from prodsprint.yaml and the policy profile, i.e. from users, and many of them
end up inside HCL, YAML and AWS names, so each is type- and pattern-checked here.
"""

from __future__ import annotations

import re
from typing import Any

from prodsprint_dagster.plan.model import PlanError

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_AWS_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{2,62}$")
_CLASS = re.compile(r"^(db|cache)\.[a-z0-9]+\.[a-z0-9]+$")


def _defaults(env: str) -> dict[str, Any]:
    prod = env == "prod"
    return {
        "region": "us-east-1",
        "environment": env,
        "domain": "example.com",
        "cdn_waf": False,
        "nat_gateways": 2 if prod else 1,
        "desired_count": 2 if prod else 1,
        "task_cpu": 256,
        "task_memory": 512,
        "db_instance_class": "db.t4g.small",
        "db_storage_gb": 20,
        "db_multi_az": prod,
        "cache_node_type": "cache.t4g.small",
        "cache_nodes": 2 if prod else 1,
        "health_path": "/health",
        "error_ratio_max": 0.01,
        "p95_ms_max": 500,
        "state_bucket": None,
        "state_lock_table": "prodsprint-terraform-locks",
        "secrets_backend": "external-secrets",
        "prometheus_address": "http://prometheus-server.monitoring.svc.cluster.local:80",
        "ingress_class": "nginx",
    }


def resolve_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with ``options``; unknown keys and bad values raise :class:`PlanError`."""
    options = dict(options or {})
    env = options.get("environment", "prod")
    if not isinstance(env, str) or not _ENV.match(env):
        raise PlanError(f"option environment={env!r}: use 1-16 of a-z, 0-9, '-'")
    out = _defaults(env)
    unknown = sorted(set(options) - set(out))
    if unknown:
        raise PlanError(f"unknown plan option(s) {unknown}; known: {sorted(out)}")
    out.update(options)
    checks = [
        ("region", lambda v: isinstance(v, str) and _REGION.match(v), "an AWS region"),
        ("domain", lambda v: isinstance(v, str) and _DOMAIN.match(v), "a lower-case DNS name"),
        ("cdn_waf", lambda v: isinstance(v, bool), "true or false"),
        ("db_multi_az", lambda v: isinstance(v, bool), "true or false"),
        ("db_instance_class", lambda v: isinstance(v, str) and _CLASS.match(v), "db.x.y"),
        ("cache_node_type", lambda v: isinstance(v, str) and _CLASS.match(v), "cache.x.y"),
        ("state_lock_table", lambda v: isinstance(v, str) and _AWS_NAME.match(v), "a name"),
        (
            "state_bucket",
            lambda v: v is None or (isinstance(v, str) and _AWS_NAME.match(v)),
            "an S3 bucket name",
        ),
        ("health_path", lambda v: isinstance(v, str) and re.match(r"^/[\w./-]*$", v), "a path"),
        (
            "secrets_backend",
            lambda v: v in ("external-secrets", "secret"),
            "'external-secrets' or 'secret'",
        ),
        (
            "prometheus_address",
            lambda v: isinstance(v, str) and re.match(r"^https?://\S+$", v),
            "a URL",
        ),
        ("ingress_class", lambda v: isinstance(v, str) and _ENV.match(v), "a class name"),
        (
            "error_ratio_max",
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1,
            "a ratio in (0, 1)",
        ),
    ]
    for key in ("nat_gateways", "desired_count", "task_cpu", "task_memory", "db_storage_gb"):
        checks.append(
            (
                key,
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                "an integer >= 1",
            )
        )
    for key in ("cache_nodes", "p95_ms_max"):
        checks.append(
            (
                key,
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                "an integer >= 1",
            )
        )
    for key, ok, what in checks:
        if not ok(out[key]):
            raise PlanError(f"option {key}={out[key]!r} is not {what}")
    if out["nat_gateways"] > 2:
        raise PlanError("option nat_gateways must be 1 or 2 (the VPC spans two zones)")
    return out
