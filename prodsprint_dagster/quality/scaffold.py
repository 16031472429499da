"""Smoke tests for services the audit found without tests: the gap comes with its remedy.

For each HTTP service (role app or frontend) written in Python or JavaScript/TypeScript that
no test suite of the audit covers, render one file of smoke tests: pytest + requests for
Python, ``node:test`` + fetch for Node. Each route must answer without a server error
(status < 500) and the health endpoint must answer 2xx. The base URL comes from
``SMOKE_BASE_URL``; without it the tests skip, so the repository's ordinary test run is not
broken by a server that is not there.

Route paths and service names come from the repository, so they are validated (a path is
``/`` plus URL-safe characters) and rendered only as string literals (``repr`` for Python,
JSON for JavaScript), never as code. Path parameters (``<int:id>``, ``{id}``, ``:id``) are
filled with ``1``: a 404 for a missing record is still a non-5xx answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from prodsprint_dagster.names import slugify

BASE_URL_ENV = "SMOKE_BASE_URL"
HEALTH_CANDIDATES = ("/health", "/healthz", "/livez", "/readyz", "/ready", "/_health", "/ping")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_ROUTES = 50
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/<>{}\[\]-]*$")
_PARAM = re.compile(r"<[^<>/]*>|\{[^{}/]*\}|(?<=/):[A-Za-z_][A-Za-z0-9_]*|\[[^\[\]/]*\]")
_JS = ("javascript", "typescript")


def render_smoke_tests(
    audit: Mapping[str, Any], routes: Mapping[str, Sequence[str]] | None = None
) -> dict[str, str]:
    """Repository path -> file text, for every HTTP service without tests."""
    files: dict[str, str] = {}
    for service in services_without_tests(audit):
        language = (service.get("language") or "").lower()
        given = (routes or {}).get(service["name"]) or ()
        checks, health = smoke_routes(given)
        root = (service.get("root") or ".").strip("/")
        prefix = "" if root in ("", ".") else f"{root}/"
        slug = slugify(service["name"]).replace("-", "_") or "service"
        if language == "python":
            files[f"{prefix}tests/smoke/test_smoke_{slug}.py"] = _python(service, checks, health)
            files[f"{prefix}tests/smoke/requirements.txt"] = "pytest\nrequests\n"
        elif language in _JS:
            files[f"{prefix}test/smoke/{slug}.smoke.test.mjs"] = _node(service, checks, health)
    return files


def services_without_tests(audit: Mapping[str, Any]) -> list[dict[str, Any]]:
    """HTTP services no suite covers.

    A suite belongs to the service with the deepest root holding the suite's folder (or its
    evidence): in a monorepo, ``billing/``'s tests do not test the service at the root.
    """
    services = list(audit.get("services") or [])
    roots = {s["name"]: (s.get("root") or ".").strip("/") or "." for s in services}
    tested: set[str] = set()
    for suite in audit.get("tests") or []:
        paths = [(suite.get("root") or ".").strip("/") or "."]
        paths += [str(ev).rsplit(":", 1)[0] for ev in suite.get("evidence") or []]
        for path in paths:
            owner = _owner(path, roots)
            if owner is not None:
                tested.add(owner)
    return [
        s for s in services
        if s.get("role") in ("app", "frontend")
        and (s.get("language") or "").lower() in ("python", *_JS)
        and s["name"] not in tested
    ]  # fmt: skip


def _owner(path: str, roots: Mapping[str, str]) -> str | None:
    best, depth = None, -1
    for name, root in roots.items():
        inside = root == "." or path == root or path.startswith(root + "/")
        level = 0 if root == "." else root.count("/") + 1
        if inside and level > depth:
            best, depth = name, level
    return best


def smoke_routes(routes: Sequence[str]) -> tuple[list[tuple[str, str]], str]:
    """((method, concrete path) to check, health path) from ``METHOD /path`` or ``/path``."""
    checks: dict[tuple[str, str], None] = {}
    for entry in routes:
        method, _, path = str(entry).strip().rpartition(" ")
        method = (method.strip() or "GET").upper()
        if method not in SAFE_METHODS or not _PATH.fullmatch(path):
            continue  # smoke tests never change state, and never render odd text
        concrete = _PARAM.sub("1", path)
        if _PATH.fullmatch(concrete) and not re.search(r"[<>{}\[\]]", concrete):
            checks[(method, concrete)] = None
    paths = [p for _, p in checks]
    health = next((h for h in HEALTH_CANDIDATES if h in paths), "/health")
    checks.pop(("GET", health), None)
    if not checks:
        checks[("GET", "/")] = None
    return list(checks)[:MAX_ROUTES], health


def _label(service: Mapping[str, Any]) -> str:
    return slugify(str(service.get("name") or "service")) or "service"


def _python(service: Mapping[str, Any], checks: list[tuple[str, str]], health: str) -> str:
    routes = "".join(f"    ({json.dumps(m)}, {json.dumps(p)}),\n" for m, p in checks)
    return f'''"""Smoke tests for the {_label(service)} service, rendered by ProdSprint.

