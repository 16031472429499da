"""Facts from Dockerfiles, compose files and Kubernetes manifests.

These files say how a service is really started (command, environment, ports), which is why
they outrank the code's defaults in the port evidence chain. Only the final stage of a
multi-stage Dockerfile describes the running container, so USER, CMD and EXPOSE reset at each
FROM that does not build on an earlier stage.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from typing import Any

from prodsprint_dagster.audit.facts import ComposeService, Dockerfile, EnvRef, Facts, K8sWorkload
from prodsprint_dagster.audit.structured import LineDict, LineList, load_yaml_all

_INSTR = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")
_ENV_KV = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)")
WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet", "Rollout"}
)


def _logical_lines(text: str):
    """Dockerfile lines with ``\\`` continuations joined, each with its first line number."""
    buf: list[str] = []
    start = 0
    for i, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if not buf:
            start = i
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        yield start, " ".join(buf)
        buf = []
    if buf:
        yield start, " ".join(buf)


def _exec_form(arg: str) -> str:
    """A CMD/ENTRYPOINT argument as one command line (exec form unwrapped, ``sh -c`` peeled)."""
    arg = arg.strip()
    if arg.startswith("["):
        try:
            parts = json.loads(arg)
        except ValueError:
            return arg
        if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
            shell = parts[:1] in (["sh"], ["/bin/sh"], ["bash"], ["/bin/bash"])
            if len(parts) >= 3 and shell and parts[1] in ("-c", "-lc", "-ec"):
                return parts[2]
            return shlex.join(parts)
    return arg


def dockerfile(facts: Facts, rel: str, rel_dir: str, text: str) -> None:
    df = Dockerfile(path=rel, dir=rel_dir)
    stages = df.stages
    entrypoint: tuple[str, int] | None = None
    cmd: tuple[str, int] | None = None
    for line, stmt in _logical_lines(text):
        m = _INSTR.match(stmt)
        if not m:
            continue
        op, arg = m.group(1).upper(), m.group(2).strip()
        ev = f"{rel}:{line}"
        if op == "FROM":
            words = [w for w in arg.split() if not w.startswith("--")]
            image = words[0] if words else ""
            df.base_images.append(image)
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
            if image.lower() not in stages:
                df.user = df.user_line = None
                df.expose.clear()
                df.env.clear()
                entrypoint = cmd = None
        elif op == "USER":
            df.user, df.user_line = arg.split(":", 1)[0], ev
        elif op == "ENV":
            pairs = _ENV_KV.findall(arg)
            if not pairs and " " in arg:
                k, v = arg.split(None, 1)
                pairs = [(k, v)]
            for k, v in pairs:
                df.env[k] = (v.strip("\"'"), ev)
                facts.env_refs.append(EnvRef(k, ev, "dockerfile", v.strip("\"'") or None))
        elif op == "EXPOSE":
            for word in arg.split():
                port = word.split("/", 1)[0]
                if port.isdigit() and 0 < int(port) < 65536:
                    df.expose.append((int(port), ev))
        elif op == "CMD":
            cmd = (_exec_form(arg), line)
        elif op == "ENTRYPOINT":
            entrypoint = (_exec_form(arg), line)
        elif op == "HEALTHCHECK" and not arg.upper().startswith("NONE"):
            df.healthcheck = ev
    if entrypoint or cmd:
        parts = [p for p in (entrypoint, cmd) if p]
        df.cmd = (" ".join(p[0] for p in parts), f"{rel}:{parts[-1][1]}")
    facts.dockerfiles[rel] = df


def _command(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        parts = [str(v) for v in value]
        if len(parts) >= 3 and parts[0] in ("sh", "/bin/sh", "bash") and parts[1] == "-c":
            return parts[2]
        return shlex.join(parts)
    return None


def _container_port(spec: Any) -> int | None:
    if isinstance(spec, int):
        return spec if 0 < spec < 65536 else None
    if isinstance(spec, dict):
        return _container_port(spec.get("target"))
    if isinstance(spec, str):
        body = spec.split("/", 1)[0]
        last = body.rsplit(":", 1)[-1]
        last = last.split("-", 1)[0]
        return int(last) if last.isdigit() and 0 < int(last) < 65536 else None
    return None


def compose(facts: Facts, rel: str, rel_dir: str, text: str) -> None:
    docs, err = load_yaml_all(text)
    if err is not None:
        facts.malformed(rel, "YAML", err)
        return
    facts.compose_files.append(rel)
    for doc in docs:
        services = doc.get("services") if isinstance(doc, dict) else None
        if not isinstance(services, dict):
            continue
        for name, svc in services.items():
            if not isinstance(svc, dict) or not isinstance(name, str):
                continue
            line = services.line(name) if isinstance(services, LineDict) else 1
            cs = ComposeService(name=name, file=rel, evidence=f"{rel}:{line}")

            def ev(key: str, svc: dict = svc, line: int = line) -> str:
                return f"{rel}:{svc.line(key, line) if isinstance(svc, LineDict) else line}"

            if isinstance(svc.get("image"), str):
                cs.image = svc["image"]
            build = svc.get("build")
            context, dockerfile_name = None, "Dockerfile"
            if isinstance(build, str):
                context = build
            elif isinstance(build, dict):
                context = (
                    build.get("context", ".")
                    if isinstance(build.get("context", "."), str)
                    else None
                )
                if isinstance(build.get("dockerfile"), str):
                    dockerfile_name = build["dockerfile"]
            if context is not None and "://" not in context:
                joined = posixpath.normpath(posixpath.join(rel_dir, context))
                if joined != ".." and not joined.startswith("../"):
                    cs.build_context = joined
                    cs.dockerfile = posixpath.normpath(posixpath.join(joined, dockerfile_name))
            command = _command(svc.get("command"))
            if command:
                cs.command = (command, ev("command"))
            env = svc.get("environment")
            if isinstance(env, dict):
                for k, v in env.items():
                    if isinstance(k, str):
                        value = None if v is None else str(v)
                        line_k = env.line(k, 1) if isinstance(env, LineDict) else 1
                        cs.environment[k] = (value, f"{rel}:{line_k}")
            elif isinstance(env, list):
                for i, item in enumerate(env):
                    if isinstance(item, str):
                        k, sep, v = item.partition("=")
                        line_i = env.line(i) if isinstance(env, LineList) else 1
                        cs.environment[k.strip()] = (v if sep else None, f"{rel}:{line_i}")
            for k, (v, e) in cs.environment.items():
                facts.env_refs.append(EnvRef(k, e, "compose", v, service=name))
            for key in ("ports", "expose"):
                items = svc.get(key)
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        port = _container_port(item)
                        if port:
                            line_i = items.line(i) if isinstance(items, LineList) else 1
                            cs.ports.append((port, f"{rel}:{line_i}"))
            if isinstance(svc.get("healthcheck"), dict):
                cs.healthcheck = ev("healthcheck")
            facts.compose.append(cs)


def is_compose_name(name: str) -> bool:
    n = name.lower()
    return n.endswith((".yml", ".yaml")) and (
        n.startswith(("docker-compose", "compose.", "compose-"))
    )


def yaml_manifest(facts: Facts, rel: str, text: str) -> None:
    """Any other YAML: Kubernetes objects when it has them, a gap when it does not parse."""
    docs, err = load_yaml_all(text)
    if err is not None:
        facts.malformed(rel, "YAML", err)
        return
    for doc in docs:
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            continue
        kind = doc.get("kind")
        if not isinstance(kind, str):
            continue
        facts.k8s_manifests[rel].add(kind)
        if kind in WORKLOAD_KINDS:
            _workload(facts, rel, doc, kind)


def _dig(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _workload(facts: Facts, rel: str, doc: dict, kind: str) -> None:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name")
    if not isinstance(name, str):
        return
    if kind == "CronJob":
        pod = _dig(doc, "spec", "jobTemplate", "spec", "template", "spec")
    elif kind == "Pod":
        pod = doc.get("spec")
    else:
        pod = _dig(doc, "spec", "template", "spec")
    line = meta.line("name") if isinstance(meta, LineDict) else 1
    wl = K8sWorkload(kind=kind, name=name, file=rel, evidence=f"{rel}:{line}")
    labels = meta.get("labels")
    if isinstance(labels, dict):
        wl.labels = {str(k): str(v) for k, v in labels.items()}
    containers = pod.get("containers") if isinstance(pod, dict) else None
    if isinstance(containers, list) and containers and isinstance(containers[0], dict):
        c = containers[0]

        def ev(key: str, c: dict = c) -> str:
            return f"{rel}:{c.line(key, line) if isinstance(c, LineDict) else line}"

        if isinstance(c.get("image"), str):
            wl.image = c["image"]
        parts = []
        for key in ("command", "args"):
            cmd = _command(c.get(key))
            if cmd:
                parts.append(cmd)
        if parts:
            wl.command = (" ".join(parts), ev("command" if "command" in c else "args"))
        env = c.get("env")
        if isinstance(env, list):
            for i, item in enumerate(env):
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    value = item.get("value")
                    e = f"{rel}:{env.line(i) if isinstance(env, LineList) else line}"
                    v = None if value is None else str(value)
                    wl.env[item["name"]] = (v, e)
                    facts.env_refs.append(EnvRef(item["name"], e, "k8s", v, service=name))
        ports = c.get("ports")
        if isinstance(ports, list):
            for i, p in enumerate(ports):
                if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
                    e = f"{rel}:{ports.line(i) if isinstance(ports, LineList) else line}"
                    wl.container_ports.append((p["containerPort"], e))
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if isinstance(_dig(c, probe, "httpGet"), dict):
                wl.probe = ev(probe)
                break
    facts.k8s.append(wl)
