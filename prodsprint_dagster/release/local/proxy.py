"""The weighted reverse proxy of one environment (staging, prod), run as its own process.

Each service gets its own listening port; requests are spread over the service's versions by
smooth weighted round robin (the nginx algorithm): deterministic, so over any run of
``sum(weights)`` consecutive requests each version gets exactly its share, and the split over N
requests is off by at most one request per version. A request picks its backend when it
arrives and keeps it, so a weight change or a removed version never touches requests already
in flight; only new requests see the new weights.

Built on aiohttp: its C HTTP parser on the server side, and one pooled keep-alive client
session to the backends (connections are reused across requests, the cost that dominates a
local proxy). uvloop is used when installed. Routes (ports, backends, weights) are written to
a file on every change, so a restarted proxy comes back with the same ports and weights;
statistics are in memory and start again from zero after a restart.

The admin API listens on its own port, on 127.0.0.1 only, and requires the bearer token
from ``PRODSPRINT_PROXY_TOKEN`` except for ``/healthz`` and the Prometheus ``/metrics``.

Run as ``python .../release/local/proxy.py --environment E --admin-port P --routes FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from yarl import URL

if __package__:
    from prodsprint_dagster.release.local.procs import read_json, write_json_atomic
    from prodsprint_dagster.release.local.stats import ProxyCollector, StatsRow, VersionStats
else:  # started as a script by the local target: see procs.script_argv
    from procs import read_json, write_json_atomic  # type: ignore[no-redef]
    from stats import ProxyCollector, StatsRow, VersionStats  # type: ignore[no-redef]

TOKEN_ENV = "PRODSPRINT_PROXY_TOKEN"  # noqa: S105 - the name of the variable
VERSION_HEADER = "X-ProdSprint-Version"  # = release.target.VERSION_HEADER (script: no import)
# Blue/green preview (Argo Rollouts' previewService): a request carrying the admin token in
# this header goes to the service's preview version whatever the weights say. Only the
# release's own analysis load knows the token, so users never reach an unpromoted version.
PREVIEW_HEADER = "X-ProdSprint-Preview"
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)
# Responses up to this size are read whole and sent with a Content-Length (fast path);
# larger or unsized ones are streamed through chunk by chunk.
BUFFER_LIMIT = 1024 * 1024
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Versions removed from routing keep their statistics (the judge may read them after a
# rollback) until this many newer ones have replaced them.
KEEP_RETIRED = 8


class Backend:
    """One routed version; a request holds on to its Backend even if the routes change."""

    __slots__ = ("base", "current", "stats", "version", "weight")

    def __init__(self, version: str, url: str, weight: int, stats: VersionStats):
        self.version = version
        self.base = url.rstrip("/")
        self.weight = weight
        self.current = 0
        self.stats = stats


class Service:
    """A service's listener, its routed backends and the statistics of all its versions."""

    def __init__(self, name: str, capacity: int):
        self.name = name
        self.capacity = capacity
        self.listen_port = 0
        self.backends: dict[str, Backend] = {}
        self.weighted: list[Backend] = []
        self.total = 0
        self.preview: Backend | None = None
        self.stats: dict[str, VersionStats] = {}
        self.runner: web.ServerRunner | None = None

    def configure(
        self, backends: dict[str, str], weights: dict[str, int], preview: str | None = None
    ) -> None:
        """Swap the routing table in one step (no await: no request sees half of it)."""
        new: dict[str, Backend] = {}
        for version, url in backends.items():
            st = self.stats.get(version)
            if st is None:
                st = self.stats[version] = VersionStats(self.capacity)
            new[version] = Backend(version, url, int(weights.get(version, 0)), st)
        self.backends = new
        self.preview = new.get(preview) if preview else None
        self.weighted = [b for b in new.values() if b.weight > 0]
        self.total = sum(b.weight for b in self.weighted)
        retired = [v for v in self.stats if v not in new]
        for version in retired[: max(0, len(retired) - KEEP_RETIRED)]:
            if self.stats[version].inflight == 0:
                del self.stats[version]

    def pick(self) -> Backend | None:
        """Smooth weighted round robin: O(versions), and versions are few."""
        best: Backend | None = None
        for b in self.weighted:
            b.current += b.weight
            if best is None or b.current > best.current:
                best = b
        if best is not None:
            best.current -= self.total
        return best

    def describe(self) -> dict[str, Any]:
        return {
            "listen_port": self.listen_port,
            "backends": {v: b.base for v, b in self.backends.items()},
            "weights": {v: b.weight for v, b in self.backends.items()},
            "preview": self.preview.version if self.preview else None,
            "inflight": {v: st.inflight for v, st in self.stats.items()},
            "requests": {v: st.requests for v, st in self.stats.items()},
        }


