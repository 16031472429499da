"""Rendered smoke tests run for real against a local HTTP server (pytest and node:test)."""

import ast
import http.server
import os
import shutil
import subprocess
import sys
import threading

import pytest

from prodsprint_dagster.quality.scaffold import render_smoke_tests, services_without_tests

AUDIT = {
    "services": [
        {"name": "shop", "root": ".", "role": "app", "language": "Python"},
        {"name": "web-ui", "root": "web", "role": "frontend", "language": "TypeScript"},
        {"name": "billing", "root": "billing", "role": "app", "language": "Python"},
        {"name": "mailer", "root": "mailer", "role": "worker", "language": "Python"},
        {"name": "ledger", "root": "ledger", "role": "app", "language": "Go"},
    ],
    # billing has its suite; the root-level pytest.ini does not make shop tested either way.
    "tests": [{"framework": "pytest", "root": "billing", "command": "pytest",
               "evidence": ["billing/pytest.ini:1"]}],
}  # fmt: skip
ROUTES = {
    "shop": ["GET /orders", "/orders/<int:order_id>", "POST /orders", "/healthz",
             '/x"); import os; os.system("id"); ("', "javascript:alert(1)"],
    "web-ui": ["/", "/cart/:id", "/api/items/{item}"],
}  # fmt: skip


class Handler(http.server.BaseHTTPRequestHandler):
    statuses = {"/healthz": 200, "/health": 200, "/orders": 200, "/cart/1": 200,
                "/api/items/1": 200, "/": 200}  # fmt: skip
    seen: list[str] = []

    def do_GET(self):
        self.seen.append(self.path)
        status = self.statuses.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Handler
    httpd.shutdown()
    httpd.server_close()


def write(tmp_path, files):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)


def run_pytest(folder, base_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMOKE_")}
    if base_url:
        env["SMOKE_BASE_URL"] = base_url
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/smoke"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_only_untested_http_services_get_smoke_tests():
    assert [s["name"] for s in services_without_tests(AUDIT)] == ["shop", "web-ui"]
    files = render_smoke_tests(AUDIT, ROUTES)
    assert sorted(files) == ["tests/smoke/requirements.txt", "tests/smoke/test_smoke_shop.py",
                             "web/test/smoke/web_ui.smoke.test.mjs"]  # fmt: skip
    shop = files["tests/smoke/test_smoke_shop.py"]
    ast.parse(shop)  # valid Python whatever the routes said
    assert "os.system" not in shop and "javascript:" not in shop and '"POST"' not in shop
    assert '("GET", "/orders/1")' in shop and 'HEALTH = "/healthz"' in shop
    assert '["GET", "/cart/1"]' in files["web/test/smoke/web_ui.smoke.test.mjs"]
    # Without routes: the health endpoint and the root page.
    bare = render_smoke_tests(AUDIT)["tests/smoke/test_smoke_shop.py"]
    assert 'HEALTH = "/health"' in bare and '("GET", "/"),' in bare


def test_rendered_pytest_file_passes_against_a_real_server_and_catches_a_5xx(tmp_path, server):
    url, handler = server
    write(tmp_path, render_smoke_tests(AUDIT, ROUTES))
    proc = run_pytest(tmp_path, url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout  # health + /orders + /orders/1 (a 404 is not a 5xx)
    assert {"/healthz", "/orders", "/orders/1"} <= set(handler.seen)

    handler.statuses = {**handler.statuses, "/orders": 503}
    try:
        proc = run_pytest(tmp_path, url)
    finally:
        handler.statuses = {**handler.statuses, "/orders": 200}
    assert proc.returncode == 1 and "GET /orders -> 503" in proc.stdout

    proc = run_pytest(tmp_path, None)  # no base URL: skipped, never a false failure
    assert proc.returncode == 0 and "3 skipped" in proc.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_rendered_node_test_file_passes_against_a_real_server(tmp_path, server):
    url, _ = server
    write(tmp_path, render_smoke_tests(AUDIT, ROUTES))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SMOKE_BASE_URL": url}
    proc = subprocess.run(
        ["node", "--test", "web/test/smoke/web_ui.smoke.test.mjs"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# pass 4" in proc.stdout or "pass 4" in proc.stdout
