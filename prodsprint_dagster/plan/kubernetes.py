"""The ``kubernetes`` target: a Helm chart whose workloads are Argo Rollouts.

Per web service: a ``Rollout`` (canary steps from the rollout plan, or blue/green), stable and
canary Services, an nginx Ingress the canary traffic routing splits, an ``AnalysisTemplate``
with Prometheus queries for the error ratio and p95 latency of the canary pods, and an HPA.
Workers are plain Deployments (there is no traffic to shift). Secret env vars are
``secretKeyRef``s into ``<service>-secrets``, filled by an ExternalSecret from the same
Secrets Manager names as the aws target, never by values in the chart. Migrations run as a
``pre-install,pre-upgrade`` hook Job so the schema is migrated before any new pod starts.

The analysis queries assume pods are scraped with their labels mapped (``service`` and
``rollouts_pod_template_hash``), the usual kube-prometheus relabelling; docs/plan.md says so.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from prodsprint_dagster.plan.aws import hostname
from prodsprint_dagster.plan.helm import render_chart
from prodsprint_dagster.plan.model import Model, Service, note

ROLLOUTS_API = "argoproj.io/v1alpha1"
_SENTINEL = re.compile(r"'@@I:([\w.]+)@@'|@@V:([\w.]+)@@")


def chart_dir(model: Model) -> str:
    return f"helm/{model.repo_slug}"


def _v(path: str) -> str:
    """A string-context reference to ``.Values.<path>``."""
    return f"@@V:{path}@@"


def _i(path: str) -> str:
    """A whole-scalar (e.g. integer) reference to ``.Values.<path>``."""
    return f"@@I:{path}@@"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """No anchors/aliases: each object must read on its own in review."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(objects: list[dict[str, Any]]) -> str:
    text = yaml.dump_all(
        objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000
    )

    def sub(m: re.Match[str]) -> str:
        return "{{ .Values." + (m.group(1) or m.group(2)) + " }}"

    # Argo's own {{args.x}} must reach the cluster verbatim, so Helm gets it escaped.
    text = text.replace("{{", "\x00").replace("}}", "\x01")
    text = text.replace("\x00", '{{ "{{" }}').replace("\x01", '{{ "}}" }}')
    return _SENTINEL.sub(sub, text)


def _labels(model: Model, svc: Service) -> dict[str, str]:
    return {"app.kubernetes.io/name": svc.slug, "app.kubernetes.io/part-of": model.repo_slug}


def _env(model: Model, svc: Service) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": k, "value": v or ""} for k, v in svc.env]
    env += [
        {
            "name": var,
            "valueFrom": {"secretKeyRef": {"name": f"{svc.slug}-secrets", "key": var}},
        }
        for var in svc.secrets
    ]
    return env


def _container(model: Model, svc: Service, opts: dict[str, Any]) -> dict[str, Any]:
    image = svc.image or f"{_v('image.registry')}/{svc.slug}:{_v('image.tag')}"
    container: dict[str, Any] = {
        "name": svc.slug,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": _env(model, svc),
        "resources": {
            "requests": {
                "cpu": _v(f"services.{svc.ident}.resources.cpu"),
                "memory": _v(f"services.{svc.ident}.resources.memory"),
            },
            "limits": {"memory": _v(f"services.{svc.ident}.resources.memory")},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": False,
            "runAsNonRoot": True,
        },
    }
    if svc.port:
        container["ports"] = [{"name": "http", "containerPort": svc.port, "protocol": "TCP"}]
    if svc.public:
        probe = {"httpGet": {"path": opts["health_path"], "port": "http"}, "periodSeconds": 10}
        container["readinessProbe"] = probe
        container["livenessProbe"] = {**probe, "initialDelaySeconds": 15}
    return container


def _pod(model: Model, svc: Service, opts: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"labels": _labels(model, svc)},
        "spec": {"containers": [_container(model, svc, opts)]},
    }


