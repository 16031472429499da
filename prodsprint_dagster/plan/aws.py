"""The ``aws`` target: Terraform for VPC, ECS Fargate behind an ALB, data stores, DNS/TLS, alarms.

Canary traffic on AWS is a weighted forward action on the ALB listener rule between a stable and
a canary target group, each served by its own ECS service. Terraform creates both at 100/0 and
ignores later changes of the weights and of the canary's task definition/count, because the
release engine moves them through boto3 step by step; a later ``apply`` must not undo a canary.
Secrets are Secrets Manager entries whose values are set out of band: no value is ever rendered.
"""

from __future__ import annotations

import hashlib
from typing import Any

from prodsprint_dagster.plan.hcl import Block, Call, Expr
from prodsprint_dagster.plan.model import Model, Service, ident, note
from prodsprint_dagster.plan.tf import TfModule

DIR = "terraform/aws"
ENGINE_VERSIONS = {"postgres": "16", "mysql": "8.0", "mariadb": "10.11"}
ENGINE_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}
ALL_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]


def aws_name(*parts: str, max_len: int = 32) -> str:
    """A lower-case AWS resource name within ``max_len``; a hash keeps truncated names unique."""
    name = "-".join(p for p in parts if p)
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: max_len - 7].rstrip('-')}-{digest}"


def _tags(model: Model, opts: dict[str, Any], service: Service | None = None) -> dict[str, str]:
    tags = {
        "Name": aws_name(
            model.repo_slug, opts["environment"], service.slug if service else "", max_len=128
        )
    }
    if service:
        tags["Service"] = service.name
    return tags


def hostname(svc: Service, opts: dict[str, Any]) -> str:
    return f"{svc.slug}.{base_domain(opts)}"


def base_domain(opts: dict[str, Any]) -> str:
    env = opts["environment"]
    return opts["domain"] if env == "prod" else f"{env}.{opts['domain']}"


def _priority(svc: Service, taken: set[int]) -> int:
    """A listener-rule priority derived from the name, so adding a service moves no other rule."""
    prio = int(hashlib.sha256(svc.slug.encode()).hexdigest(), 16) % 40000 + 1
    while prio in taken:
        prio += 1
    taken.add(prio)
    return prio


def render_aws(model: Model, opts: dict[str, Any], notes: list[dict[str, str]]) -> TfModule:
    tf = TfModule(DIR)
    env = opts["environment"]
    prefix = aws_name(model.repo_slug, env, max_len=20)
    _versions(tf, model, opts, prefix)
    _network(tf, model, opts)
    publics = [s for s in model.services if s.public]
    if publics:
        _alb(tf, model, opts, prefix, publics)
        _dns(tf, opts, publics)
        if opts["cdn_waf"]:
            _cdn(tf, model, opts, prefix, publics)
    secrets = _secrets(tf, model, opts)
    _ecs(tf, model, opts, prefix, secrets, notes)
    _datastores(tf, model, opts, prefix, notes)
    _monitoring(tf, model, opts, prefix, publics)
    _outputs(tf, model, opts, publics)
    return tf


def _versions(tf: TfModule, model: Model, opts: dict[str, Any], prefix: str) -> None:
    terraform = tf.block("versions.tf", "terraform")
    terraform.attr("required_version", ">= 1.5")
    terraform.block("required_providers").attr(
        "aws", {"source": "hashicorp/aws", "version": "~> 5.60"}
    )
    backend = terraform.block("backend", "s3")
    backend.attr("bucket", opts["state_bucket"] or aws_name(prefix, "tfstate", max_len=63))
    backend.attr("key", f"prodsprint/{model.repo_slug}/{opts['environment']}/terraform.tfstate")
    backend.attr("region", opts["region"])
    backend.attr("dynamodb_table", opts["state_lock_table"])
    backend.attr("encrypt", True)
    tags = {"ManagedBy": "prodsprint", "Repository": model.repo, "Environment": opts["environment"]}
    provider = tf.block("versions.tf", "provider", "aws")
    provider.attr("region", Expr("var.region"))
    provider.block("default_tags").attr("tags", tags)
    if opts["cdn_waf"]:
        edge = tf.block("versions.tf", "provider", "aws")
        edge.attr("alias", "us_east_1").attr("region", "us-east-1")
        edge.block("default_tags").attr("tags", tags)
    for name, type_, default, desc in (
        ("region", "string", opts["region"], "AWS region of every regional resource"),
        ("environment", "string", opts["environment"], "Environment name used in names and tags"),
        ("domain", "string", opts["domain"], "Route53 hosted zone that serves the services"),
        ("image_tag", "string", model.commit, "Image tag (the commit) deployed as stable"),
    ):
        var = tf.block("variables.tf", "variable", name)
        var.attr("type", Expr(type_)).attr("default", default).attr("description", desc)


