"""Pull requests through the GitHub REST API, for plan and hotfix branches.

Only what ProdSprint needs: open a pull request (or find the open one for the branch). Rate
limits are honoured: a 429, or a 403 with ``X-RateLimit-Remaining: 0``, waits for
``Retry-After`` or the reset time (bounded), with exponential backoff for 5xx answers. The
token is read from the environment variable the config names and never appears in errors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from prodsprint_dagster.errors import ProdSprintError

_GITHUB_URL = re.compile(
    r"(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$"
)


class GitHubError(ProdSprintError):
    """The GitHub API refused or failed a request."""


def github_slug(url: str) -> tuple[str, str] | None:
    """(owner, repo) for a GitHub URL, else None (no pull request is possible)."""
    match = _GITHUB_URL.match(url)
    return (match["owner"], match["name"]) if match else None


@dataclass
class GitHubClient:
    token: str
    api_url: str = "https://api.github.com"
    max_attempts: int = 5
    max_wait_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 30.0

    def open_pull_request(
        self, owner: str, repo: str, *, head: str, base: str, title: str, body: str
    ) -> dict:
        """Open a pull request for ``head``, or return the one already open for it."""
        existing = self._request(
            "GET", f"/repos/{owner}/{repo}/pulls", params={"head": f"{owner}:{head}",
                                                            "state": "open"},
        )  # fmt: skip
        if existing:
            return existing[0]
        return self._request(
            "POST", f"/repos/{owner}/{repo}/pulls",
            json={"head": head, "base": base, "title": title, "body": body},
        )  # fmt: skip

    def _request(self, method: str, path: str, **kwargs):
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "prodsprint",
        }
        delay = 1.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                url = self.api_url.rstrip("/") + path
                resp = requests.request(
                    method, url, headers=headers, timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                if attempt == self.max_attempts:
                    raise GitHubError(f"GitHub {method} {path}: {type(exc).__name__}") from None
                self.sleep(delay)
                delay *= 2
                continue
            wait = self._rate_limit_wait(resp)
            if wait is not None or resp.status_code >= 500:
                if attempt == self.max_attempts:
                    break
                self.sleep(min(wait if wait is not None else delay, self.max_wait_seconds))
                delay *= 2
                continue
            if resp.status_code >= 400:
                message = _message(resp)
                raise GitHubError(f"GitHub {method} {path}: {resp.status_code} {message}")
            return resp.json()
        raise GitHubError(
            f"GitHub {method} {path}: still {resp.status_code} after {self.max_attempts} tries"
        )

    @staticmethod
    def _rate_limit_wait(resp: requests.Response) -> float | None:
        limited = resp.status_code == 429 or (
            resp.status_code == 403 and resp.headers.get("X-RateLimit-Remaining") == "0"
        )
        if not limited:
            return None
        if "Retry-After" in resp.headers:
            return float(resp.headers["Retry-After"])
        reset = resp.headers.get("X-RateLimit-Reset")
        return max(0.0, float(reset) - time.time()) if reset else 1.0


def _message(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("message", ""))[:300]
    except ValueError:
        return resp.text[:300]