Run against a running instance:
    {BASE_URL_ENV}=http://localhost:8000 pytest tests/smoke
Every route must answer without a server error (< 500); the health endpoint must answer 2xx.
"""

import os

import pytest
import requests

BASE_URL = os.environ.get("{BASE_URL_ENV}", "").rstrip("/")
TIMEOUT = float(os.environ.get("SMOKE_TIMEOUT_SECONDS", "10"))
HEALTH = {json.dumps(health)}
ROUTES = [
{routes}]

pytestmark = pytest.mark.skipif(not BASE_URL, reason="set {BASE_URL_ENV} to the service's URL")


def test_health_endpoint_answers_2xx():
    response = requests.get(BASE_URL + HEALTH, timeout=TIMEOUT, allow_redirects=False)
    assert 200 <= response.status_code < 300, f"GET {{HEALTH}} -> {{response.status_code}}"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_route_answers_without_server_error(method, path):
    response = requests.request(method, BASE_URL + path, timeout=TIMEOUT, allow_redirects=False)
    assert response.status_code < 500, f"{{method}} {{path}} -> {{response.status_code}}"
'''


def _node(service: Mapping[str, Any], checks: list[tuple[str, str]], health: str) -> str:
    routes = json.dumps([list(c) for c in checks])
    return f"""// Smoke tests for the {_label(service)} service, rendered by ProdSprint.
//
// Run against a running instance:
//   {BASE_URL_ENV}=http://localhost:3000 node --test test/smoke/
// Every route must answer without a server error (< 500); the health endpoint must answer 2xx.
import {{ test }} from 'node:test';
import assert from 'node:assert/strict';

const BASE_URL = (process.env.{BASE_URL_ENV} || '').replace(/\\/+$/, '');
const TIMEOUT_MS = Number(process.env.SMOKE_TIMEOUT_SECONDS || '10') * 1000;
const HEALTH = {json.dumps(health)};
const ROUTES = {routes};
const skip = BASE_URL ? false : 'set {BASE_URL_ENV} to the service URL';

async function call(method, path) {{
  return fetch(BASE_URL + path, {{
    method,
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }});
}}

test('health endpoint answers 2xx', {{ skip }}, async () => {{
  const res = await call('GET', HEALTH);
  assert.ok(res.status >= 200 && res.status < 300, `GET ${{HEALTH}} -> ${{res.status}}`);
}});

for (const [method, path] of ROUTES) {{
  test(`${{method}} ${{path}} answers without a server error`, {{ skip }}, async () => {{
    const res = await call(method, path);
    assert.ok(res.status < 500, `${{method}} ${{path}} -> ${{res.status}}`);
  }});
}}
"""