def _steps(svc: Service, rollout: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for step in rollout["steps"]:
        steps.append({"setWeight": step["weight"]})
        if step["analysis"]:
            steps.append({"analysis": {"templates": [{"templateName": f"{svc.slug}-analysis"}]}})
        if step["manual"]:
            steps.append({"pause": {}})
        elif step["pause_seconds"]:
            steps.append({"pause": {"duration": f"{step['pause_seconds']}s"}})
    return steps


def _workload(
    model: Model, svc: Service, opts: dict[str, Any], rollout: dict[str, Any]
) -> dict[str, Any]:
    meta = {"name": svc.slug, "labels": _labels(model, svc)}
    spec: dict[str, Any] = {
        "replicas": _i(f"services.{svc.ident}.replicas"),
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": {"app.kubernetes.io/name": svc.slug}},
        "template": _pod(model, svc, opts),
    }
    if not svc.public:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}
    if rollout["strategy"] == "bluegreen":
        manual = any(s["manual"] for s in rollout["steps"])
        strategy: dict[str, Any] = {
            "blueGreen": {
                "activeService": svc.slug,
                "previewService": f"{svc.slug}-preview",
                "autoPromotionEnabled": not manual,
                "prePromotionAnalysis": {"templates": [{"templateName": f"{svc.slug}-analysis"}]},
                "scaleDownDelaySeconds": 600,
            }
        }
    else:
        strategy = {
            "canary": {
                "stableService": svc.slug,
                "canaryService": f"{svc.slug}-canary",
                "trafficRouting": {"nginx": {"stableIngress": svc.slug}},
                "steps": _steps(svc, rollout),
            }
        }
    spec["strategy"] = strategy
    return {"apiVersion": ROLLOUTS_API, "kind": "Rollout", "metadata": meta, "spec": spec}


def _services(model: Model, svc: Service, rollout: dict[str, Any]) -> list[dict[str, Any]]:
    second = "preview" if rollout["strategy"] == "bluegreen" else "canary"
    out = []
    for name in (svc.slug, f"{svc.slug}-{second}"):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "labels": _labels(model, svc)},
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app.kubernetes.io/name": svc.slug},
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
                    ],
                },
            }
        )
    return out


def _ingress(model: Model, svc: Service, opts: dict[str, Any]) -> dict[str, Any]:
    host = hostname(svc, opts)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": svc.slug, "labels": _labels(model, svc)},
        "spec": {
            "ingressClassName": opts["ingress_class"],
            "tls": [{"hosts": [host], "secretName": f"{svc.slug}-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": svc.slug, "port": {"name": "http"}}
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


def _analysis(
    model: Model, svc: Service, opts: dict[str, Any], rollout: dict[str, Any]
) -> dict[str, Any]:
    sel = f'service="{svc.slug}",rollouts_pod_template_hash="{{{{args.canary-hash}}}}"'
    window = f"{max(2 * rollout['analysis']['interval_seconds'], 60)}s"
    ratio = opts["error_ratio_max"]
    p95 = opts["p95_ms_max"] / 1000
    common = {
        "interval": f"{rollout['analysis']['interval_seconds']}s",
        "count": rollout["analysis"]["min_samples"],
        "failureLimit": 1,
        "inconclusiveLimit": 1,
    }
    address = opts["prometheus_address"]
    return {
        "apiVersion": ROLLOUTS_API,
        "kind": "AnalysisTemplate",
        "metadata": {"name": f"{svc.slug}-analysis", "labels": _labels(model, svc)},
        "spec": {
            "args": [
                {
                    "name": "canary-hash",
                    "valueFrom": {"podTemplateHashValue": "Latest"},
                }
            ],
            "metrics": [
                {
                    "name": "error-ratio",
                    **common,
                    # No traffic gives NaN, which meets neither condition: inconclusive, the
                    # rollout pauses instead of passing on no data.
                    "successCondition": f"result[0] <= {ratio}",
                    "failureCondition": f"result[0] > {ratio}",
                    "provider": {
                        "prometheus": {
                            "address": address,
                            "query": (
                                f'sum(rate(http_requests_total{{{sel},status=~"5.."}}[{window}]))'
                                f" / sum(rate(http_requests_total{{{sel}}}[{window}]))"
                            ),
                        }
                    },
                },
                {
                    "name": "latency-p95",
                    **common,
                    "successCondition": f"result[0] <= {p95}",
                    "failureCondition": f"result[0] > {p95}",
                    "provider": {
                        "prometheus": {
                            "address": address,
                            "query": (
                                "histogram_quantile(0.95, sum by (le) (rate("
                                f"http_request_duration_seconds_bucket{{{sel}}}[{window}])))"
                            ),
                        }
                    },
                },
            ],
        },
    }


def _hpa(model: Model, svc: Service) -> dict[str, Any]:
    kind = "Rollout" if svc.public else "Deployment"
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": svc.slug, "labels": _labels(model, svc)},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": ROLLOUTS_API if svc.public else "apps/v1",
                "kind": kind,
                "name": svc.slug,
            },
            "minReplicas": _i(f"services.{svc.ident}.replicas"),
            "maxReplicas": _i(f"services.{svc.ident}.maxReplicas"),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def _external_secret(model: Model, svc: Service, opts: dict[str, Any]) -> dict[str, Any]:
    env = opts["environment"]
    return {
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "metadata": {
            "name": f"{svc.slug}-secrets",
            "labels": _labels(model, svc),
            # A hook too, ahead of the migration Job, so the Secret exists before it runs.
            "annotations": {
                "helm.sh/hook": "pre-install,pre-upgrade",
                "helm.sh/hook-weight": "-10",
                "helm.sh/hook-delete-policy": "before-hook-creation",
            },
        },
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "prodsprint"},
            "target": {"name": f"{svc.slug}-secrets", "creationPolicy": "Owner"},
            "data": [
                {
                    "secretKey": var,
                    "remoteRef": {"key": f"prodsprint/{model.repo_slug}/{env}/{var}"},
                }
                for var in svc.secrets
            ],
        },
    }


