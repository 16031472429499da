"""Which routes to drive: a served OpenAPI document, else the code's route table, else a list.

The running service is asked first (``/openapi.json`` and the other usual locations): what it
serves is what it answers. Otherwise the source is read (never executed) for the route
declarations of Flask, FastAPI, Express and Django, each found route keeping its file:line as
evidence. Otherwise a configured list is used, and as the last resort the health path.

Only GET routes without path parameters are driven by default: a load test must not create
orders, and ``/orders/{id}`` has no id to fill in. Every route found is still reported, with
the reason it was or was not driven.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPENAPI_PATHS = (
    "/openapi.json",
    "/swagger.json",
    "/v3/api-docs",
    "/api/openapi.json",
    "/docs/openapi.json",
    "/api-docs",
)
MAX_OPENAPI_BYTES = 5 * 1024 * 1024
MAX_SOURCE_FILES = 5000
MAX_SOURCE_BYTES = 1024 * 1024
MAX_DEPTH = 12
_SKIP_DIRS = frozenset(
    ("node_modules", "bower_components", "vendor", "third_party", "venv", "env", "site-packages",
     "__pycache__", "dist", "build", "target", "coverage", "tests", "test", "__tests__", "spec",
     "docs", "examples")
)  # fmt: skip
MAX_ROUTES = 200
_SOURCE_EXT = (".py", ".js", ".mjs", ".cjs", ".ts")
_TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec|specs)/|(^|/)(test_[^/]*|[^/]*_test\.py|[^/]*\.(test|spec)\.[jt]s)$"
)
# A JavaScript file declares routes only if it builds a server (not axios.get('/x') calls).
_JS_SERVER_HINTS = ("express", "Router(", "fastify", "koa", "hono")
_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")

# Flask / FastAPI / Starlette-style decorators: @app.get("/x"), @router.route("/x", methods=[..])
_PY_DECORATOR = re.compile(
    r"""^[ \t]*@\s*[\w.]+\.(?P<verb>get|post|put|patch|delete|head|options|route|api_route)\(\s*"""
    r"""(?:path\s*=\s*)?(?P<q>['"])(?P<path>[^'"\n]*)(?P=q)(?P<rest>[^\n]*)""",
    re.MULTILINE,
)
_PY_METHODS = re.compile(r"methods\s*=\s*[\[(]([^\])]*)[\])]")
_PY_PREFIX = re.compile(
    r"""^\s*(?P<var>\w+)\s*=\s*(?:APIRouter|Blueprint)\((?P<args>[^\n]*)""", re.MULTILINE
)
_PREFIX_ARG = re.compile(r"""(?:url_)?prefix\s*=\s*(['"])([^'"\n]*)\1""")
# Express: app.get('/x', ...), router.post("/x", ...)
_JS_ROUTE = re.compile(
    r"""\b[\w$]+\.(?P<verb>get|post|put|patch|delete|head|options|all)\(\s*"""
    r"""(?P<q>['"`])(?P<path>/[^'"`\n]*)(?P=q)"""
)
# Django: path("orders/", view), re_path(r"^x/$", view)
_DJANGO = re.compile(r"""\b(?P<fn>path|re_path)\(\s*r?(?P<q>['"])(?P<path>[^'"\n]*)(?P=q)""")
# Path parameters of every supported framework: <id>, <int:id>, {id}, :id, regex groups, *.
_PARAM = re.compile(r"<[^>]*>|\{[^}]*\}|/:[\w$]+|[*()\[\]^$]")


@dataclass(frozen=True)
class Route:
    """One route: method and path, where it was found, and whether it is driven (and why not)."""

    path: str
    method: str = "GET"
    source: str = "code"  # openapi | code | config | health | argument
    evidence: str | None = None  # file:line for code, the document URL for openapi
    framework: str | None = None
    driven: bool = True
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "method": self.method,
            "source": self.source,
            "evidence": self.evidence,
            "framework": self.framework,
            "driven": self.driven,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Discovery:
    """The routes found for a service and where they came from."""

    source: str
    routes: tuple[Route, ...]

    @property
    def driven(self) -> list[str]:
        return [r.path for r in self.routes if r.driven]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "driven": self.driven,
            "routes": [r.to_dict() for r in self.routes],
        }


def _judged(route: Route) -> Route:
    """The route with its driven flag set: GET and no path parameters."""
    if route.method != "GET":
        reason = f"{route.method} changes state; only GET routes are driven"
    elif _PARAM.search(route.path):
        reason = "has path parameters; no value to fill in"
    elif not route.path.startswith("/") or re.search(r"[\s\x00-\x1f]", route.path):
        reason = "not a plain path"
    else:
        return Route(**{**route.__dict__, "driven": True, "reason": None})
    return Route(**{**route.__dict__, "driven": False, "reason": reason})


def _unique(routes: Iterable[Route]) -> tuple[Route, ...]:
    seen: set[tuple[str, str]] = set()
    out = []
    for route in routes:
        key = (route.method, route.path)
        if key not in seen:
            seen.add(key)
            out.append(_judged(route))
        if len(out) >= MAX_ROUTES:
            break
    return tuple(out)


# -- OpenAPI ---------------------------------------------------------------------------------


def openapi_routes(base_url: str, *, timeout: float = 2.0) -> list[Route] | None:
    """The routes of the first OpenAPI/Swagger document the service serves, or None."""
    for path in OPENAPI_PATHS:
        url = base_url.rstrip("/") + path
        doc = _fetch_json(url, timeout)
        if isinstance(doc, dict) and isinstance(doc.get("paths"), dict):
            return routes_from_openapi(doc, url)
    return None


def _fetch_json(url: str, timeout: float) -> Any:
    if not url.startswith(("http://", "https://")):
        return None
    req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - checked
            if resp.status != 200:
                return None
            data = resp.read(MAX_OPENAPI_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if len(data) > MAX_OPENAPI_BYTES:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def routes_from_openapi(doc: dict[str, Any], where: str) -> list[Route]:
    """Every operation of an OpenAPI 3 / Swagger 2 document (server base path applied)."""
    base = ""
    if isinstance(doc.get("basePath"), str):
        base = doc["basePath"].rstrip("/")
    servers = doc.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = str(servers[0].get("url") or "")
        if url.startswith("/"):
            base = url.rstrip("/")
    routes = []
    for path, ops in doc["paths"].items():
        if not isinstance(path, str) or not isinstance(ops, dict):
            continue
        for method in ops:
            if isinstance(method, str) and method.lower() in _METHODS:
                routes.append(
                    Route(base + path, method.upper(), "openapi", where, framework="openapi")
                )
    return routes


# -- source code -----------------------------------------------------------------------------


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path if path.startswith("/") else "/" + path
    return prefix.rstrip("/") + ("/" + path.lstrip("/") if path.strip("/") else "")


def _python_routes(rel: str, text: str) -> list[Route]:
    prefixes: dict[str, str] = {}
    for match in _PY_PREFIX.finditer(text):
        arg = _PREFIX_ARG.search(match.group("args"))
        if arg:
            prefixes[match.group("var")] = arg.group(2)
    lowered = text.lower()
    framework = next((f for f in ("fastapi", "aiohttp", "starlette", "flask") if f in lowered),
                     None)  # fmt: skip
    routes = []
    for match in _PY_DECORATOR.finditer(text):
        owner = match.group(0).split("@", 1)[1].strip().split(".")[0]
        verb = match.group("verb")
        if verb in ("route", "api_route"):
            listed = _PY_METHODS.search(match.group("rest"))
            methods = re.findall(r"['\"](\w+)['\"]", listed.group(1)) if listed else ["GET"]
        else:
            methods = [verb]
        path = _join(prefixes.get(owner, ""), match.group("path"))
        for method in methods:
            routes.append(Route(path, method.upper(), "code", f"{rel}:{_line(text, match.start())}",
                                framework))  # fmt: skip
    if rel.endswith("urls.py") or "urlpatterns" in text:
        for match in _DJANGO.finditer(text):
            raw = match.group("path")
            if match.group("fn") == "re_path":
                raw = raw.lstrip("^").rstrip("$")
            routes.append(Route("/" + raw.lstrip("/"), "GET", "code",
                                f"{rel}:{_line(text, match.start())}", "django"))  # fmt: skip
    return routes


def _js_routes(rel: str, text: str) -> list[Route]:
    framework = "express" if "express" in text else None
    routes = []
    for match in _JS_ROUTE.finditer(text):
        verb = match.group("verb")
        method = "GET" if verb == "all" else verb.upper()
        routes.append(
            Route(
                match.group("path"),
                method,
                "code",
                f"{rel}:{_line(text, match.start())}",
                framework,
            )
        )
    return routes


def source_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, path) of the source files worth reading under ``root``.

    The tree is untrusted: links are never followed, depth and file count are bounded, and
    dependencies, virtualenvs, build output and tests are skipped.
    """
    root = Path(root)
    seen = 0
    for current, dirs, files in os.walk(root, followlinks=False):
        rel_dir = Path(current).relative_to(root)
        if len(rel_dir.parts) >= MAX_DEPTH:
            dirs.clear()
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(_SOURCE_EXT):
                continue
            rel = (rel_dir / name).as_posix()
            path = Path(current) / name
            if _TEST_PATH.search(rel) or path.is_symlink():
                continue
            seen += 1
            if seen > MAX_SOURCE_FILES:
                return
            yield rel, path


def _read(path: Path) -> str | None:
    """At most MAX_SOURCE_BYTES of a regular file (not through a final link), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES or b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def code_routes(root: Path) -> list[Route]:
    """Route declarations in the source under ``root`` (tests and dependencies excluded)."""
    routes: list[Route] = []
    for rel, path in source_files(root):
        text = _read(path)
        if not text:
            continue
        if rel.endswith(".py"):
            if "route" in text or "path(" in text or ".get(" in text:
                routes.extend(_python_routes(rel, text))
        elif any(hint in text for hint in _JS_SERVER_HINTS):
            routes.extend(_js_routes(rel, text))
    routes.sort(key=lambda r: (r.path, r.method, r.evidence or ""))
    return routes


# -- the decision ----------------------------------------------------------------------------


def discover_routes(
    *,
    base_url: str | None = None,
    root: Path | None = None,
    configured: Sequence[str] = (),
    health_path: str | None = None,
) -> Discovery:
    """The routes of a service: OpenAPI served at ``base_url``, else code, else configured.

    Falls back to ``health_path`` when nothing else is found, so there is always something to
    measure; a discovery whose every route is excluded (all POST, all parameterized) falls
    through to the next source the same way.
    """
    candidates: list[tuple[str, list[Route]]] = []
    if base_url:
        found = openapi_routes(base_url)
        if found:
            candidates.append(("openapi", found))
    if root is not None and Path(root).is_dir():
        found = code_routes(Path(root))
        if found:
            candidates.append(("code", found))
    if configured:
        candidates.append(("config", [Route(p, "GET", "config") for p in configured]))
    for source, routes in candidates:
        judged = _unique(routes)
        if any(r.driven for r in judged):
            return Discovery(source, judged)
    fallback = Route(health_path or "/", "GET", "health", None)
    rest = [r for _, routes in candidates for r in _unique(routes)]
    return Discovery("health", _unique([fallback, *rest]))


def explicit_routes(paths: Sequence[str]) -> Discovery:
    """Routes named by the caller (``--route``): driven as given, whatever their method."""
    return Discovery("argument", tuple(Route(p, "GET", "argument") for p in paths))
