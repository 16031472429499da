"""Facts from package manifests, lockfiles, CI files, env examples, Procfiles and test configs.

Dependencies name the framework and the datastore clients more reliably than imports do, and
lockfiles decide whether a build is reproducible; both are read without installing anything.
"""

from __future__ import annotations

import re

from prodsprint_dagster.audit.facts import EnvRef, Facts
from prodsprint_dagster.audit.structured import line_of, load_json, load_toml, load_xml, xml_local

FRAMEWORKS = {
    # python
    "django": "django",
    "fastapi": "fastapi",
    "flask": "flask",
    "starlette": "starlette",
    "aiohttp": "aiohttp",
    "tornado": "tornado",
    "sanic": "sanic",
    "litestar": "litestar",
    "celery": "celery",
    "streamlit": "streamlit",
    # node
    "next": "nextjs",
    "express": "express",
    "fastify": "fastify",
    "koa": "koa",
    "@nestjs/core": "nestjs",
    "@hapi/hapi": "hapi",
    "nuxt": "nuxt",
    "@remix-run/serve": "remix",
    "@remix-run/node": "remix",
    "react-scripts": "create-react-app",
    "@angular/core": "angular",
    "@sveltejs/kit": "sveltekit",
    "astro": "astro",
    "gatsby": "gatsby",
    "vite": "vite",
    # go
    "github.com/gin-gonic/gin": "gin",
    "github.com/labstack/echo/v4": "echo",
    "github.com/labstack/echo": "echo",
    "github.com/gofiber/fiber/v2": "fiber",
    "github.com/go-chi/chi/v5": "chi",
    "github.com/go-chi/chi": "chi",
    "github.com/gorilla/mux": "gorilla",
    # ruby
    "rails": "rails",
    "sinatra": "sinatra",
    "sidekiq": "sidekiq",
    "hanami": "hanami",
    # jvm
    "spring-boot-starter-web": "spring-boot",
    "spring-boot-starter-webflux": "spring-boot",
    "spring-boot-starter": "spring-boot",
    "quarkus-resteasy": "quarkus",
    "quarkus-rest": "quarkus",
    "micronaut-http-server-netty": "micronaut",
    # php / rust / elixir
    "laravel/framework": "laravel",
    "symfony/framework-bundle": "symfony",
    "actix-web": "actix-web",
    "axum": "axum",
    "rocket": "rocket",
    "phoenix": "phoenix",
}
DATASTORE_DEPS = {
    "psycopg2": "postgres",
    "psycopg2-binary": "postgres",
    "psycopg": "postgres",
    "asyncpg": "postgres",
    "pg": "postgres",
    "postgres": "postgres",
    "pg-promise": "postgres",
    "github.com/lib/pq": "postgres",
    "github.com/jackc/pgx/v5": "postgres",
    "github.com/jackc/pgx/v4": "postgres",
    "org.postgresql:postgresql": "postgres",
    "pymysql": "mysql",
    "mysqlclient": "mysql",
    "aiomysql": "mysql",
    "mysql": "mysql",
    "mysql2": "mysql",
    "github.com/go-sql-driver/mysql": "mysql",
    "com.mysql:mysql-connector-j": "mysql",
    "mysql:mysql-connector-java": "mysql",
    "org.mariadb.jdbc:mariadb-java-client": "mariadb",
    "mariadb": "mariadb",
    "pymongo": "mongodb",
    "motor": "mongodb",
    "mongoengine": "mongodb",
    "mongodb": "mongodb",
    "mongoose": "mongodb",
    "mongoid": "mongodb",
    "go.mongodb.org/mongo-driver": "mongodb",
    "spring-boot-starter-data-mongodb": "mongodb",
    "redis": "redis",
    "ioredis": "redis",
    "aioredis": "redis",
    "github.com/redis/go-redis/v9": "redis",
    "github.com/go-redis/redis/v8": "redis",
    "spring-boot-starter-data-redis": "redis",
    "sidekiq": "redis",
    "pika": "rabbitmq",
    "aio-pika": "rabbitmq",
    "amqplib": "rabbitmq",
    "bunny": "rabbitmq",
    "github.com/rabbitmq/amqp091-go": "rabbitmq",
    "spring-boot-starter-amqp": "rabbitmq",
    "kafka-python": "kafka",
    "confluent-kafka": "kafka",
    "aiokafka": "kafka",
    "kafkajs": "kafka",
    "github.com/segmentio/kafka-go": "kafka",
    "spring-kafka": "kafka",
    "elasticsearch": "elasticsearch",
    "@elastic/elasticsearch": "elasticsearch",
    "sqlite3": "sqlite",
    "better-sqlite3": "sqlite",
    "github.com/mattn/go-sqlite3": "sqlite",
    "pymssql": "mssql",
    "mssql": "mssql",
    "tedious": "mssql",
    "com.microsoft.sqlserver:mssql-jdbc": "mssql",
    "cassandra-driver": "cassandra",
    "com.h2database:h2": "h2",
}
JS_TEST_FRAMEWORKS = {
    "jest": "jest",
    "vitest": "vitest",
    "mocha": "mocha",
    "karma": "karma",
    "jasmine": "jasmine",
    "@playwright/test": "playwright",
    "cypress": "cypress",
    "ava": "ava",
    "tap": "tap",
}
_PLACEHOLDER_TEST = re.compile(r"no test specified|^\s*(exit\s+[01]|true|echo\s+[^&|;]*)\s*$", re.I)
_REQ_LINE = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(===?|~=|>=|<=|>|<|!=)?"
)
_ENV_LINE = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*?)[ \t]*$"
)
_PROCFILE = re.compile(r"(?m)^([A-Za-z0-9_-]+):[ \t]*(\S.*?)[ \t]*$")
_GOMOD_REQ = re.compile(r"(?m)^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]{2,}/[^\s]+)\s+v[0-9]")
_GEM = re.compile(r"""(?m)^\s*gem\s+['"]([^'"]+)['"]""")
_GRADLE_DEP = re.compile(r"""['"]([\w.-]+):([\w.-]+)(?::[^'"]*)?['"]""")
ENV_EXAMPLES = frozenset(
    {
        ".env.example",
        ".env.sample",
        ".env.template",
        ".env.dist",
        ".env.defaults",
        "env.example",
        "example.env",
        "sample.env",
        ".env.local.example",
        ".env.development.example",
    }
)
CI_FILES = {
    ".gitlab-ci.yml": "gitlab-ci",
    ".circleci/config.yml": "circleci",
    "Jenkinsfile": "jenkins",
    "azure-pipelines.yml": "azure-pipelines",
    ".travis.yml": "travis-ci",
    "bitbucket-pipelines.yml": "bitbucket-pipelines",
    ".drone.yml": "drone",
    ".buildkite/pipeline.yml": "buildkite",
    "cloudbuild.yaml": "google-cloud-build",
    "cloudbuild.yml": "google-cloud-build",
    ".woodpecker.yml": "woodpecker",
    "appveyor.yml": "appveyor",
    "buildspec.yml": "aws-codebuild",
}
LOCKFILES = {
    "package-lock.json": "npm",
    "npm-shrinkwrap.json": "npm",
    "yarn.lock": "npm",
    "pnpm-lock.yaml": "npm",
    "bun.lockb": "npm",
    "bun.lock": "npm",
    "poetry.lock": "pypi",
    "Pipfile.lock": "pypi",
    "uv.lock": "pypi",
    "pdm.lock": "pypi",
    "Gemfile.lock": "rubygems",
    "go.sum": "go",
    "Cargo.lock": "cargo",
    "composer.lock": "packagist",
    "mix.lock": "hex",
    "packages.lock.json": "nuget",
    "gradle.lockfile": "maven",
    "Package.resolved": "swift",
    "pubspec.lock": "pub",
    "conda-lock.yml": "conda",
}
UNSUPPORTED_LOCKFILES = frozenset({"bun.lockb", "bun.lock"})
MANIFESTS = frozenset(
    {
        "package.json",
        "pyproject.toml",
        "requirements.txt",
        "setup.py",
        "setup.cfg",
        "Pipfile",
        "go.mod",
        "Gemfile",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "Cargo.toml",
        "composer.json",
        "mix.exs",
        "manage.py",
    }
)