def _network(tf: TfModule, model: Model, opts: dict[str, Any]) -> None:
    f = "network.tf"
    tf.block(f, "data", "aws_availability_zones", "available").attr("state", "available")
    tf.resource(f, "aws_vpc", "main").attr("cidr_block", "10.0.0.0/16").attr(
        "enable_dns_hostnames", True
    ).attr("enable_dns_support", True).attr("tags", _tags(model, opts))
    tf.resource(f, "aws_internet_gateway", "main").attr("vpc_id", Expr("aws_vpc.main.id"))
    for i in range(2):
        az = Expr(f"data.aws_availability_zones.available.names[{i}]")
        tf.resource(f, "aws_subnet", f"public_{i}").attr("vpc_id", Expr("aws_vpc.main.id")).attr(
            "cidr_block", f"10.0.{i}.0/24"
        ).attr("availability_zone", az).attr("map_public_ip_on_launch", False).attr(
            "tags", {"Tier": "public"}
        )
        tf.resource(f, "aws_subnet", f"private_{i}").attr("vpc_id", Expr("aws_vpc.main.id")).attr(
            "cidr_block", f"10.0.{10 + i}.0/24"
        ).attr("availability_zone", az).attr("tags", {"Tier": "private"})
    public_rt = tf.resource(f, "aws_route_table", "public").attr("vpc_id", Expr("aws_vpc.main.id"))
    public_rt.block("route").attr("cidr_block", "0.0.0.0/0").attr(
        "gateway_id", Expr("aws_internet_gateway.main.id")
    )
    nats = opts["nat_gateways"]
    for i in range(nats):
        tf.resource(f, "aws_eip", f"nat_{i}").attr("domain", "vpc")
        tf.resource(f, "aws_nat_gateway", f"nat_{i}").attr(
            "allocation_id", Expr(f"aws_eip.nat_{i}.id")
        ).attr("subnet_id", Expr(f"aws_subnet.public_{i}.id")).attr(
            "depends_on", [Expr("aws_internet_gateway.main")]
        )
    for i in range(2):
        tf.resource(f, "aws_route_table_association", f"public_{i}").attr(
            "subnet_id", Expr(f"aws_subnet.public_{i}.id")
        ).attr("route_table_id", Expr("aws_route_table.public.id"))
        rt = tf.resource(f, "aws_route_table", f"private_{i}").attr(
            "vpc_id", Expr("aws_vpc.main.id")
        )
        rt.block("route").attr("cidr_block", "0.0.0.0/0").attr(
            "nat_gateway_id", Expr(f"aws_nat_gateway.nat_{min(i, nats - 1)}.id")
        )
        tf.resource(f, "aws_route_table_association", f"private_{i}").attr(
            "subnet_id", Expr(f"aws_subnet.private_{i}.id")
        ).attr("route_table_id", Expr(f"aws_route_table.private_{i}.id"))


def _egress(block: Block) -> None:
    block.block("egress").attr("from_port", 0).attr("to_port", 0).attr("protocol", "-1").attr(
        "cidr_blocks", ["0.0.0.0/0"]
    )


