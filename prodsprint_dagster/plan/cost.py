"""Monthly cost of a plan from the shipped pricing catalogue and usage assumptions.

A resource the catalogue has no price for is *unknown* (``monthly: None`` with the reason),
never zero: a cost gate must not pass a plan because a price is missing. Resources the
catalogue lists as free are a known 0. Usage-driven charges (traffic, storage, requests) come
from ``data/usage-defaults.yml``, overridable Infracost-style per type or per address.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from prodsprint_dagster.plan.model import PlanError

_REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_]+)\.[a-z_]+\}$")


@cache
def _load_catalogue() -> str:
    return (resources.files("prodsprint_dagster.plan") / "data" / "pricing.json").read_text()


def load_catalogue() -> dict[str, Any]:
    """The pricing catalogue (a fresh copy; see its ``source`` and ``as_of``)."""
    return json.loads(_load_catalogue())


def load_usage_defaults() -> dict[str, Any]:
    text = (resources.files("prodsprint_dagster.plan") / "data" / "usage-defaults.yml").read_text()
    return yaml.safe_load(text)


class _Unknown(Exception):
    pass


def _price(table: dict[str, Any] | None, *keys: str) -> float:
    node: Any = table
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise _Unknown(f"no catalogue price for {'/'.join(keys)}")
        node = node[key]
    return float(node)


def _usage_for(resource: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    out = dict((usage.get("resource_type_default_usage") or {}).get(resource["type"]) or {})
    out.update((usage.get("resource_usage") or {}).get(resource["address"]) or {})
    return out


def _merge_usage(user: dict[str, Any] | None) -> dict[str, Any]:
    base = load_usage_defaults()
    if not user:
        return base
    if not isinstance(user, dict):
        raise PlanError("usage must be an object like data/usage-defaults.yml")
    merged = copy.deepcopy(base)
    for section in ("resource_type_default_usage", "resource_usage"):
        for key, values in (user.get(section) or {}).items():
            merged.setdefault(section, {}).setdefault(key, {}).update(values or {})
    return merged


def _k8s_quantity_cpu(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _k8s_quantity_gib(text: str) -> float:
    units = {"Mi": 1 / 1024, "Gi": 1.0, "M": 1e6 / 2**30, "G": 1e9 / 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text) / 2**30


class _Pricer:
    def __init__(self, plan: dict[str, Any], catalogue: dict[str, Any], usage: dict[str, Any]):
        self.plan = plan
        self.cat = catalogue
        self.hours = float(catalogue["hours_per_month"])
        self.region_name = (plan.get("options") or {}).get("region", "us-east-1")
        self.region = catalogue["regions"].get(self.region_name)
        self.usage = usage
        self.by_address = {r["address"]: r for r in plan.get("resources") or []}

    def _reg(self, *keys: str) -> float:
        if self.region is None:
            raise _Unknown(f"no catalogue prices for region {self.region_name}")
        return _price(self.region, *keys)

    def _glob(self, *keys: str) -> float:
        return _price(self.cat.get("global"), *keys)

    def price(self, res: dict[str, Any]) -> list[dict[str, Any]]:
        """Breakdown lines ``{"item", "quantity", "unit", "unit_price", "monthly"}``."""
        kind = res["type"]
        method = getattr(self, "_" + kind, None)
        if method is not None:
            return method(res, res.get("attributes") or {}, _usage_for(res, self.usage))
        if kind in self.cat.get("free", []):
            return []
        raise _Unknown(f"no catalogue entry for resource type {kind}")

    def line(self, item: str, quantity: float, unit: str, unit_price: float) -> dict[str, Any]:
        return {
            "item": item,
            "quantity": quantity,
            "unit": unit,
            "unit_price": unit_price,
            "monthly": round(quantity * unit_price, 4),
        }

    def _hourly(self, item: str, price: float, count: float = 1) -> dict[str, Any]:
        return self.line(item, count * self.hours, "hours", price)

    # --- aws ---------------------------------------------------------------------------------
    def _aws_ecs_service(self, res, attrs, usage):
        m = _REF.match(str(attrs.get("task_definition", "")))
        task = self.by_address.get(f"{m.group(1)}.{m.group(2)}") if m else None
        if task is None:
            raise _Unknown("task definition not found in the plan")
        t = task["attributes"]
        count = int(attrs.get("desired_count") or 0)
        vcpu, gib = float(t["cpu"]) / 1024, float(t["memory"]) / 1024
        return [
            self._hourly(
                f"Fargate vCPU ({count} x {vcpu} vCPU)",
                self._reg("fargate", "vcpu_hour"),
                count * vcpu,
            ),
            self._hourly(
                f"Fargate memory ({count} x {gib} GB)", self._reg("fargate", "gb_hour"), count * gib
            ),
        ]

    def _aws_lb(self, res, attrs, usage):
        lcu = float(usage.get("monthly_lcu_hours_per_hour", 1))
        out_gb = float(usage.get("monthly_outbound_gb", 0))
        return [
            self._hourly("Application load balancer", self._reg("alb", "hour")),
            self._hourly("Load balancer capacity units", self._reg("alb", "lcu_hour"), lcu),
            self.line("Data transfer out", out_gb, "GB", self._reg("data_transfer_out", "gb")),
        ]

    def _aws_nat_gateway(self, res, attrs, usage):
        gb = float(usage.get("monthly_processed_gb", 0))
        return [
            self._hourly("NAT gateway", self._reg("nat_gateway", "hour")),
            self.line("NAT data processed", gb, "GB", self._reg("nat_gateway", "gb_processed")),
        ]

    def _aws_eip(self, res, attrs, usage):
        return [self._hourly("Public IPv4 address", self._reg("public_ipv4", "hour"))]

    def _aws_db_instance(self, res, attrs, usage):
        engine, klass = str(attrs.get("engine")), str(attrs.get("instance_class"))
        copies = 2 if attrs.get("multi_az") else 1
        storage = float(attrs.get("allocated_storage") or 0)
        return [
            self._hourly(
                f"RDS {engine} {klass} x{copies}", self._reg("rds", engine, klass), copies
            ),
            self.line(
                "RDS gp3 storage",
                storage * copies,
                "GB-month",
                self._reg("rds", "storage_gp3_gb_month"),
            ),
        ]

    def _aws_elasticache_replication_group(self, res, attrs, usage):
        node, count = str(attrs.get("node_type")), int(attrs.get("num_cache_clusters") or 1)
        return [self._hourly(f"ElastiCache {node} x{count}", self._reg("elasticache", node), count)]

    def _aws_s3_bucket(self, res, attrs, usage):
        return [
            self.line(
                "S3 Standard storage",
                float(usage.get("storage_gb", 0)),
                "GB-month",
                self._reg("s3", "standard_gb_month"),
            ),
            self.line(
                "S3 PUT requests",
                float(usage.get("monthly_put_requests", 0)) / 1000,
                "1k requests",
                self._reg("s3", "put_per_1000"),
            ),
            self.line(
                "S3 GET requests",
                float(usage.get("monthly_get_requests", 0)) / 1000,
                "1k requests",
                self._reg("s3", "get_per_1000"),
            ),
        ]

    def _aws_secretsmanager_secret(self, res, attrs, usage):
        calls = float(usage.get("monthly_api_calls", 0))
        return [
            self.line("Secret", 1, "secret-month", self._reg("secrets_manager", "secret_month")),
            self.line(
                "API calls",
                calls / 10000,
                "10k calls",
                self._reg("secrets_manager", "api_per_10000"),
            ),
        ]

    def _aws_cloudwatch_metric_alarm(self, res, attrs, usage):
        return [self.line("Alarm", 1, "alarm-month", self._reg("cloudwatch", "alarm_month"))]

    def _aws_cloudwatch_log_group(self, res, attrs, usage):
        return [
            self.line(
                "Log ingestion",
                float(usage.get("monthly_ingest_gb", 0)),
                "GB",
                self._reg("cloudwatch", "logs_ingest_gb"),
            ),
            self.line(
                "Log storage",
                float(usage.get("storage_gb", 0)),
                "GB-month",
                self._reg("cloudwatch", "logs_storage_gb_month"),
            ),
        ]

    def _aws_ecr_repository(self, res, attrs, usage):
        return [
            self.line(
                "ECR storage",
                float(usage.get("storage_gb", 0)),
                "GB-month",
                self._reg("ecr", "storage_gb_month"),
            )
        ]

    def _aws_cloudfront_distribution(self, res, attrs, usage):
        return [
            self.line(
                "CloudFront data out",
                float(usage.get("monthly_outbound_gb", 0)),
                "GB",
                self._glob("cloudfront", "gb_out"),
            ),
            self.line(
                "CloudFront HTTPS requests",
                float(usage.get("monthly_https_requests", 0)) / 10000,
                "10k requests",
                self._glob("cloudfront", "https_per_10000"),
            ),
        ]

    def _aws_wafv2_web_acl(self, res, attrs, usage):
        rules = len(attrs.get("rule") or [])
        return [
            self.line("WAF web ACL", 1, "ACL-month", self._glob("waf", "web_acl_month")),
            self.line("WAF rules", rules, "rule-month", self._glob("waf", "rule_month")),
            self.line(
                "WAF requests",
                float(usage.get("monthly_requests", 0)) / 1e6,
                "1M requests",
                self._glob("waf", "requests_per_million"),
            ),
        ]

    # --- kubernetes --------------------------------------------------------------------------
    def _workload(self, res, attrs, usage):
        spec = attrs.get("spec") or {}
        replicas = int(spec.get("replicas") or 1)
        lines = []
        for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
            req = (c.get("resources") or {}).get("requests") or {}
            if "cpu" not in req or "memory" not in req:
                raise _Unknown(f"container {c.get('name')} has no cpu/memory requests")
            cpu, gib = _k8s_quantity_cpu(str(req["cpu"])), _k8s_quantity_gib(str(req["memory"]))
            lines.append(
                self._hourly(
                    f"{c['name']} CPU ({replicas} x {cpu})",
                    self._reg("kubernetes", "vcpu_hour"),
                    replicas * cpu,
                )
            )
            lines.append(
                self._hourly(
                    f"{c['name']} memory ({replicas} x {round(gib, 3)} GiB)",
                    self._reg("kubernetes", "gb_hour"),
                    replicas * gib,
                )
            )
        return lines

    _Rollout = _workload
    _Deployment = _workload


def estimate_cost(plan: dict[str, Any], *, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """Monthly cost per resource and in total; unknown prices are listed, never counted as 0."""
    if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
        raise PlanError("estimate_cost needs a plan from render_plan (with 'resources')")
    catalogue = load_catalogue()
    pricer = _Pricer(plan, catalogue, _merge_usage(usage))
    rows, unknown, total = [], [], 0.0
    for res in sorted(plan["resources"], key=lambda r: r["address"]):
        try:
            breakdown = pricer.price(res)
        except _Unknown as exc:
            rows.append(
                {
                    "address": res["address"],
                    "monthly": None,
                    "unknown_reason": str(exc),
                    "breakdown": [],
                }
            )
            unknown.append(res["address"])
            continue
        monthly = round(sum(line["monthly"] for line in breakdown), 4)
        total += monthly
        rows.append(
            {
                "address": res["address"],
                "monthly": monthly,
                "unknown_reason": None,
                "breakdown": breakdown,
            }
        )
    return {
        "currency": catalogue["currency"],
        "region": pricer.region_name,
        "catalogue": {"version": catalogue["catalogue_version"], "as_of": catalogue["as_of"]},
        "monthly_total": round(total, 2),
        "resources": rows,
        "unknown": unknown,
    }


def cost_diff(new_cost: dict[str, Any], old_cost: dict[str, Any] | None) -> dict[str, Any]:
    """Change in monthly cost against the last applied plan's estimate (None: nothing applied)."""
    old_rows = {r["address"]: r for r in (old_cost or {}).get("resources", [])}
    new_rows = {r["address"]: r for r in new_cost.get("resources", [])}
    old_total = float((old_cost or {}).get("monthly_total") or 0.0)
    new_total = float(new_cost.get("monthly_total") or 0.0)
    changes = []
    for address in sorted(set(old_rows) | set(new_rows)):
        old = old_rows.get(address, {}).get("monthly")
        new = new_rows.get(address, {}).get("monthly")
        if address in old_rows and address in new_rows and old == new:
            continue
        delta = (
            None
            if (old is None and address in old_rows) or (new is None and address in new_rows)
            else round((new or 0) - (old or 0), 4)
        )
        changes.append({"address": address, "old": old, "new": new, "delta": delta})
    return {
        "currency": new_cost.get("currency", "USD"),
        "monthly_total_old": round(old_total, 2),
        "monthly_total_new": round(new_total, 2),
        "delta": round(new_total - old_total, 2),
        "delta_percent": None
        if old_total == 0
        else round(100 * (new_total - old_total) / old_total, 2),
        "resources": changes,
        "unknown": sorted(
            set(new_cost.get("unknown", [])) | set((old_cost or {}).get("unknown", []))
        ),
    }
