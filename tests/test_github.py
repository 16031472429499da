"""The pull-request client against a local stand-in for the GitHub REST API.

GitHub cannot run here; the stand-in is an HTTP server on loopback that answers like the API
(including rate limiting), so the real requests code path is exercised.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prodsprint_dagster.github import GitHubClient, GitHubError, github_slug


class FakeGitHub(BaseHTTPRequestHandler):
    calls: list = []
    script: list = []  # status codes/headers to answer before the real answer

    def log_message(self, *args):
        pass

    def _answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.calls.append((self.command, self.path, self.headers.get("Authorization"), body))
        if self.script:
            status, headers = self.script.pop(0)
            return self._answer(status, {"message": "API rate limit exceeded"}, headers)
        if self.command == "GET":
            return self._answer(200, [])
        return self._answer(201, {"number": 7, "html_url": "https://github.com/acme/shop/pull/7"})

    do_GET = do_POST = _handle


@pytest.fixture
def api():
    FakeGitHub.calls, FakeGitHub.script = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_opens_a_pull_request(api):
    client = GitHubClient(token="t0ken", api_url=api, sleep=lambda s: None)
    pr = client.open_pull_request("acme", "shop", head="prodsprint/plan-abc", base="main",
                                  title="Deploy plan", body="...")  # fmt: skip
    assert pr["number"] == 7
    (m1, p1, auth, _), (m2, p2, _, body) = FakeGitHub.calls
    assert (m1, m2) == ("GET", "POST") and p2 == "/repos/acme/shop/pulls"
    assert p1.startswith("/repos/acme/shop/pulls?head=acme%3Aprodsprint%2Fplan-abc")
    assert auth == "Bearer t0ken"
    assert body == {"head": "prodsprint/plan-abc", "base": "main", "title": "Deploy plan",
                    "body": "..."}  # fmt: skip


def test_rate_limits_are_waited_out(api):
    waits = []
    FakeGitHub.script = [(403, {"X-RateLimit-Remaining": "0", "Retry-After": "3"}),
                         (429, {"Retry-After": "1"}), (502, {})]  # fmt: skip
    client = GitHubClient(token="t", api_url=api, sleep=waits.append)
    assert client.open_pull_request("a", "b", head="h", base="main", title="t", body="")
    assert waits == [3.0, 1.0, 4.0]  # Retry-After, Retry-After, then backoff for the 502


def test_errors_never_carry_the_token(api):
    FakeGitHub.script = [(422, {})]
    client = GitHubClient(token="sekret-token", api_url=api, sleep=lambda s: None)
    with pytest.raises(GitHubError, match="422") as info:
        client.open_pull_request("a", "b", head="h", base="main", title="t", body="")
    assert "sekret-token" not in str(info.value)


def test_github_slugs():
    assert github_slug("https://github.com/acme/shop.git") == ("acme", "shop")
    assert github_slug("git@github.com:acme/shop.git") == ("acme", "shop")
    assert github_slug("https://x:tok@github.com/acme/shop") == ("acme", "shop")
    assert github_slug("/srv/git/shop") is None