def _alb(
    tf: TfModule, model: Model, opts: dict[str, Any], prefix: str, publics: list[Service]
) -> None:
    f = "alb.tf"
    sg = tf.resource(f, "aws_security_group", "alb").attr(
        "name", aws_name(prefix, "alb", max_len=255)
    )
    sg.attr("description", "Public HTTPS ingress to the load balancer").attr(
        "vpc_id", Expr("aws_vpc.main.id")
    )
    for port in (80, 443):
        sg.block("ingress").attr(
            "description", f"HTTP{'S' if port == 443 else ''} from anywhere"
        ).attr("from_port", port).attr("to_port", port).attr("protocol", "tcp").attr(
            "cidr_blocks", ["0.0.0.0/0"]
        )
    _egress(sg)
    lb = tf.resource(f, "aws_lb", "main").attr("name", aws_name(prefix, "alb"))
    lb.attr("internal", False).attr("load_balancer_type", "application").attr(
        "security_groups", [Expr("aws_security_group.alb.id")]
    ).attr("subnets", [Expr("aws_subnet.public_0.id"), Expr("aws_subnet.public_1.id")]).attr(
        "drop_invalid_header_fields", True
    ).attr("enable_deletion_protection", opts["environment"] == "prod")
    http = tf.resource(f, "aws_lb_listener", "http").attr(
        "load_balancer_arn", Expr("aws_lb.main.arn")
    )
    http.attr("port", 80).attr("protocol", "HTTP")
    action = http.block("default_action").attr("type", "redirect")
    action.block("redirect").attr("port", "443").attr("protocol", "HTTPS").attr(
        "status_code", "HTTP_301"
    )
    https = tf.resource(f, "aws_lb_listener", "https").attr(
        "load_balancer_arn", Expr("aws_lb.main.arn")
    )
    https.attr("port", 443).attr("protocol", "HTTPS").attr(
        "ssl_policy", "ELBSecurityPolicy-TLS13-1-2-2021-06"
    ).attr("certificate_arn", Expr("aws_acm_certificate_validation.main.certificate_arn"))
    fixed = https.block("default_action").attr("type", "fixed-response")
    fixed.block("fixed_response").attr("content_type", "text/plain").attr(
        "message_body", "not found"
    ).attr("status_code", "404")
    taken: set[int] = set()
    for svc in publics:
        for track in ("stable", "canary"):
            tg = tf.resource(f, "aws_lb_target_group", f"{svc.ident}_{track}", service=svc.name)
            tg.attr("name", aws_name(prefix, svc.slug, track[0]))
            tg.attr("port", svc.port).attr("protocol", "HTTP").attr("target_type", "ip").attr(
                "vpc_id", Expr("aws_vpc.main.id")
            ).attr("deregistration_delay", 30)
            tg.block("health_check").attr("path", opts["health_path"]).attr(
                "matcher", "200-399"
            ).attr("interval", 15).attr("healthy_threshold", 2).attr("unhealthy_threshold", 3)
        rule = tf.resource(f, "aws_lb_listener_rule", svc.ident, service=svc.name)
        rule.attr("listener_arn", Expr("aws_lb_listener.https.arn")).attr(
            "priority", _priority(svc, taken)
        )
        fwd = rule.block("action").attr("type", "forward").block("forward")
        for track, weight in (("stable", 100), ("canary", 0)):
            fwd.block("target_group").attr(
                "arn", Expr(f"aws_lb_target_group.{svc.ident}_{track}.arn")
            ).attr("weight", weight)
        fwd.block("stickiness").attr("enabled", False).attr("duration", 60)
        rule.block("condition").block("host_header").attr("values", [hostname(svc, opts)])
        rule.block("lifecycle").attr("ignore_changes", [Expr("action")])


def _dns(tf: TfModule, opts: dict[str, Any], publics: list[Service]) -> None:
    f = "dns.tf"
    zone = tf.block(f, "data", "aws_route53_zone", "main")
    zone.attr("name", Expr("var.domain")).attr("private_zone", False)
    base = base_domain(opts)
    _certificate(tf, f, "main", base, None)
    for svc in publics:
        rec = tf.resource(f, "aws_route53_record", svc.ident, service=svc.name)
        rec.attr("zone_id", Expr("data.aws_route53_zone.main.zone_id")).attr(
            "name", hostname(svc, opts)
        ).attr("type", "A")
        target = "aws_cloudfront_distribution.main" if opts["cdn_waf"] else "aws_lb.main"
        zone_attr = "hosted_zone_id" if opts["cdn_waf"] else "zone_id"
        rec.block("alias").attr(
            "name", Expr(f"{target}.domain_name" if opts["cdn_waf"] else f"{target}.dns_name")
        ).attr("zone_id", Expr(f"{target}.{zone_attr}")).attr(
            "evaluate_target_health", not opts["cdn_waf"]
        )