def _q(name: str) -> str:
    return '"' + name + '"'


def _dep(facts: Facts, root: str, name: str, evidence: str) -> None:
    key = name.lower()
    facts.deps[root].setdefault(key, evidence)
    fw = FRAMEWORKS.get(key)
    if fw:
        facts.frameworks[root].setdefault(fw, evidence)
    engine = DATASTORE_DEPS.get(key)
    if engine:
        facts.datastore_hits.append((engine, evidence, None))


def package_json(facts: Facts, rel: str, root: str, text: str) -> None:
    data, err = load_json(text)
    if err is not None:
        facts.malformed(rel, "JSON", err)
        return
    if not isinstance(data, dict):
        return
    facts.manifests[root].append("package.json")
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        deps = data.get(section)
        if isinstance(deps, dict):
            for name in deps:
                if isinstance(name, str):
                    _dep(facts, root, name, f"{rel}:{line_of(text, _q(name))}")
    scripts = data.get("scripts") if isinstance(data.get("scripts"), dict) else {}
    start = scripts.get("start")
    if isinstance(start, str) and start.strip():
        facts.start_scripts[root] = (start.strip(), f"{rel}:{line_of(text, _q('start'))}")
    test = scripts.get("test")
    if isinstance(test, str) and test.strip() and not _PLACEHOLDER_TEST.search(test):
        ev = f"{rel}:{line_of(text, _q('test'))}"
        fw = next((f for w, f in JS_TEST_FRAMEWORKS.items() if re.search(rf"\b{w}\b", test)), None)
        if fw is None:
            fw = next((f for d, f in JS_TEST_FRAMEWORKS.items() if d in facts.deps[root]), "npm")
        facts.tests[(fw, root)] = ("{pm} test", ev)
    if data.get("workspaces") is not None:
        facts.workspaces[root] = f"{rel}:{line_of(text, _q('workspaces'))}"
    prisma = data.get("prisma")
    if isinstance(prisma, dict) and isinstance(prisma.get("schema"), str):
        facts.prisma_schemas.append(
            (root, prisma["schema"], f"{rel}:{line_of(text, _q('schema'))}")
        )