class Proxy:
    def __init__(
        self,
        environment: str,
        routes_path: Path,
        *,
        listen_host: str = "127.0.0.1",
        capacity: int = 50_000,
        upstream_timeout: float = 60.0,
        token: str = "",
    ):
        self.environment = environment
        self.routes_path = routes_path
        self.listen_host = listen_host
        self.capacity = capacity
        self.upstream_timeout = upstream_timeout
        self.token = token
        self.services: dict[str, Service] = {}
        self.session: aiohttp.ClientSession | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ProxyCollector(environment, self.stats_rows))

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=1024, limit_per_host=0, keepalive_timeout=30.0, ttl_dns_cache=300
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=5.0, sock_read=self.upstream_timeout
            ),
            auto_decompress=False,  # pass bodies through byte for byte
            cookie_jar=aiohttp.DummyCookieJar(),  # never carry one client's cookies to another
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        saved = read_json(self.routes_path, {}) or {}
        for name, route in (saved.get("services") or {}).items():
            try:
                await self.configure(name, route, persist=False)
            except OSError as exc:
                print(f"proxy: cannot restore service {name!r}: {exc}", flush=True)

    async def close(self) -> None:
        for svc in list(self.services.values()):
            if svc.runner is not None:
                await svc.runner.cleanup()
        if self.session is not None:
            await self.session.close()

    def persist(self) -> None:
        routes = {
            name: {
                "listen_port": svc.listen_port,
                "backends": {v: b.base for v, b in svc.backends.items()},
                "weights": {v: b.weight for v, b in svc.backends.items()},
                "preview": svc.preview.version if svc.preview else None,
            }
            for name, svc in self.services.items()
        }
        write_json_atomic(self.routes_path, {"environment": self.environment, "services": routes})

    async def configure(self, name: str, route: dict[str, Any], *, persist: bool = True) -> Service:
        backends = {str(v): str(u) for v, u in (route.get("backends") or {}).items()}
        weights = {str(v): int(w) for v, w in (route.get("weights") or {}).items()}
        if any(w < 0 for w in weights.values()):
            raise ValueError("weights must be >= 0")
        unknown = set(weights) - set(backends)
        if unknown:
            raise ValueError(f"weights for versions without a backend: {sorted(unknown)}")
        preview = route.get("preview")
        if preview is not None and str(preview) not in backends:
            raise ValueError(f"preview version {preview!r} has no backend")
        port = int(route.get("listen_port") or 0)
        svc = self.services.get(name)
        if svc is None:
            svc = Service(name, self.capacity)
        svc.configure(backends, weights, str(preview) if preview is not None else None)
        if svc.runner is None or (port and port != svc.listen_port):
            await self._listen(svc, port)
        self.services[name] = svc
        if persist:
            self.persist()
        return svc

    async def _listen(self, svc: Service, port: int) -> None:
        old = svc.runner
        server = web.Server(lambda request: self.handle(svc, request), access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=30.0)
        await runner.setup()
        site = web.TCPSite(runner, self.listen_host, port, backlog=1024, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        sockets = runner.addresses
        svc.listen_port = int(sockets[0][1]) if sockets else port
        svc.runner = runner
        if old is not None:
            asyncio.get_running_loop().create_task(old.cleanup())

    async def remove(self, name: str) -> bool:
        svc = self.services.pop(name, None)
        if svc is None:
            return False
        self.persist()
        if svc.runner is not None:
            await svc.runner.cleanup()  # stops accepting; waits for requests in flight
        return True

    def stats_rows(self) -> list[StatsRow]:
        rows: list[StatsRow] = []
        for name, svc in self.services.items():
            for version, st in svc.stats.items():
                backend = svc.backends.get(version)
                rows.append((name, version, st, backend.weight if backend else 0, bool(backend)))
        return rows

    # -- data path -----------------------------------------------------------------------

    async def handle(self, svc: Service, request: web.BaseRequest) -> web.StreamResponse:
        backend = svc.pick()
        if svc.preview is not None and self.token:
            asked = request.headers.get(PREVIEW_HEADER)
            if asked is not None and hmac.compare_digest(asked, self.token):
                backend = svc.preview
        if backend is None:
            return web.Response(status=503, text=f"no version of {svc.name} takes traffic\n")
        st = backend.stats
        st.inflight += 1
        loop = asyncio.get_running_loop()
        start = loop.time()
        status = 502
        try:
            response = await self.forward(request, backend)
            status = response.status
            return response
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's convention)
            raise
        finally:
            st.inflight -= 1
            st.record(status, loop.time() - start, time.time())

    def _request_headers(self, request: web.BaseRequest) -> CIMultiDict[str]:
        drop = set(HOP_BY_HOP) | {PREVIEW_HEADER.lower()}  # the token never goes upstream
        for token in request.headers.getall("Connection", ()):
            drop.update(t.strip().lower() for t in token.split(","))
        headers: CIMultiDict[str] = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in drop
        )
        peer = request.remote or ""
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        headers.setdefault("X-Forwarded-Proto", request.scheme)
        if "Host" in request.headers:
            headers.setdefault("X-Forwarded-Host", request.headers["Host"])
        return headers

    async def forward(self, request: web.BaseRequest, backend: Backend) -> web.StreamResponse:
        assert self.session is not None
        url = URL(backend.base + request.raw_path, encoded=True)
        headers = self._request_headers(request)
        data = request.content if request.body_exists else None
        retry = data is None and request.method in RETRY_METHODS
        for attempt in (0, 1):
            try:
                upstream = await self.session.request(
                    request.method, url, headers=headers, data=data, allow_redirects=False
                )
                break
            except TimeoutError as exc:  # aiohttp's connect/read time-outs subclass it
                return self._error(504, backend, exc)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                # A pooled keep-alive connection the backend had just closed: one retry on a
                # fresh connection is safe for requests without a body and idempotent methods.
                if attempt == 0 and retry and not isinstance(exc, aiohttp.ClientConnectorError):
                    continue
                return self._error(502, backend, exc)
            except (aiohttp.ClientError, ValueError) as exc:
                return self._error(502, backend, exc)
        try:
            out_headers = CIMultiDict(
                (k, v)
                for k, v in upstream.headers.items()
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
            )
            out_headers[VERSION_HEADER] = backend.version
            length = upstream.content_length
            if request.method == "HEAD" or (length is not None and length <= BUFFER_LIMIT):
                body = await upstream.read()
                upstream.release()
                return web.Response(status=upstream.status, headers=out_headers, body=body)
        except TimeoutError as exc:
            upstream.release()
            return self._error(504, backend, exc)
        except aiohttp.ClientError as exc:
            upstream.release()
            return self._error(502, backend, exc)
        try:
            response = web.StreamResponse(status=upstream.status, headers=out_headers)
            if length is not None:
                response.content_length = length
            await response.prepare(request)
            # Once headers are sent an upstream failure can only abort the connection: the
            # exception propagates, aiohttp closes it, and handle() records a 502.
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            upstream.release()

    def _error(self, status: int, backend: Backend, exc: BaseException) -> web.Response:
        reason = type(exc).__name__
        return web.Response(
            status=status,
            text=f"proxy: version {backend.version} failed: {reason}\n",
            headers={VERSION_HEADER: backend.version},
        )

    # -- admin API -----------------------------------------------------------------------

    def admin_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._prometheus)
        app.router.add_get("/services", self._list)
        app.router.add_put("/services/{name}", self._put)
        app.router.add_delete("/services/{name}", self._delete)
        app.router.add_get("/services/{name}/metrics", self._metrics)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in ("/healthz", "/metrics") and request.method == "GET":
            return await handler(request)
        given = request.headers.get("Authorization", "")
        if not self.token or not hmac.compare_digest(given, f"Bearer {self.token}"):
            return web.json_response({"error": "unauthorized"}, status=401)
        return await handler(request)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "pid": os.getpid(), "environment": self.environment})

    async def _prometheus(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({n: s.describe() for n, s in self.services.items()})

    async def _put(self, request: web.Request) -> web.Response:
        try:
            route = await request.json()
            svc = await self.configure(request.match_info["name"], route)
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except OSError as exc:
            return web.json_response({"error": f"cannot listen: {exc}"}, status=409)
        return web.json_response(svc.describe())

    async def _delete(self, request: web.Request) -> web.Response:
        removed = await self.remove(request.match_info["name"])
        return web.json_response({"removed": removed}, status=200 if removed else 404)

    async def _metrics(self, request: web.Request) -> web.Response:
        svc = self.services.get(request.match_info["name"])
        if svc is None:
            return web.json_response({"error": "unknown service"}, status=404)
        raw = request.query.get("since")
        try:
            since = float(raw) if raw else None
        except ValueError:
            return web.json_response({"error": "since must be a Unix timestamp"}, status=400)
        return web.json_response(
            {v: {**st.window(since), "inflight": st.inflight} for v, st in svc.stats.items()}
        )


async def serve(args: argparse.Namespace) -> None:
    proxy = Proxy(
        args.environment,
        Path(args.routes),
        listen_host=args.listen_host,
        capacity=args.samples,
        upstream_timeout=args.upstream_timeout,
        token=os.environ.get(TOKEN_ENV, ""),
    )
    await proxy.start()
    admin = web.AppRunner(proxy.admin_app(), access_log=None, shutdown_timeout=5.0)
    await admin.setup()
    await web.TCPSite(admin, "127.0.0.1", args.admin_port, reuse_address=True).start()
    print(
        f"proxy {args.environment}: admin on 127.0.0.1:{args.admin_port}, "
        f"{len(proxy.services)} service(s) restored",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await admin.cleanup()
    await proxy.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environment", required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--routes", required=True, help="JSON file the routes are kept in")
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--samples", type=int, default=50_000, help="ring size per version")
    parser.add_argument("--upstream-timeout", type=float, default=60.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