def _certificate(tf: TfModule, f: str, name: str, base: str, provider: str | None) -> None:
    cert = tf.resource(f, "aws_acm_certificate", name)
    if provider:
        cert.attr("provider", Expr(provider))
    cert.attr("domain_name", f"*.{base}").attr("validation_method", "DNS")
    cert.block("lifecycle").attr("create_before_destroy", True)
    records = tf.resource(f, "aws_route53_record", f"{name}_cert_validation")
    records.attr(
        "for_each",
        Expr(
            f"{{ for o in aws_acm_certificate.{name}.domain_validation_options : "
            "o.domain_name => o }"
        ),
    )
    records.attr("allow_overwrite", True).attr(
        "zone_id", Expr("data.aws_route53_zone.main.zone_id")
    )
    records.attr("name", Expr("each.value.resource_record_name")).attr(
        "type", Expr("each.value.resource_record_type")
    ).attr("records", [Expr("each.value.resource_record_value")]).attr("ttl", 300)
    validation = tf.resource(f, "aws_acm_certificate_validation", name)
    if provider:
        validation.attr("provider", Expr(provider))
    validation.attr("certificate_arn", Expr(f"aws_acm_certificate.{name}.arn")).attr(
        "validation_record_fqdns",
        Expr(f"[for r in aws_route53_record.{name}_cert_validation : r.fqdn]"),
    )


def _cdn(
    tf: TfModule, model: Model, opts: dict[str, Any], prefix: str, publics: list[Service]
) -> None:
    f = "cdn.tf"
    edge = "aws.us_east_1"
    _certificate(tf, f, "cdn", base_domain(opts), edge)
    acl = tf.resource(f, "aws_wafv2_web_acl", "cdn").attr("provider", Expr(edge))
    acl.attr("name", aws_name(prefix, "edge", max_len=128)).attr("scope", "CLOUDFRONT")
    acl.block("default_action").block("allow")
    rules = [
        ("AWSManagedRulesCommonRuleSet", 1),
        ("AWSManagedRulesKnownBadInputsRuleSet", 2),
        ("AWSManagedRulesAmazonIpReputationList", 3),
    ]
    for group, prio in rules:
        rule = acl.block("rule").attr("name", group).attr("priority", prio)
        rule.block("override_action").block("none")
        rule.block("statement").block("managed_rule_group_statement").attr("name", group).attr(
            "vendor_name", "AWS"
        )
        _visibility(rule, group)
    rate = acl.block("rule").attr("name", "rate-limit-per-ip").attr("priority", 10)
    rate.block("action").block("block")
    rate.block("statement").block("rate_based_statement").attr("limit", 2000).attr(
        "aggregate_key_type", "IP"
    )
    _visibility(rate, "rate-limit-per-ip")
    _visibility(acl, aws_name(prefix, "edge", max_len=128))
    tf.block(f, "data", "aws_cloudfront_cache_policy", "disabled").attr(
        "name", "Managed-CachingDisabled"
    )
    tf.block(f, "data", "aws_cloudfront_origin_request_policy", "all_viewer").attr(
        "name", "Managed-AllViewer"
    )
    dist = tf.resource(f, "aws_cloudfront_distribution", "main")
    dist.attr("enabled", True).attr("comment", f"{model.repo} {opts['environment']}").attr(
        "aliases", [hostname(s, opts) for s in publics]
    ).attr("price_class", "PriceClass_100").attr("web_acl_id", Expr("aws_wafv2_web_acl.cdn.arn"))
    origin = (
        dist.block("origin")
        .attr("domain_name", Expr("aws_lb.main.dns_name"))
        .attr("origin_id", "alb")
    )
    origin.block("custom_origin_config").attr("http_port", 80).attr("https_port", 443).attr(
        "origin_protocol_policy", "https-only"
    ).attr("origin_ssl_protocols", ["TLSv1.2"])
    dist.block("default_cache_behavior").attr("target_origin_id", "alb").attr(
        "viewer_protocol_policy", "redirect-to-https"
    ).attr("allowed_methods", ALL_METHODS).attr("cached_methods", ["GET", "HEAD"]).attr(
        "cache_policy_id", Expr("data.aws_cloudfront_cache_policy.disabled.id")
    ).attr(
        "origin_request_policy_id", Expr("data.aws_cloudfront_origin_request_policy.all_viewer.id")
    ).attr("compress", True)
    dist.block("restrictions").block("geo_restriction").attr("restriction_type", "none")
    dist.block("viewer_certificate").attr(
        "acm_certificate_arn", Expr("aws_acm_certificate_validation.cdn.certificate_arn")
    ).attr("ssl_support_method", "sni-only").attr("minimum_protocol_version", "TLSv1.2_2021")