def pyproject(facts: Facts, rel: str, root: str, text: str) -> None:
    data, err = load_toml(text)
    if err is not None:
        facts.malformed(rel, "TOML", err)
        return
    assert data is not None
    facts.manifests[root].append("pyproject.toml")
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    deps: list[str] = [d for d in project.get("dependencies", []) or [] if isinstance(d, str)]
    for extra in (project.get("optional-dependencies") or {}).values():
        if isinstance(extra, list):
            deps.extend(d for d in extra if isinstance(d, str))
    for group in (data.get("dependency-groups") or {}).values():
        if isinstance(group, list):
            deps.extend(d for d in group if isinstance(d, str))
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    for section in ("dependencies", "dev-dependencies"):
        if isinstance(poetry.get(section), dict):
            deps.extend(k for k in poetry[section] if k != "python")
    for grp in (poetry.get("group") or {}).values():
        if isinstance(grp, dict) and isinstance(grp.get("dependencies"), dict):
            deps.extend(grp["dependencies"])
    for spec in deps:
        m = _REQ_LINE.match(spec)
        if m:
            _dep(facts, root, m.group(1), f"{rel}:{line_of(text, m.group(1))}")
    if isinstance(tool.get("pytest"), dict):
        facts.pytest_config.setdefault(root, f"{rel}:{line_of(text, '[tool.pytest')}")
    if deps:
        facts.py_deps_declared.add(root)


def requirements(facts: Facts, rel: str, root: str, text: str) -> None:
    facts.manifests[root].append(rel.rsplit("/", 1)[-1])
    pinned, total = 0, 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(("-", "git+", "http")):
            continue
        m = _REQ_LINE.match(line)
        if not m:
            continue
        total += 1
        if m.group(3) in ("==", "===") or "--hash" in raw:
            pinned += 1
        _dep(facts, root, m.group(1), f"{rel}:{i}")
    if total and pinned == total:
        facts.lockfiles.append(
            {"path": rel, "ecosystem": "pypi", "format": "requirements (pinned)", "root": root}
        )
    elif total:
        facts.unpinned.append(f"{rel}:1")


def gemfile(facts: Facts, rel: str, root: str, text: str) -> None:
    facts.manifests[root].append("Gemfile")
    for m in _GEM.finditer(text):
        _dep(facts, root, m.group(1), f"{rel}:{line_of(text, m.group(0))}")


