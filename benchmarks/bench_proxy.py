"""The local target's weighted proxy against going direct to the backend and against nginx.

One backend (a minimal asyncio HTTP/1.1 keep-alive server, so the backend is not the
bottleneck) is reached three ways in the same run: directly, through the ProdSprint proxy
(deployed by LocalTarget exactly as a release would), and through nginx configured as a
keep-alive reverse proxy to the same backend with one worker process (the ProdSprint proxy
is one process too). Figures of merit:

- latency added at p50: p50 through a proxy minus p50 direct, one connection, one request
  at a time;
- throughput through each proxy relative to direct and to nginx, all at the same concurrency.

Load comes from wrk when it is installed, else from a Python thread loop (the JSON says
which); nginx is skipped with a message when it is not installed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from prodsprint_dagster.release.local import LocalTarget
from prodsprint_dagster.release.local.procs import free_port, http_get

BACKEND = r"""
import asyncio, os
try:
    import uvloop
    loop_factory = uvloop.new_event_loop
except ImportError:
    loop_factory = None

BODY = b'{"version": "' + os.environ.get("VERSION", "v1").encode() + b'"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:  # GETs only: no bodies to skip
            self.buffer = self.buffer[end + 4:]
            self.transport.write(RESPONSE)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", int(os.environ["PORT"]), backlog=1024)
    print("backend ready", flush=True)
    await server.serve_forever()

with asyncio.Runner(loop_factory=loop_factory) as runner:
    runner.run(main())
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, connections: int, seconds: float, threads: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": round(rps, 1),
        "p50_ms": round(float(p50.group(1)) * _UNITS[p50.group(2)], 4),
        "errors": (errors.group(1) if errors else "")
        + (f" non2xx={non2xx.group(1)}" if non2xx else ""),
    }


def python_load(url: str, connections: int, seconds: float) -> dict[str, float]:
    """Keep-alive connections in threads; the client is slower than wrk, so ratios matter."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        mine = []
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/")
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                continue
            mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker) for _ in range(connections)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 4) if latencies else None,
        "errors": str(errors[0]),
    }


def start_nginx(root: Path, backend_port: int) -> tuple[subprocess.Popen | None, str | None]:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if not binary:
        return None, "nginx not installed (apt-get install nginx-light); nginx column skipped"
    (root / "tmp").mkdir(parents=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, backend=backend_port, port=port))
    proc = subprocess.Popen([binary, "-p", str(root), "-c", str(conf)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            if http_get(url, timeout=1)[0] == 200:
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None, f"nginx did not start: {proc.stderr.read().decode()[-500:]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3, help="median over this many rounds")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python load loop")
    args = parser.parse_args()
    use_wrk = bool(shutil.which("wrk")) and not args.no_wrk
    notes = [] if use_wrk else ["wrk not installed (apt-get install wrk): Python load loop used"]

    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        root = Path(tmp)
        app = root / "app"
        app.mkdir()
        (app / "backend.py").write_text(BACKEND)
        target = LocalTarget(root / "home", "bench", health_timeout=20)
        nginx = None
        try:
            info = target.deploy(
                "bench", "v1", env={"VERSION": "v1"},
                command=[sys.executable, "backend.py"], cwd=str(app), health_path="/",
            )  # fmt: skip
            urls = {"direct": info.endpoint + "/", "proxy": target.url("bench") + "/"}
            nginx, nginx_url = start_nginx(root / "nginx", info.details["port"])
            if nginx is not None:
                urls["nginx"] = nginx_url
            else:
                notes.append(nginx_url)

            def measure(url: str, connections: int, seconds: float) -> dict[str, float]:
                if use_wrk:
                    return wrk(url, connections, seconds, threads=min(2, connections))
                return python_load(url, connections, seconds)

            for url in urls.values():  # warm up connection pools
                measure(url, 4, 1)
            rounds: dict[str, list[dict]] = {k: [] for k in urls}
            latency: dict[str, list[dict]] = {k: [] for k in urls}
            for _ in range(args.rounds):  # interleaved, so background load hits all alike
                for name, url in urls.items():
                    rounds[name].append(measure(url, args.connections, args.seconds))
                    latency[name].append(measure(url, 1, max(1.0, args.seconds / 2)))
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(timeout=10)
            target.stop()

    def med(rows: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 4)

    result: dict = {
        "benchmark": "proxy",
        "load_generator": "wrk" if use_wrk else "python-threads",
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "notes": notes,
    }
    for name in urls:
        result[name] = {
            "rps": med(rounds[name], "rps"),
            "p50_ms_at_concurrency": med(rounds[name], "p50_ms"),
            "p50_ms_one_connection": med(latency[name], "p50_ms"),
            "errors": sorted({r["errors"] for r in rounds[name] if r["errors"]}),
        }
    direct = result["direct"]
    for name in ("proxy", "nginx"):
        if name in result:
            result[name]["p50_added_ms"] = round(
                result[name]["p50_ms_one_connection"] - direct["p50_ms_one_connection"], 4
            )
            result[name]["throughput_vs_direct"] = round(result[name]["rps"] / direct["rps"], 3)
    if "nginx" in result:
        result["proxy"]["throughput_vs_nginx"] = round(
            result["proxy"]["rps"] / result["nginx"]["rps"], 3
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