def _visibility(block: Block, metric: str) -> None:
    block.block("visibility_config").attr("cloudwatch_metrics_enabled", True).attr(
        "metric_name", metric.replace("-", "_")[:128]
    ).attr("sampled_requests_enabled", True)


def _secrets(tf: TfModule, model: Model, opts: dict[str, Any]) -> dict[str, str]:
    """One Secrets Manager entry per secret-like env var; returns var name -> resource name."""
    users: dict[str, list[str]] = {}
    for svc in model.services:
        for var in svc.secrets:
            users.setdefault(var, []).append(svc.name)
    out = {}
    for var in sorted(users):
        name = "env_" + var.lower()
        secret = tf.resource(
            "secrets.tf",
            "aws_secretsmanager_secret",
            name,
            service=users[var][0] if len(users[var]) == 1 else None,
        )
        secret.attr("name", f"prodsprint/{model.repo_slug}/{opts['environment']}/{var}").attr(
            "description", f"{var} for {', '.join(users[var])}; value set out of band"
        ).attr("recovery_window_in_days", 7)
        out[var] = name
    return out


def _ecs(
    tf: TfModule,
    model: Model,
    opts: dict[str, Any],
    prefix: str,
    secrets: dict[str, str],
    notes: list[dict[str, str]],
) -> None:
    f = "ecs.tf"
    cluster = tf.resource(f, "aws_ecs_cluster", "main").attr("name", aws_name(prefix, max_len=255))
    cluster.block("setting").attr("name", "containerInsights").attr("value", "enabled")
    assume = Call(
        "jsonencode",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
    )
    for svc in model.services:
        i, n = svc.ident, svc.name
        if svc.image is None:
            repo = tf.resource(f, "aws_ecr_repository", i, service=n)
            repo.attr("name", f"{model.repo_slug}/{svc.slug}").attr(
                "image_tag_mutability", "IMMUTABLE"
            )
            repo.block("image_scanning_configuration").attr("scan_on_push", True)
            image: Any = Expr(f'"${{aws_ecr_repository.{i}.repository_url}}:${{var.image_tag}}"')
        else:
            image = svc.image
            notes.append(
                note("info", "external_image", f"service {n!r} runs the image {svc.image!r}")
            )
        tf.resource(f, "aws_cloudwatch_log_group", i, service=n).attr(
            "name", f"/ecs/{prefix}/{svc.slug}"
        ).attr("retention_in_days", 30)
        role = tf.resource(f, "aws_iam_role", f"{i}_execution", service=n)
        role.attr("name", aws_name(prefix, svc.slug, "exec", max_len=64)).attr(
            "assume_role_policy", assume
        )
        tf.resource(f, "aws_iam_role_policy_attachment", f"{i}_execution", service=n).attr(
            "role", Expr(f"aws_iam_role.{i}_execution.name")
        ).attr(
            "policy_arn", "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
        )
        if svc.secrets:
            arns = [Expr(f"aws_secretsmanager_secret.{secrets[v]}.arn") for v in svc.secrets]
            tf.resource(f, "aws_iam_role_policy", f"{i}_secrets", service=n).attr(
                "name", "read-secrets"
            ).attr("role", Expr(f"aws_iam_role.{i}_execution.id")).attr(
                "policy",
                Call(
                    "jsonencode",
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["secretsmanager:GetSecretValue"],
                                "Resource": arns,
                            }
                        ],
                    },
                ),
            )
        tf.resource(f, "aws_iam_role", f"{i}_task", service=n).attr(
            "name", aws_name(prefix, svc.slug, "task", max_len=64)
        ).attr("assume_role_policy", assume)
        missing = [k for k, v in svc.env if v is None]
        if missing:
            notes.append(
                note(
                    "warning",
                    "env_without_default",
                    f"service {n!r}: {', '.join(missing)} have no default; set them before apply",
                )
            )
        container: dict[str, Any] = {
            "name": svc.slug,
            "image": image,
            "essential": True,
            "environment": [{"name": k, "value": v or ""} for k, v in svc.env],
            "secrets": [
                {"name": v, "valueFrom": Expr(f"aws_secretsmanager_secret.{secrets[v]}.arn")}
                for v in svc.secrets
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": Expr(f"aws_cloudwatch_log_group.{i}.name"),
                    "awslogs-region": Expr("var.region"),
                    "awslogs-stream-prefix": svc.slug,
                },
            },
        }
        if svc.port:
            container["portMappings"] = [{"containerPort": svc.port, "protocol": "tcp"}]
        task = tf.resource(f, "aws_ecs_task_definition", i, service=n)
        task.attr("family", aws_name(prefix, svc.slug, max_len=255)).attr(
            "requires_compatibilities", ["FARGATE"]
        ).attr("network_mode", "awsvpc").attr("cpu", str(opts["task_cpu"])).attr(
            "memory", str(opts["task_memory"])
        ).attr("execution_role_arn", Expr(f"aws_iam_role.{i}_execution.arn")).attr(
            "task_role_arn", Expr(f"aws_iam_role.{i}_task.arn")
        ).attr("container_definitions", Call("jsonencode", [container]))
        task.block("runtime_platform").attr("operating_system_family", "LINUX").attr(
            "cpu_architecture", "X86_64"
        )
        sg = tf.resource(f, "aws_security_group", i, service=n)
        sg.attr("name", aws_name(prefix, svc.slug, max_len=255)).attr(
            "description", f"Tasks of {svc.slug}"
        ).attr("vpc_id", Expr("aws_vpc.main.id"))
        if svc.public:
            sg.block("ingress").attr("description", "From the load balancer").attr(
                "from_port", svc.port
            ).attr("to_port", svc.port).attr("protocol", "tcp").attr(
                "security_groups", [Expr("aws_security_group.alb.id")]
            )
        _egress(sg)
        tracks = ("stable", "canary") if svc.public else ("stable",)
        for track in tracks:
            name = i if not svc.public else f"{i}_{track}"
            ecs = tf.resource(f, "aws_ecs_service", name, service=n)
            ecs.attr("name", svc.slug if track == "stable" else f"{svc.slug}-canary")
            ecs.attr("cluster", Expr("aws_ecs_cluster.main.id")).attr(
                "task_definition", Expr(f"aws_ecs_task_definition.{i}.arn")
            ).attr("launch_type", "FARGATE").attr(
                "desired_count", opts["desired_count"] if track == "stable" else 0
            ).attr("propagate_tags", "SERVICE")
            ecs.block("network_configuration").attr(
                "subnets", [Expr("aws_subnet.private_0.id"), Expr("aws_subnet.private_1.id")]
            ).attr("security_groups", [Expr(f"aws_security_group.{i}.id")]).attr(
                "assign_public_ip", False
            )
            ecs.block("deployment_circuit_breaker").attr("enable", True).attr("rollback", True)
            if svc.public:
                ecs.block("load_balancer").attr(
                    "target_group_arn", Expr(f"aws_lb_target_group.{i}_{track}.arn")
                ).attr("container_name", svc.slug).attr("container_port", svc.port)
                ecs.attr("depends_on", [Expr("aws_lb_listener.https")])
            if track == "canary":
                ecs.block("lifecycle").attr(
                    "ignore_changes", [Expr("desired_count"), Expr("task_definition")]
                )
        if svc.migrations:
            cmds = "; ".join(m[2] for m in svc.migrations)
            notes.append(
                note(
                    "info",
                    "migrations_task",
                    f"service {n!r}: run `{cmds}` as a one-off task of "
                    f"{aws_name(prefix, svc.slug, max_len=255)} before shifting traffic",
                )
            )