def gomod(facts: Facts, rel: str, root: str, text: str) -> None:
    facts.manifests[root].append("go.mod")
    for m in _GOMOD_REQ.finditer(text):
        name = m.group(1)
        _dep(facts, root, name, f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
        facts.go_requires.add(root)


def pom(facts: Facts, rel: str, root: str, text: str) -> None:
    tree, err = load_xml(text)
    if err is not None:
        facts.malformed(rel, "XML", err)
        return
    assert tree is not None
    facts.manifests[root].append("pom.xml")
    for el in tree.iter():
        tag = xml_local(el.tag) if isinstance(el.tag, str) else ""
        if tag not in ("dependency", "parent", "plugin"):
            continue
        group = artifact = ""
        for child in el:
            ctag = xml_local(child.tag) if isinstance(child.tag, str) else ""
            if ctag == "groupId":
                group = (child.text or "").strip()
            elif ctag == "artifactId":
                artifact = (child.text or "").strip()
        if not artifact:
            continue
        tag_text = "<artifactId>" + artifact + "</artifactId>"
        ev = f"{rel}:{line_of(text, tag_text)}"
        _dep(facts, root, artifact, ev)
        _dep(facts, root, f"{group}:{artifact}", ev)
        if artifact.startswith("spring-boot"):
            facts.frameworks[root].setdefault("spring-boot", ev)
        if artifact.startswith("junit") or group.startswith("org.junit"):
            facts.deps[root].setdefault("junit", ev)


def gradle(facts: Facts, rel: str, root: str, text: str) -> None:
    facts.manifests[root].append(rel.rsplit("/", 1)[-1])
    for m in _GRADLE_DEP.finditer(text):
        ev = f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
        _dep(facts, root, m.group(2), ev)
        _dep(facts, root, f"{m.group(1)}:{m.group(2)}", ev)
    if "org.springframework.boot" in text:
        facts.frameworks[root].setdefault(
            "spring-boot", f"{rel}:{line_of(text, 'org.springframework.boot')}"
        )
    if "junit" in text:
        facts.deps[root].setdefault("junit", f"{rel}:{line_of(text, 'junit')}")


def cargo(facts: Facts, rel: str, root: str, text: str) -> None:
    data, err = load_toml(text)
    if err is not None:
        facts.malformed(rel, "TOML", err)
        return
    assert data is not None
    facts.manifests[root].append("Cargo.toml")
    for section in ("dependencies", "dev-dependencies"):
        for name in data.get(section, {}) or {}:
            _dep(facts, root, name, f"{rel}:{line_of(text, name)}")


def composer(facts: Facts, rel: str, root: str, text: str) -> None:
    data, err = load_json(text)
    if err is not None:
        facts.malformed(rel, "JSON", err)
        return
    facts.manifests[root].append("composer.json")
    if isinstance(data, dict):
        for section in ("require", "require-dev"):
            for name in data.get(section, {}) or {}:
                _dep(facts, root, name, f"{rel}:{line_of(text, _q(name))}")


def generic_json(facts: Facts, rel: str, text: str) -> None:
    _, err = load_json(text)
    if err is not None:
        facts.malformed(rel, "JSON", err)


def generic_toml(facts: Facts, rel: str, text: str) -> None:
    _, err = load_toml(text)
    if err is not None:
        facts.malformed(rel, "TOML", err)


def lockfile(facts: Facts, rel: str, root: str, name: str, head: str | None) -> None:
    head = head or ""
    fmt = name
    if name == "package-lock.json" or name == "npm-shrinkwrap.json":
        m = re.search(r'"lockfileVersion"\s*:\s*(\d+)', head)
        fmt = f"package-lock v{m.group(1)}" if m else "package-lock"
    elif name == "yarn.lock":
        m = re.search(r"(?m)^__metadata:\s*\n\s+version:\s*(\d+)", head)
        if m:
            fmt = f"yarn berry (lockfile v{m.group(1)})"
        elif "yarn lockfile v1" in head:
            fmt = "yarn classic v1"
        else:
            fmt = "yarn"
    elif name == "pnpm-lock.yaml":
        m = re.search(r"(?m)^lockfileVersion:\s*['\"]?(\d+)(?:\.(\d+))?", head)
        fmt = f"pnpm v{m.group(1)}" if m else "pnpm"
    elif name in UNSUPPORTED_LOCKFILES:
        fmt = "bun (binary)" if name.endswith("b") else "bun (text)"
    elif name == "poetry.lock":
        m = re.search(r'lock-version\s*=\s*"([\d.]+)"', head[-4096:] + head[:4096])
        fmt = f"poetry lock v{m.group(1)}" if m else "poetry lock"
    elif name == "uv.lock":
        m = re.search(r"(?m)^version\s*=\s*(\d+)", head)
        fmt = f"uv lock v{m.group(1)}" if m else "uv lock"
    elif name == "Cargo.lock":
        m = re.search(r"(?m)^version\s*=\s*(\d+)", head)
        fmt = f"cargo lock v{m.group(1)}" if m else "cargo lock"
    elif name == "Gemfile.lock":
        fmt = "bundler"
    elif name == "Pipfile.lock":
        fmt = "pipfile lock"
    facts.lockfiles.append({"path": rel, "ecosystem": LOCKFILES[name], "format": fmt, "root": root})


def env_example(facts: Facts, rel: str, text: str) -> None:
    for m in _ENV_LINE.finditer(text):
        value = m.group(2).strip().strip("'\"")
        line = text.count("\n", 0, m.start()) + 1
        facts.env_refs.append(
            EnvRef(m.group(1), f"{rel}:{line}", "env_example", value if value else None)
        )


def procfile(facts: Facts, rel: str, root: str, text: str) -> None:
    for m in _PROCFILE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        facts.procfile.append((root, m.group(1), m.group(2), f"{rel}:{line}"))
