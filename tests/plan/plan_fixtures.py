"""Three audit reports (single Python service, compose stack, Node/Go monorepo) for the tests."""

from __future__ import annotations

from pathlib import Path

from prodsprint_dagster.audit import audit_repository

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"

COMPOSE_TREE = {
    "docker-compose.yml": """\
services:
  web:
    build: .
    command: gunicorn --bind 0.0.0.0:8000 app:app
    environment:
      DATABASE_URL: postgresql://app:app@db:5432/app
      REDIS_URL: redis://cache:6379/0
    depends_on: [db, cache]
  db:
    image: postgres:16
  cache:
    image: redis:7
""",
    "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nUSER app\n"
    'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]\n',
    "requirements.txt": "flask==3.0.0\ngunicorn==22.0.0\nredis==5.0.0\npsycopg==3.2.1\n",
    "app.py": """\
import os
from flask import Flask

app = Flask(__name__)
SECRET_KEY = os.environ["SECRET_KEY"]
BUCKET = os.environ.get("S3_BUCKET", "uploads")
TIMEOUT = os.getenv("REQUEST_TIMEOUT", "30")


@app.get("/healthz")
def health():
    return "ok"
""",
    "tests/test_app.py": "def test_ok():\n    assert True\n",
    "pytest.ini": "[pytest]\n",
}

MONOREPO_TREE = {
    "services/api/package.json": """\
{"name": "api", "scripts": {"start": "node server.js", "test": "jest"},
 "dependencies": {"express": "4.19.2"}, "devDependencies": {"jest": "29.7.0"}}
""",
    "services/api/package-lock.json": '{"name": "api", "lockfileVersion": 3, "packages": {}}\n',
    "services/api/server.js": """\
const express = require('express');
const app = express();
const token = process.env.STRIPE_API_KEY;
app.get('/health', (req, res) => res.send('ok'));
app.listen(process.env.PORT || 3000);
""",
    "services/api/Dockerfile": 'FROM node:20\nWORKDIR /app\nCOPY . .\nUSER node\nCMD ["node", "server.js"]\n',  # noqa: E501
    "services/web/package.json": """\
{"name": "web", "scripts": {"start": "next start", "test": "vitest"},
 "dependencies": {"next": "14.2.0", "react": "18.3.1"}, "devDependencies": {"vitest": "1.6.0"}}
""",
    "services/web/package-lock.json": '{"name": "web", "lockfileVersion": 3, "packages": {}}\n',
    "services/web/pages/index.tsx": "export default function Home() { return <p>hi</p>; }\n",
    "services/web/Dockerfile": 'FROM node:20\nWORKDIR /app\nCOPY . .\nUSER node\nCMD ["npm", "start"]\n',  # noqa: E501
    "services/billing/go.mod": "module example.com/billing\n\ngo 1.22\n",
    "services/billing/go.sum": "",
    "services/billing/main.go": """\
package main

import (
\t"net/http"
\t"os"
)

func main() {
\t_ = os.Getenv("BILLING_DB_PASSWORD")
\thttp.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
\thttp.ListenAndServe(":8080", nil)
}
""",
    "services/billing/main_test.go": 'package main\n\nimport "testing"\n\nfunc TestX(t *testing.T) {}\n',  # noqa: E501
    "services/billing/Dockerfile": 'FROM golang:1.22\nWORKDIR /src\nCOPY . .\nUSER 1000\nCMD ["/app"]\n',  # noqa: E501
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def audits(tmp: Path) -> dict[str, dict]:
    """name -> audit report for the three fixture repositories."""
    return {
        "shop-api": audit_repository(REPO_ROOT / "examples" / "shop-api"),
        "compose": audit_repository(write_tree(tmp / "compose-stack", COMPOSE_TREE)),
        "monorepo": audit_repository(write_tree(tmp / "monorepo", MONOREPO_TREE)),
    }