def _datastores(
    tf: TfModule, model: Model, opts: dict[str, Any], prefix: str, notes: list[dict[str, str]]
) -> None:
    f = "data.tf"
    clients = [Expr(f"aws_security_group.{s.ident}.id") for s in model.services]
    private = [Expr("aws_subnet.private_0.id"), Expr("aws_subnet.private_1.id")]
    prod = opts["environment"] == "prod"
    if model.sql_engine:
        engine, port = model.sql_engine, ENGINE_PORTS[model.sql_engine]
        sg = tf.resource(f, "aws_security_group", "db").attr(
            "name", aws_name(prefix, "db", max_len=255)
        )
        sg.attr("description", "Database reachable from the services only").attr(
            "vpc_id", Expr("aws_vpc.main.id")
        )
        sg.block("ingress").attr("from_port", port).attr("to_port", port).attr(
            "protocol", "tcp"
        ).attr("security_groups", clients)
        tf.resource(f, "aws_db_subnet_group", "main").attr(
            "name", aws_name(prefix, "db", max_len=255)
        ).attr("subnet_ids", private)
        db = tf.resource(f, "aws_db_instance", "main")
        db.attr("identifier", aws_name(prefix, "db", max_len=63)).attr("engine", engine).attr(
            "engine_version", ENGINE_VERSIONS[engine]
        ).attr("instance_class", opts["db_instance_class"]).attr(
            "allocated_storage", opts["db_storage_gb"]
        ).attr("storage_type", "gp3").attr("storage_encrypted", True).attr("db_name", "app").attr(
            "username", "app"
        ).attr("manage_master_user_password", True).attr("multi_az", opts["db_multi_az"]).attr(
            "backup_retention_period", 7
        ).attr("deletion_protection", prod).attr("skip_final_snapshot", False).attr(
            "final_snapshot_identifier", aws_name(prefix, "db-final", max_len=63)
        ).attr("copy_tags_to_snapshot", True).attr(
            "db_subnet_group_name", Expr("aws_db_subnet_group.main.name")
        ).attr("vpc_security_group_ids", [Expr("aws_security_group.db.id")])
        notes.append(
            note(
                "info",
                "database_credentials",
                "the database master password is generated and kept by RDS in Secrets Manager; "
                "store the connection URL in the service's secret entry (never in the plan)",
            )
        )
    if model.redis:
        sg = tf.resource(f, "aws_security_group", "cache").attr(
            "name", aws_name(prefix, "cache", max_len=255)
        )
        sg.attr("description", "Redis reachable from the services only").attr(
            "vpc_id", Expr("aws_vpc.main.id")
        )
        sg.block("ingress").attr("from_port", 6379).attr("to_port", 6379).attr(
            "protocol", "tcp"
        ).attr("security_groups", clients)
        tf.resource(f, "aws_elasticache_subnet_group", "main").attr(
            "name", aws_name(prefix, "cache", max_len=255)
        ).attr("subnet_ids", private)
        nodes = opts["cache_nodes"]
        cache = tf.resource(f, "aws_elasticache_replication_group", "main")
        cache.attr("replication_group_id", aws_name(prefix, "cache", max_len=40)).attr(
            "description", f"Redis for {model.repo}"
        ).attr("engine", "redis").attr("engine_version", "7.1").attr(
            "node_type", opts["cache_node_type"]
        ).attr("num_cache_clusters", nodes).attr("port", 6379).attr(
            "automatic_failover_enabled", nodes > 1
        ).attr("multi_az_enabled", nodes > 1).attr("at_rest_encryption_enabled", True).attr(
            "transit_encryption_enabled", True
        ).attr("subnet_group_name", Expr("aws_elasticache_subnet_group.main.name")).attr(
            "security_group_ids", [Expr("aws_security_group.cache.id")]
        )
    if model.s3:
        bucket = aws_name(
            prefix, "assets", hashlib.sha256(model.repo.encode()).hexdigest()[:8], max_len=63
        )
        tf.resource(f, "aws_s3_bucket", "assets").attr("bucket", bucket)
        tf.resource(f, "aws_s3_bucket_public_access_block", "assets").attr(
            "bucket", Expr("aws_s3_bucket.assets.id")
        ).attr("block_public_acls", True).attr("block_public_policy", True).attr(
            "ignore_public_acls", True
        ).attr("restrict_public_buckets", True)
        enc = tf.resource(f, "aws_s3_bucket_server_side_encryption_configuration", "assets")
        enc.attr("bucket", Expr("aws_s3_bucket.assets.id"))
        enc.block("rule").block("apply_server_side_encryption_by_default").attr(
            "sse_algorithm", "AES256"
        )
        ver = tf.resource(f, "aws_s3_bucket_versioning", "assets").attr(
            "bucket", Expr("aws_s3_bucket.assets.id")
        )
        ver.block("versioning_configuration").attr("status", "Enabled")