def _migration_job(model: Model, svc: Service, opts: dict[str, Any]) -> dict[str, Any]:
    container = _container(model, svc, opts)
    for key in ("ports", "readinessProbe", "livenessProbe"):
        container.pop(key, None)
    container["name"] = "migrate"
    container["command"] = ["/bin/sh", "-c", " && ".join(m[2] for m in svc.migrations)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{svc.slug}-migrate",
            "labels": _labels(model, svc),
            "annotations": {
                "helm.sh/hook": "pre-install,pre-upgrade",
                "helm.sh/hook-weight": "-5",
                "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
            },
        },
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": _labels(model, svc)},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def render_kubernetes(
    model: Model, opts: dict[str, Any], rollout: dict[str, Any], notes: list[dict[str, str]]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The chart's files and the rendered objects as plan resources."""
    root = chart_dir(model)
    files: dict[str, str] = {}
    chart = {
        "apiVersion": "v2",
        "name": model.repo_slug,
        "description": f"{model.repo}: rendered by ProdSprint from the audit",
        "type": "application",
        "version": "0.1.0",
        "appVersion": model.commit,
    }
    files[f"{root}/Chart.yaml"] = yaml.safe_dump(chart, sort_keys=False)
    cpu_m = opts["task_cpu"] * 1000 // 1024
    values: dict[str, Any] = {
        "image": {"registry": f"ghcr.io/{model.repo_slug}", "tag": model.commit},
        "services": {
            s.ident: {
                "replicas": opts["desired_count"],
                "maxReplicas": max(opts["desired_count"] * 3, 3),
                "resources": {"cpu": f"{cpu_m}m", "memory": f"{opts['task_memory']}Mi"},
            }
            for s in model.services
        },
    }
    files[f"{root}/values.yaml"] = (
        "# Rendered by ProdSprint. image.registry: where CI pushes the images.\n"
        + yaml.safe_dump(values, sort_keys=False)
    )
    notes.append(
        note(
            "info",
            "image_registry",
            f"values.yaml image.registry defaults to ghcr.io/{model.repo_slug}; set it to the "
            "registry CI pushes to",
        )
    )
    for svc in model.services:
        objects: list[dict[str, Any]] = [_workload(model, svc, opts, rollout), _hpa(model, svc)]
        if svc.public:
            objects += _services(model, svc, rollout)
            objects.append(_ingress(model, svc, opts))
            objects.append(_analysis(model, svc, opts, rollout))
        if svc.secrets and opts["secrets_backend"] == "external-secrets":
            objects.append(_external_secret(model, svc, opts))
        elif svc.secrets:
            notes.append(
                note(
                    "info",
                    "secret_required",
                    f"service {svc.name!r} reads Secret {svc.slug}-secrets "
                    f"(keys {', '.join(svc.secrets)}); create it before install",
                )
            )
        if svc.migrations:
            objects.append(_migration_job(model, svc, opts))
        files[f"{root}/templates/{svc.slug}.yaml"] = _dump(objects)
    rendered = render_chart(files, root)
    resources = []
    for docs in rendered.values():
        for obj in docs:
            name = obj["metadata"]["name"]
            service = obj["metadata"].get("labels", {}).get("app.kubernetes.io/name")
            owner = next((s.name for s in model.services if s.slug == service), None)
            resources.append(
                {
                    "address": f"{obj['kind']}.{name}",
                    "type": obj["kind"],
                    "name": name,
                    "service": owner,
                    "attributes": obj,
                }
            )
    return files, sorted(resources, key=lambda r: r["address"])
