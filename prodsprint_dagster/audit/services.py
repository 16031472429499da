"""Assembling services, datastores, env vars and tests from the collected facts.

A service is a deployable unit, and the same unit is usually described several times (a
compose entry, a Kubernetes Deployment, a Dockerfile, a framework in a manifest); the name
rule and the port evidence chain decide which description wins, and every link is kept so a
reviewer can see why.
"""

from __future__ import annotations

import operator
import posixpath
import re
from typing import Any

from prodsprint_dagster.audit.code import PORT_VARS
from prodsprint_dagster.audit.facts import ComposeService, Facts, K8sWorkload, PortLink

FRAMEWORK_PORTS = {
    "django": 8000,
    "fastapi": 8000,
    "starlette": 8000,
    "litestar": 8000,
    "sanic": 8000,
    "flask": 5000,
    "aiohttp": 8080,
    "rails": 3000,
    "sinatra": 4567,
    "hanami": 2300,
    "nextjs": 3000,
    "nuxt": 3000,
    "remix": 3000,
    "create-react-app": 3000,
    "angular": 4200,
    "vite": 5173,
    "sveltekit": 5173,
    "astro": 4321,
    "gatsby": 8000,
    "spring-boot": 8080,
    "quarkus": 8080,
    "micronaut": 8080,
    "laravel": 8000,
    "phoenix": 4000,
    "aspnetcore": 8080,
    "gin": 8080,
    "rocket": 8000,
    "streamlit": 8501,
}
# The framework that names the service when several are present, most specific first.
_FRAMEWORK_ORDER = [
    "nextjs", "nuxt", "remix", "sveltekit", "astro", "gatsby", "angular", "create-react-app",
    "nestjs", "django", "fastapi", "flask", "litestar", "sanic", "starlette", "aiohttp",
    "tornado", "streamlit", "rails", "hanami", "sinatra", "spring-boot", "quarkus", "micronaut",
    "laravel", "symfony", "phoenix", "gin", "echo", "fiber", "chi", "gorilla", "actix-web",
    "axum", "rocket", "express", "fastify", "koa", "hapi", "net/http", "vite", "celery",
    "sidekiq",
]  # fmt: skip
_FRONTEND = frozenset(
    {"nextjs", "nuxt", "remix", "sveltekit", "astro", "gatsby", "angular", "create-react-app",
     "vite"}
)  # fmt: skip
_WORKER_FRAMEWORKS = frozenset({"celery", "sidekiq"})
_WORKER_CMD = re.compile(
    r"\b(celery\b.*\bworker|sidekiq|rq\s+worker|dramatiq|resque|good_job|solid_queue|"
    r"delayed_job|jobs:work|queue:work|bull|worker\.(js|ts|py)|arq\b|huey)",
    re.I,
)
_SERVER_DEFAULTS = [
    (re.compile(r"\bgunicorn\b"), 8000, "gunicorn"),
    (re.compile(r"\buvicorn\b"), 8000, "uvicorn"),
    (re.compile(r"\bhypercorn\b"), 8000, "hypercorn"),
    (re.compile(r"manage\.py\s+runserver"), 8000, "django runserver"),
    (re.compile(r"\bflask\s+run\b"), 5000, "flask run"),
    (re.compile(r"\brails\s+s(erver)?\b|\bpuma\b"), 3000, "rails/puma"),
    (re.compile(r"\bnext\s+start\b"), 3000, "next start"),
]
_CMD_PORT = [
    re.compile(
        r"(?:^|\s)(?:-b|--bind)(?:=|\s+)['\"]?(?:[\w.\-\[\]]*:)?(\$\{?\w+(?::-\d+)?\}?|\d{2,5})\b"
    ),
    re.compile(r"--(?:port|http-port|listen-port)(?:=|\s+)['\"]?(\$\{?\w+(?::-\d+)?\}?|\d{2,5})\b"),
    re.compile(r"(?:^|\s)-p\s+(\$\{?\w+(?::-\d+)?\}?|\d{2,5})\b"),
    re.compile(r"runserver\s+(?:[\w.]+:)?(\d{2,5})\b"),
    re.compile(r"http\.server\s+(\d{2,5})\b"),
]
_TOKEN = re.compile(r"\$\{?(\w+)(?::-(\d+))?\}?")
DATASTORE_IMAGES = {
    "postgres": "postgres",
    "postgis": "postgres",
    "timescaledb": "postgres",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "mongo": "mongodb",
    "mongodb": "mongodb",
    "redis": "redis",
    "redis-stack": "redis",
    "valkey": "redis",
    "rabbitmq": "rabbitmq",
    "kafka": "kafka",
    "cp-kafka": "kafka",
    "elasticsearch": "elasticsearch",
    "opensearch": "opensearch",
    "memcached": "memcached",
    "cassandra": "cassandra",
    "clickhouse-server": "clickhouse",
    "clickhouse": "clickhouse",
    "cockroach": "cockroachdb",
    "influxdb": "influxdb",
    "couchdb": "couchdb",
    "neo4j": "neo4j",
    "zookeeper": "zookeeper",
    "nats": "nats",
    "minio": "minio",
    "mssql": "mssql",
}
PROXY_IMAGES = frozenset({"nginx", "traefik", "haproxy", "envoy", "caddy", "httpd", "openresty"})
_SECRET_NAME = re.compile(
    r"(?i)(secret|token|passw(or)?d|passwd|pwd|api[_-]?key|apikey|private[_-]?key|credential|"
    r"auth|access[_-]?key|signing[_-]?key|encryption[_-]?key|salt|dsn|database_url|db_url|"
    r"connection_string|conn_str|webhook_url|session_key|cookie_secret|_pat$|^pat_)"
)
_URL_CREDS = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def image_base(image: str) -> str:
    """``registry.example.com/team/orders:1.2@sha256:..`` -> ``orders``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def datastore_engine(image: str | None) -> str | None:
    if not image:
        return None
    if "mssql" in image:
        return "mssql"
    return DATASTORE_IMAGES.get(image_base(image))


def is_secret_like(name: str, values: list[str | None]) -> bool:
    return bool(_SECRET_NAME.search(name)) or any(v and _URL_CREDS.search(v) for v in values)


def _primary_framework(frameworks: dict[str, str]) -> str | None:
    for fw in _FRAMEWORK_ORDER:
        if fw in frameworks:
            return fw
    return sorted(frameworks)[0] if frameworks else None


def _is_test_path(ev: str) -> bool:
    return (
        re.search(r"(^|/)(tests?|spec|__tests__|test_[^/]*|[^/]*_test\.\w+)(/|:|$)", ev) is not None
    )


def _resolve(
    token: str, env: list[dict[str, tuple[str | None, str]]]
) -> tuple[int, list[str]] | None:
    """A port token (``8000``, ``$PORT``, ``${PORT:-8000}``) to a number and its evidence."""
    if token.isdigit():
        return int(token), []
    m = _TOKEN.fullmatch(token)
    if not m:
        return None
    for scope in env:
        if m.group(1) in scope:
            value, ev = scope[m.group(1)]
            if value and value.isdigit():
                return int(value), [ev]
    if m.group(2):
        return int(m.group(2)), []
    return None


def command_port(
    cmd: str, env: list[dict[str, tuple[str | None, str]]]
) -> tuple[int, list[str]] | None:
    for pattern in _CMD_PORT:
        m = pattern.search(cmd)
        if m:
            resolved = _resolve(m.group(1), env)
            if resolved:
                return resolved
    return None


class _Service:
    def __init__(self, name: str, root: str | None, evidence: str):
        self.name = name
        self.root = root
        self.evidence = [evidence]
        self.sources: set[str] = set()
        self.role: str | None = None
        self.image: str | None = None
        self.dockerfile: str | None = None
        self.build_context: str | None = None
        self.compose: ComposeService | None = None
        self.k8s: K8sWorkload | None = None
        self.procfile_cmd: tuple[str, str] | None = None
        self.health: list[str] = []


def build_services(facts: Facts, repo_name: str) -> tuple[list[dict], list[dict]]:
    """Services and datastores (a datastore is never a service)."""
    services: dict[str, _Service] = {}
    stores: dict[tuple[str, str | None], set[str]] = {}
    claimed: set[str] = set()

    def root_of_dockerfile(path: str | None) -> str | None:
        return posixpath.dirname(path) or "." if path else None

    for cs in sorted(facts.compose, key=lambda c: (c.file, c.name)):
        engine = datastore_engine(cs.image) if not cs.build_context else None
        if engine:
            stores.setdefault((engine, cs.name), set()).add(cs.evidence)
            continue
        svc = services.setdefault(cs.name, _Service(cs.name, cs.build_context, cs.evidence))
        svc.sources.add("compose")
        svc.compose = cs
        svc.image = cs.image
        if cs.build_context:
            svc.build_context = cs.build_context
            if cs.dockerfile in facts.dockerfiles:
                svc.dockerfile = cs.dockerfile
            claimed.add(cs.build_context)
        if cs.image and image_base(cs.image) in PROXY_IMAGES:
            svc.role = "proxy"
        elif cs.build_context and svc.dockerfile:
            base = facts.dockerfiles[svc.dockerfile].base_images
            if base and image_base(base[-1]) in PROXY_IMAGES:
                svc.role = "proxy"
        if cs.healthcheck:
            svc.health.append(cs.healthcheck)

    root_names = {posixpath.basename(r) if r != "." else repo_name: r for r in facts.roots}
    for wl in sorted(facts.k8s, key=lambda w: (w.file, w.name)):
        engine = datastore_engine(wl.image)
        if engine:
            stores.setdefault((engine, wl.name), set()).add(wl.evidence)
            continue
        svc = services.get(wl.name)
        if svc is None:
            root = None
            if wl.image:
                root = root_names.get(image_base(wl.image))
            root = root if root is not None else root_names.get(wl.name)
            svc = services.setdefault(wl.name, _Service(wl.name, root, wl.evidence))
            if root is not None:
                claimed.add(root)
        else:
            svc.evidence.append(wl.evidence)
        svc.sources.add("k8s")
        svc.k8s = wl
        svc.image = svc.image or wl.image
        if wl.kind in ("Job", "CronJob"):
            svc.role = "job"
        if wl.image and image_base(wl.image) in PROXY_IMAGES:
            svc.role = "proxy"
        if wl.probe:
            svc.health.append(wl.probe)

    for root, name, cmd, ev in sorted(facts.procfile):
        if any(s.root == root and "compose" in s.sources for s in services.values()):
            continue
        svc = services.setdefault(name, _Service(name, root, ev))
        svc.sources.add("procfile")
        svc.procfile_cmd = (cmd, ev)
        if name in ("release",):
            svc.role = "job"
        elif name in ("worker", "clock", "scheduler") or _WORKER_CMD.search(cmd):
            svc.role = "worker"
        claimed.add(root)

    for root in facts.roots:
        if root in claimed:
            continue
        fws = facts.frameworks.get(root, {})
        dockerfile = "Dockerfile" if root == "." else f"{root}/Dockerfile"
        has_df = dockerfile in facts.dockerfiles
        deployable = (
            has_df
            or any(f in FRAMEWORK_PORTS or f in _FRONTEND for f in fws)
            or any(
                f in fws
                for f in (
                    "express",
                    "fastify",
                    "koa",
                    "nestjs",
                    "hapi",
                    "net/http",
                    "echo",
                    "fiber",
                    "chi",
                    "gorilla",
                    "actix-web",
                    "axum",
                    "tornado",
                    "celery",
                    "sidekiq",
                )
            )
        )
        if root in facts.workspaces and not has_df:
            deployable = False
        if not deployable:
            continue
        name = repo_name if root == "." else posixpath.basename(root)
        if name in services:
            name = root.replace("/", "-")
        svc = services.setdefault(
            name,
            _Service(
                name, root, f"{dockerfile}:1" if has_df else next(iter(fws.values()), f"{root}:1")
            ),
        )
        if has_df:
            svc.sources.add("dockerfile")
        if fws:
            svc.sources.add("framework")

    out = [_finish(facts, svc, repo_name) for svc in services.values()]
    out.sort(key=lambda s: s["name"])
    datastores = _datastores(facts, stores)
    return out, datastores


def _finish(facts: Facts, svc: _Service, repo_name: str) -> dict[str, Any]:
    root = svc.root
    if root is not None and svc.dockerfile is None:
        candidate = "Dockerfile" if root == "." else f"{root}/Dockerfile"
        if candidate in facts.dockerfiles:
            svc.dockerfile = candidate
    if svc.dockerfile:
        svc.sources.add("dockerfile")
        svc.build_context = svc.build_context or root_of(svc.dockerfile)
    df = facts.dockerfiles.get(svc.dockerfile) if svc.dockerfile else None
    fws = facts.frameworks.get(root, {}) if root is not None else {}
    framework = _primary_framework(fws)
    if fws:
        svc.sources.add("framework")
    lang_counts = facts.code_lang_bytes.get(root) if root is not None else None
    language = None
    if lang_counts:
        ranked = [(n, b) for n, b in lang_counts.most_common() if n not in ("Dockerfile", "Shell")]
        language = ranked[0][0] if ranked else lang_counts.most_common(1)[0][0]

    # start command: compose > k8s > Procfile > Dockerfile > package.json start
    start: tuple[str, str] | None = None
    if svc.compose and svc.compose.command:
        start = svc.compose.command
    elif svc.k8s and svc.k8s.command:
        start = svc.k8s.command
    elif svc.procfile_cmd:
        start = svc.procfile_cmd
    elif df and df.cmd:
        start = df.cmd
    elif root is not None and root in facts.start_scripts:
        start = facts.start_scripts[root]

    role = svc.role
    if role is None:
        if (start and _WORKER_CMD.search(start[0])) or (
            framework in _WORKER_FRAMEWORKS
            and not any(f in fws for f in _FRAMEWORK_ORDER if f not in _WORKER_FRAMEWORKS)
        ):
            role = "worker"
        elif framework in _FRONTEND:
            role = "frontend"
        else:
            role = "app"

    env_scopes: list[dict[str, tuple[str | None, str]]] = []
    if svc.compose:
        env_scopes.append(svc.compose.environment)
    if svc.k8s:
        env_scopes.append(svc.k8s.env)
    if df:
        env_scopes.append({k: (v, e) for k, (v, e) in df.env.items()})

    links: list[PortLink] = []
    if svc.compose and svc.compose.command:
        r = command_port(svc.compose.command[0], env_scopes)
        if r:
            links.append(PortLink("compose_command", r[0], (svc.compose.command[1], *r[1])))
    if svc.compose:
        for var in sorted(PORT_VARS & svc.compose.environment.keys()):
            value, ev = svc.compose.environment[var]
            if value and value.isdigit():
                links.append(PortLink("compose_environment", int(value), (ev,)))
    if svc.k8s and svc.k8s.command:
        r = command_port(svc.k8s.command[0], env_scopes)
        if r:
            links.append(PortLink("k8s_command", r[0], (svc.k8s.command[1], *r[1])))
    if svc.k8s:
        for var in sorted(PORT_VARS & svc.k8s.env.keys()):
            value, ev = svc.k8s.env[var]
            if value and value.isdigit():
                links.append(PortLink("k8s_environment", int(value), (ev,)))
    start_cmds = [c for c in (svc.procfile_cmd, df.cmd if df else None) if c]
    if root is not None and root in facts.start_scripts:
        start_cmds.append(facts.start_scripts[root])
    for cmd, ev in start_cmds:
        r = command_port(cmd, env_scopes)
        if r:
            links.append(PortLink("start_command", r[0], (ev, *r[1])))
            break
    if root is not None:
        code = sorted(
            facts.code_ports.get(root, []), key=lambda p: (_is_test_path(p.evidence[0]), p.evidence)
        )
        code = [p for p in code if not _is_test_path(p.evidence[0])]
        if code:
            links.append(code[0])
    if df:
        for var in sorted(PORT_VARS & df.env.keys()):
            value, ev = df.env[var]
            if value.isdigit():
                links.append(PortLink("dockerfile_env", int(value), (ev,)))
        if df.expose:
            links.append(PortLink("dockerfile_expose", df.expose[0][0], (df.expose[0][1],)))
    if svc.k8s and svc.k8s.container_ports:
        p, ev = svc.k8s.container_ports[0]
        links.append(PortLink("k8s_container_port", p, (ev,)))
    cmd_text = start[0] if start else ""
    for pattern, port, _label in _SERVER_DEFAULTS:
        if pattern.search(cmd_text):
            links.append(PortLink("framework_default", port, (start[1] if start else "",)))
            break
    else:
        if framework in FRAMEWORK_PORTS:
            links.append(
                PortLink("framework_default", FRAMEWORK_PORTS[framework], (fws[framework],))
            )
        elif role == "proxy":
            links.append(PortLink("framework_default", 80, tuple(svc.evidence[:1])))
    winner = links[0] if links else None
    health = sorted(set(svc.health + (facts.health.get(root, []) if root is not None else [])))
    if df and df.healthcheck:
        health.append(df.healthcheck)
    return {
        "name": svc.name,
        "root": root,
        "role": role,
        "language": language,
        "framework": framework,
        "frameworks": sorted(fws),
        "image": svc.image,
        "dockerfile": svc.dockerfile,
        "build_context": svc.build_context,
        "start_command": start[0] if start else None,
        "start_command_evidence": start[1] if start else None,
        "port": winner.port if winner else None,
        "port_source": winner.source if winner else None,
        "port_evidence": [e for e in winner.evidence if e] if winner else [],
        "port_candidates": [
            {"source": p.source, "port": p.port, "evidence": [e for e in p.evidence if e]}
            for p in links
        ],
        "health_evidence": sorted(set(health))[:10],
        "sources": sorted(svc.sources),
        "evidence": sorted(set(svc.evidence)),
    }


def root_of(path: str) -> str:
    return posixpath.dirname(path) or "."


def _datastores(facts: Facts, stores: dict[tuple[str, str | None], set[str]]) -> list[dict]:
    for engine, ev, service in facts.datastore_hits:
        running = [k for k in stores if k[0] == engine and k[1] is not None]
        key = running[0] if running and service is None else (engine, service)
        stores.setdefault(key, set()).add(ev)
    return [
        {"engine": engine, "service": service, "evidence": sorted(evs)[:20]}
        for (engine, service), evs in sorted(
            stores.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
        )
    ]


_ORIGIN_THEN_EVIDENCE = operator.itemgetter(0, 1)


def build_env_vars(facts: Facts, services: list[dict]) -> list[dict]:
    roots = sorted(
        ((s["root"], s["name"]) for s in services if s["root"] is not None),
        key=lambda rn: -len(rn[0]),
    )
    names = {s["name"] for s in services}
    by_name: dict[str, dict[str, Any]] = {}
    order = {"code": 0, "dockerfile": 1, "env_example": 2, "compose": 3, "k8s": 4, "spring": 5}
    owners_of: dict[str, tuple[str, ...]] = {}  # directory -> the services whose root holds it
    for ref in facts.env_refs:
        entry = by_name.get(ref.name)
        if entry is None:
            entry = by_name[ref.name] = {
                "evidence": set(), "services": set(), "values": [], "origins": set()
            }  # fmt: skip
        entry["evidence"].add(ref.evidence)
        entry["origins"].add(ref.origin)
        entry["values"].append((order.get(ref.origin, 9), ref.evidence, ref.default))
        if ref.service and ref.service in names:
            entry["services"].add(ref.service)
            continue
        path = ref.evidence.rsplit(":", 1)[0]
        d = path.rpartition("/")[0] if not path.startswith("/") else posixpath.dirname(path)
        d = d or "."
        found = owners_of.get(d)
        if found is None:
            owners = [n for r, n in roots if r == "." or d == r or d.startswith(r + "/")]
            found = ()
            if owners:
                longest = max(len(r) for r, n in roots if n in owners)
                found = tuple(n for r, n in roots if n in owners and len(r) == longest)
            owners_of[d] = found
        entry["services"].update(found)
    out = []
    for name in sorted(by_name):
        entry = by_name[name]
        values = [v for _, _, v in sorted(entry["values"], key=_ORIGIN_THEN_EVIDENCE)]
        secret = is_secret_like(name, values)
        default = None if secret else next((v for v in values if v not in (None, "")), None)
        out.append(
            {
                "name": name,
                "services": sorted(entry["services"]),
                "evidence": sorted(entry["evidence"])[:50],
                "origins": sorted(entry["origins"]),
                "secret_like": secret,
                "default": default,
            }
        )
    return out


def build_tests(facts: Facts) -> list[dict]:
    def pm(root: str) -> str:
        for r in (root, "."):
            names = {lf["path"].rsplit("/", 1)[-1] for lf in facts.lockfiles if lf["root"] == r}
            if "pnpm-lock.yaml" in names:
                return "pnpm"
            if "yarn.lock" in names:
                return "yarn"
            if names & {"bun.lockb", "bun.lock"}:
                return "bun"
        return "npm"

    found: dict[tuple[str, str], tuple[str, str]] = {}
    for (fw, root), (cmd, ev) in facts.tests.items():
        found[(fw, root)] = (cmd.replace("{pm}", pm(root)), ev)
    for root, ev in facts.py_test_files.items():
        if (
            root in facts.pytest_config
            or "pytest" in facts.deps.get(root, {})
            or ("pytest" in facts.deps.get(".", {}))
        ):
            found[("pytest", root)] = ("pytest", facts.pytest_config.get(root, ev))
        elif root in facts.django_manage:
            found[("django", root)] = ("python manage.py test", ev)
        elif root in facts.unittest_roots:
            found[("unittest", root)] = ("python -m unittest discover", ev)
        else:
            found[("pytest", root)] = ("pytest", ev)
    for (kind, root), ev in facts.test_hits.items():
        if kind == "go":
            found[("go", root)] = ("go test ./...", ev)
        elif kind == "rspec":
            found[("rspec", root)] = ("bundle exec rspec", ev)
        elif kind == "minitest":
            rails = "rails" in facts.frameworks.get(root, {})
            found[("minitest", root)] = ("bin/rails test" if rails else "bundle exec rake test", ev)
        elif kind == "junit":
            gradle = any(m.startswith("build.gradle") for m in facts.manifests.get(root, []))
            found[("junit", root)] = ("./gradlew test" if gradle else "mvn test", ev)
        elif kind in ("xunit", "nunit", "mstest"):
            found[(kind, root)] = ("dotnet test", ev)
        elif kind == "cargo":
            found[("cargo", root)] = ("cargo test", ev)
        elif kind == "phpunit":
            found[("phpunit", root)] = ("vendor/bin/phpunit", ev)
    return [
        {"framework": fw, "root": root, "command": cmd, "evidence": [ev]}
        for (fw, root), (cmd, ev) in sorted(found.items())
    ]