def _alarm(tf: TfModule, name: str, service: str | None, spec: dict[str, Any]) -> None:
    alarm = tf.resource("monitoring.tf", "aws_cloudwatch_metric_alarm", name, service=service)
    for key, value in spec.items():
        alarm.attr(key, value)
    alarm.attr("treat_missing_data", "notBreaching").attr(
        "alarm_actions", [Expr("aws_sns_topic.alerts.arn")]
    ).attr("ok_actions", [Expr("aws_sns_topic.alerts.arn")])


def _monitoring(
    tf: TfModule, model: Model, opts: dict[str, Any], prefix: str, publics: list[Service]
) -> None:
    tf.resource("monitoring.tf", "aws_sns_topic", "alerts").attr(
        "name", aws_name(prefix, "alerts", max_len=256)
    )
    for svc in model.services:
        i, n = svc.ident, svc.name
        track = f"{i}_stable" if svc.public else i
        _alarm(
            tf,
            f"{i}_cpu",
            n,
            {
                "alarm_name": f"{prefix}-{svc.slug}-cpu",
                "namespace": "AWS/ECS",
                "metric_name": "CPUUtilization",
                "statistic": "Average",
                "period": 60,
                "evaluation_periods": 5,
                "threshold": 80,
                "comparison_operator": "GreaterThanThreshold",
                "dimensions": {
                    "ClusterName": Expr("aws_ecs_cluster.main.name"),
                    "ServiceName": Expr(f"aws_ecs_service.{track}.name"),
                },
            },
        )
        if not svc.public:
            continue
        dims = {
            "LoadBalancer": Expr("aws_lb.main.arn_suffix"),
            "TargetGroup": Expr(f"aws_lb_target_group.{i}_stable.arn_suffix"),
        }
        _alarm(
            tf,
            f"{i}_5xx",
            n,
            {
                "alarm_name": f"{prefix}-{svc.slug}-5xx",
                "namespace": "AWS/ApplicationELB",
                "metric_name": "HTTPCode_Target_5XX_Count",
                "statistic": "Sum",
                "period": 60,
                "evaluation_periods": 5,
                "threshold": 5,
                "comparison_operator": "GreaterThanThreshold",
                "dimensions": dims,
            },
        )
        _alarm(
            tf,
            f"{i}_p95",
            n,
            {
                "alarm_name": f"{prefix}-{svc.slug}-p95",
                "namespace": "AWS/ApplicationELB",
                "metric_name": "TargetResponseTime",
                "extended_statistic": "p95",
                "period": 60,
                "evaluation_periods": 5,
                "threshold": opts["p95_ms_max"] / 1000,
                "comparison_operator": "GreaterThanThreshold",
                "dimensions": dims,
            },
        )
    if model.sql_engine:
        _alarm(
            tf,
            "db_cpu",
            None,
            {
                "alarm_name": f"{prefix}-db-cpu",
                "namespace": "AWS/RDS",
                "metric_name": "CPUUtilization",
                "statistic": "Average",
                "period": 300,
                "evaluation_periods": 3,
                "threshold": 80,
                "comparison_operator": "GreaterThanThreshold",
                "dimensions": {"DBInstanceIdentifier": Expr("aws_db_instance.main.identifier")},
            },
        )
        _alarm(
            tf,
            "db_free_storage",
            None,
            {
                "alarm_name": f"{prefix}-db-free-storage",
                "namespace": "AWS/RDS",
                "metric_name": "FreeStorageSpace",
                "statistic": "Minimum",
                "period": 300,
                "evaluation_periods": 1,
                "threshold": 2147483648,
                "comparison_operator": "LessThanThreshold",
                "dimensions": {"DBInstanceIdentifier": Expr("aws_db_instance.main.identifier")},
            },
        )


def _outputs(tf: TfModule, model: Model, opts: dict[str, Any], publics: list[Service]) -> None:
    if publics:
        tf.block("outputs.tf", "output", "load_balancer_dns").attr(
            "value", Expr("aws_lb.main.dns_name")
        )
        tf.block("outputs.tf", "output", "service_urls").attr(
            "value", {s.name: f"https://{hostname(s, opts)}" for s in publics}
        )
    tf.block("outputs.tf", "output", "ecs_cluster").attr("value", Expr("aws_ecs_cluster.main.name"))
    ecr = {
        s.name: Expr(f"aws_ecr_repository.{s.ident}.repository_url")
        for s in model.services
        if s.image is None
    }
    if ecr:
        tf.block("outputs.tf", "output", "image_repositories").attr("value", ecr)


__all__ = ["aws_name", "base_domain", "hostname", "ident", "render_aws"]
