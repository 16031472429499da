# ruff: noqa: E501 - fixture files are written inline, one line each
"""Twelve fixture repositories written here, each checked for services, ports, stores and gaps."""

from __future__ import annotations

from audit_helpers import audit, engines, gap_codes, service


def test_fastapi_alembic_pytest(tmp_path):
    r = audit(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "api"
                dependencies = ["fastapi==0.110", "uvicorn==0.29", "asyncpg==0.29", "alembic==1.13"]
                [tool.pytest.ini_options]
                testpaths = ["tests"]
            """,
            "uv.lock": "version = 1\n",
            "app/main.py": """
                import os
                import uvicorn
                from fastapi import FastAPI
                app = FastAPI()
                @app.get("/healthz")
                def health():
                    return {}
                if __name__ == "__main__":
                    uvicorn.run(app, host="0.0.0.0", port=int(os.getenv("PORT", "9000")))
            """,
            "alembic/versions/001_init.py": """
                revision = "001"
                down_revision = None
                def upgrade():
                    op.create_table("t")
                def downgrade():
                    pass
            """,
            "tests/test_main.py": "def test_ok():\n    assert True\n",
        },
        name="api",
    )
    s = service(r, "api")
    assert (s["framework"], s["port"], s["port_source"]) == ("fastapi", 9000, "code_default")
    assert s["port_evidence"] == ["app/main.py:9"]
    assert engines(r) == {"postgres"}
    mig = r["migrations"][0]
    assert (mig["tool"], mig["path"], mig["count"], mig["has_down"]) == (
        "alembic",
        "alembic",
        1,
        False,
    )
    assert [t["framework"] for t in r["tests"]] == ["pytest"]
    assert {"migrations_without_down", "no_ci"} <= gap_codes(r)
    assert "no_lockfile" not in gap_codes(r)


def test_django_several_apps(tmp_path):
    mig = "from django.db import migrations\nclass Migration(migrations.Migration):\n    operations = []\n"
    r = audit(
        tmp_path,
        {
            "requirements.txt": "Django==5.0.4\npsycopg2-binary==2.9.9\n",
            "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
            "site/settings.py": """
                DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}
                SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
            """,
            "shop/migrations/0001_initial.py": mig,
            "shop/migrations/0002_more.py": mig,
            "users/migrations/0001_initial.py": mig,
            "shop/tests.py": "from django.test import TestCase\n",
        },
        name="site",
    )
    s = service(r, "site")
    assert (s["framework"], s["port"], s["port_source"]) == ("django", 8000, "framework_default")
    assert engines(r) == {"postgres"}
    paths = {(m["path"], m["count"], m["has_down"]) for m in r["migrations"]}
    assert paths == {("shop/migrations", 2, True), ("users/migrations", 1, True)}
    assert r["tests"][0]["framework"] == "django"
    assert r["tests"][0]["command"] == "python manage.py test"
    env = {e["name"]: e for e in r["env_vars"]}
    assert env["DJANGO_SECRET_KEY"]["secret_like"] is True
    assert "no_health_endpoint" in gap_codes(r)


def test_flask_gunicorn_compose_overrides_expose(tmp_path):
    r = audit(
        tmp_path,
        {
            "requirements.txt": "flask==3.0.3\ngunicorn==22.0.0\n",
            "app.py": "from flask import Flask\napp = Flask(__name__)\n@app.get('/health')\ndef h():\n    return 'ok'\n",
            "Dockerfile": "FROM python:3.11-slim\nUSER app\nEXPOSE 5000\nCMD gunicorn app:app\n",
            "docker-compose.yml": """
                services:
                  web:
                    build: .
                    command: gunicorn -b :8000 app:app
                    ports:
                      - "8080:8000"
            """,
            "test_app.py": "def test_x():\n    pass\n",
        },
    )
    s = service(r, "web")
    assert (s["port"], s["port_source"]) == (8000, "compose_command")
    assert s["port_evidence"] == ["docker-compose.yml:4"]
    assert s["dockerfile"] == "Dockerfile" and s["framework"] == "flask"
    assert [x["name"] for x in r["services"]] == ["web"]
    codes = gap_codes(r)
    assert "expose_mismatch" in codes and "compose_port_mismatch" not in codes
    assert "container_runs_as_root" not in codes


def test_express_prisma_custom_schema_jest(tmp_path):
    r = audit(
        tmp_path,
        {
            "package.json": """
                {"name": "orders", "scripts": {"start": "node src/index.js", "test": "jest"},
                 "dependencies": {"express": "4.19.2", "@prisma/client": "5.0.0"},
                 "devDependencies": {"jest": "29.7.0"},
                 "prisma": {"schema": "db/schema.prisma"}}
            """,
            "package-lock.json": '{"name": "orders", "lockfileVersion": 3}',
            "src/index.js": """
                const express = require('express');
                const app = express();
                const port = process.env.PORT || 3000;
                app.get('/healthz', (req, res) => res.send('ok'));
                app.listen(port);
            """,
            "db/schema.prisma": 'datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n',
            "db/migrations/20240101_init/migration.sql": "CREATE TABLE t (id int);\n",
            "db/migrations/migration_lock.toml": 'provider = "postgresql"\n',
        },
        name="orders",
    )
    s = service(r, "orders")
    assert (s["framework"], s["port"], s["port_source"]) == ("express", 3000, "code_default")
    assert s["port_evidence"] == ["src/index.js:3"]
    assert s["start_command"] == "node src/index.js"
    assert engines(r) == {"postgres"}
    assert r["migrations"][0]["tool"] == "prisma" and r["migrations"][0]["path"] == "db/migrations"
    assert r["tests"] == [
        {"framework": "jest", "root": ".", "command": "npm test", "evidence": ["package.json:1"]}
    ]
    assert r["lockfiles"][0]["format"] == "package-lock v3"
    assert "migrations_without_down" in gap_codes(r)


def test_nextjs_frontend(tmp_path):
    r = audit(
        tmp_path,
        {
            "package.json": """
                {"name": "web", "scripts": {"start": "next start", "test": "echo \\"Error: no test specified\\" && exit 1"},
                 "dependencies": {"next": "14.2.0", "react": "18.3.0"}}
            """,
            "yarn.lock": "__metadata:\n  version: 8\n",
            "app/page.tsx": "export default function Page() { return null }\n",
        },
        name="web",
    )
    s = service(r, "web")
    assert (s["role"], s["framework"], s["port"]) == ("frontend", "nextjs", 3000)
    assert s["port_source"] == "framework_default"
    assert r["tests"] == []
    assert "no_tests" in gap_codes(r)
    assert r["lockfiles"][0]["format"] == "yarn berry (lockfile v8)"
    assert r["datastores"] == []


def test_pnpm_workspace_monorepo(tmp_path):
    r = audit(
        tmp_path,
        {
            "package.json": '{"name": "mono", "private": true, "workspaces": ["apps/*", "packages/*"]}',
            "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\n",
            "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
            "apps/api/package.json": """
                {"name": "api", "scripts": {"start": "node server.js", "test": "vitest run"},
                 "dependencies": {"fastify": "4.0.0", "ioredis": "5.0.0"}, "devDependencies": {"vitest": "1.0.0"}}
            """,
            "apps/api/server.js": "const f = require('fastify')();\nf.get('/health', () => 'ok');\nf.listen({ port: 4000 });\n",
            "apps/site/package.json": '{"name": "site", "dependencies": {"vite": "5.0.0"}}',
            "packages/ui/package.json": '{"name": "ui", "dependencies": {"react": "18.0.0"}}',
        },
        name="mono",
    )
    names = [s["name"] for s in r["services"]]
    assert names == ["api", "site"]
    api = service(r, "api")
    assert (api["root"], api["port"], api["port_source"]) == ("apps/api", 4000, "code_default")
    assert service(r, "site")["role"] == "frontend"
    assert engines(r) == {"redis"}
    assert r["tests"][0]["command"] == "pnpm test" and r["tests"][0]["framework"] == "vitest"
    assert r["lockfiles"][0]["format"] == "pnpm v9"
    assert "no_lockfile" not in gap_codes(r)


def test_go_net_http(tmp_path):
    r = audit(
        tmp_path,
        {
            "go.mod": "module example.com/ping\n\ngo 1.22\n\nrequire github.com/lib/pq v1.10.9\n",
            "main.go": """
                package main
                import ("net/http"; "os")
                func main() {
                    port := os.Getenv("PORT")
                    if port == "" {
                        port = "8081"
                    }
                    http.HandleFunc("/healthz", nil)
                    http.ListenAndServe(":"+port, nil)
                }
            """,
            "main_test.go": 'package main\nimport "testing"\nfunc TestX(t *testing.T) {}\n',
            "migrations/001_init.up.sql": "CREATE TABLE t();\n",
            "migrations/001_init.down.sql": "DROP TABLE t;\n",
            "migrations/002_more.up.sql": "ALTER TABLE t ADD c int;\n",
        },
        name="ping",
    )
    s = service(r, "ping")
    assert (s["framework"], s["port"], s["port_source"]) == ("net/http", 8081, "code_default")
    assert engines(r) == {"postgres"}
    assert r["tests"][0]["command"] == "go test ./..."
    m = r["migrations"][0]
    assert (m["tool"], m["count"], m["with_down"], m["has_down"]) == ("golang-migrate", 2, 1, False)
    assert "no_lockfile" in gap_codes(r)


def test_rails_procfile_web_and_sidekiq(tmp_path):
    r = audit(
        tmp_path,
        {
            "Gemfile": "source 'https://rubygems.org'\ngem 'rails', '7.1.3'\ngem 'pg'\ngem 'sidekiq'\n",
            "Gemfile.lock": "GEM\n  specs:\nBUNDLED WITH\n   2.5.0\n",
            "Procfile": "web: bundle exec puma -C config/puma.rb\nworker: bundle exec sidekiq\n",
            "config/puma.rb": 'port ENV.fetch("PORT") { 3000 }\n',
            "config/database.yml": "default: &default\n  adapter: postgresql\n",
            "config/routes.rb": 'Rails.application.routes.draw do\n  get "/up" => "rails/health#show"\nend\n',
            "db/migrate/20240101000000_create_users.rb": "class CreateUsers < ActiveRecord::Migration[7.1]\n  def change\n  end\nend\n",
            "spec/models/user_spec.rb": "RSpec.describe User do\nend\n",
        },
        name="shop",
    )
    assert [s["name"] for s in r["services"]] == ["web", "worker"]
    web, worker = service(r, "web"), service(r, "worker")
    assert (web["role"], web["port"], web["port_source"]) == ("app", 3000, "code_default")
    assert web["port_evidence"] == ["config/puma.rb:1"]
    assert worker["role"] == "worker" and worker["start_command"] == "bundle exec sidekiq"
    assert web["sources"] == ["framework", "procfile"]
    assert {"postgres", "redis"} <= engines(r)
    assert r["migrations"][0]["tool"] == "rails" and r["migrations"][0]["has_down"] is True
    assert r["tests"][0]["framework"] == "rspec"


def test_spring_maven(tmp_path):
    r = audit(
        tmp_path,
        {
            "pom.xml": """
                <project xmlns="http://maven.apache.org/POM/4.0.0">
                  <dependencies>
                    <dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency>
                    <dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId></dependency>
                    <dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-test</artifactId></dependency>
                  </dependencies>
                </project>
            """,
            "src/main/resources/application.properties": "server.port=8081\nspring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.password=${DB_PASSWORD}\n",
            "src/main/java/App.java": 'class App { public static void main(String[] a) { System.getenv("FEATURE_FLAGS"); } }\n',
            "src/test/java/AppTest.java": "class AppTest { @Test void ok() {} }\n",
            "src/main/resources/db/migration/V1__init.sql": "CREATE TABLE t();\n",
        },
        name="billing",
    )
    s = service(r, "billing")
    assert (s["framework"], s["port"], s["port_source"]) == ("spring-boot", 8081, "code_default")
    assert engines(r) == {"postgres"}
    assert r["tests"][0]["command"] == "mvn test" and r["tests"][0]["framework"] == "junit"
    assert r["migrations"][0]["tool"] == "flyway"
    env = {e["name"]: e for e in r["env_vars"]}
    assert env["DB_PASSWORD"]["secret_like"] and "FEATURE_FLAGS" in env


def test_compose_stack_nginx_postgres_redis(tmp_path):
    r = audit(
        tmp_path,
        {
            "docker-compose.yml": """
                services:
                  proxy:
                    image: nginx:1.27
                    ports: ["80:80"]
                  api:
                    build: ./api
                    environment:
                      PORT: "7000"
                      DATABASE_URL: postgres://app:pw@db/app
                      REDIS_URL: redis://cache:6379
                    ports: ["7000:7000"]
                  db:
                    image: postgres:16
                  cache:
                    image: redis:7-alpine
            """,
            "api/Dockerfile": 'FROM node:20-alpine\nUSER node\nCMD ["node", "index.js"]\n',
            "api/package.json": '{"name": "api", "dependencies": {"express": "4.0.0", "pg": "8.0.0"}}',
            "api/package-lock.json": '{"lockfileVersion": 3}',
            "api/index.js": "const app = require('express')();\napp.get('/health', (q, s) => s.end());\napp.listen(process.env.PORT || 3000);\n",
        },
    )
    assert [s["name"] for s in r["services"]] == ["api", "proxy"]
    assert service(r, "proxy")["role"] == "proxy" and service(r, "proxy")["port"] == 80
    api = service(r, "api")
    assert (api["root"], api["port"], api["port_source"]) == ("api", 7000, "compose_environment")
    stores = {(d["engine"], d["service"]) for d in r["datastores"]}
    assert stores == {("postgres", "db"), ("redis", "cache")}
    env = {e["name"]: e for e in r["env_vars"]}
    assert env["DATABASE_URL"]["secret_like"] and env["DATABASE_URL"]["default"] is None
    assert env["PORT"]["services"] == ["api"]
    assert "compose_port_mismatch" in gap_codes(r)  # compose says 7000, the code 3000


def test_kubernetes_only_microservices(tmp_path):
    deploy = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          template:
            spec:
              containers:
                - name: {name}
                  image: registry.example.com/{name}:1.0
                  ports:
                    - containerPort: 8080
                  readinessProbe:
                    httpGet: {{path: /healthz, port: 8080}}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
        spec:
          ports:
            - port: 80
              targetPort: 8080
    """
    r = audit(
        tmp_path,
        {
            "k8s/orders.yaml": deploy.format(name="orders"),
            "k8s/payments.yaml": deploy.format(name="payments"),
            "orders/main.go": "package main\nfunc main() {}\n",
            "orders/go.mod": "module orders\n",
        },
    )
    assert [s["name"] for s in r["services"]] == ["orders", "payments"]
    for name in ("orders", "payments"):
        s = service(r, name)
        assert (s["port"], s["port_source"]) == (8080, "k8s_container_port")
    assert service(r, "orders")["root"] == "orders"
    assert service(r, "payments")["root"] is None
    k8s_only = [g for g in r["gaps"] if g["code"] == "k8s_only_service"]
    assert {g["service"] for g in k8s_only} == {"orders", "payments"}
    assert r["infra"]["kubernetes"][0]["kinds"] == ["Deployment", "Service"]


def test_committed_secret(tmp_path):
    key = "AKIA" + "ABCDEFGHIJKLMNOP"
    r = audit(
        tmp_path,
        {
            "app.py": f'from flask import Flask\nAWS_KEY = "{key}"\napp = Flask(__name__)\n',
            "requirements.txt": "flask\n",
        },
    )
    assert [(s["path"], s["line"], s["kind"]) for s in r["secrets"]] == [
        ("app.py", 2, "AWS Access Key")
    ]
    import json

    assert key not in json.dumps(r)
    codes = gap_codes(r)
    assert {"committed_secrets", "unpinned_dependencies", "container_runs_as_root"} - codes == {
        "container_runs_as_root"
    }
    assert next(g for g in r["gaps"] if g["code"] == "committed_secrets")["severity"] == "error"
