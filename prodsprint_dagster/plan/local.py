"""The ``local`` target: Terraform with only the built-in ``terraform_data`` resource.

The local deploy target runs services as processes, but describing them as Terraform resources
gives it real ``plan``/``apply``/drift for free and keeps the three targets reviewable the same
way. Only ``terraform_data`` is used, so ``init`` needs no provider download and works offline.
"""

from __future__ import annotations

from typing import Any

from prodsprint_dagster.plan.hcl import Expr
from prodsprint_dagster.plan.model import Model
from prodsprint_dagster.plan.tf import TfModule

DIR = "terraform/local"


def render_local(model: Model, opts: dict[str, Any], rollout: dict[str, Any]) -> TfModule:
    tf = TfModule(DIR)
    tf.block("main.tf", "terraform").attr("required_version", ">= 1.4")
    var = tf.block("main.tf", "variable", "image_tag")
    var.attr("type", Expr("string")).attr("default", model.commit).attr(
        "description", "Version (commit) deployed as stable"
    )
    for svc in model.services:
        data: dict[str, Any] = {
            "name": svc.name,
            "role": svc.role,
            "root": svc.root or "",
            "image": svc.image or "",
            "version": Expr("var.image_tag"),
            "port": svc.port or 0,
            "health_path": opts["health_path"] if svc.public else "",
            "start_command": svc.start_command or "",
            "env": {k: v or "" for k, v in svc.env},
            "env_names": [k for k, _ in svc.env],
            "secret_names": list(svc.secrets),
            "migrations": [m[2] for m in svc.migrations],
        }
        tf.resource("main.tf", "terraform_data", f"service_{svc.ident}", service=svc.name).attr(
            "input", data
        )
    engines = [e for e in (model.sql_engine, "redis" if model.redis else None) if e]
    for engine in engines:
        tf.resource("main.tf", "terraform_data", f"datastore_{engine}").attr(
            "input", {"engine": engine}
        )
    tf.resource("main.tf", "terraform_data", "rollout").attr(
        "input",
        {
            "strategy": rollout["strategy"],
            "band": rollout["band"],
            "weights": [s["weight"] for s in rollout["steps"]],
            "pause_seconds": [s["pause_seconds"] for s in rollout["steps"]],
        },
    )
    tf.block("main.tf", "output", "services").attr(
        "value",
        {s.name: Expr(f"terraform_data.service_{s.ident}.output") for s in model.services},
    )
    return tf
