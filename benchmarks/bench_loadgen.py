"""The open-model load generator side by side with wrk against the same local endpoint.

One server process (a minimal asyncio HTTP/1.1 keep-alive server on uvloop: ``/`` answers at
once, ``/delay`` after a fixed 5 ms, like a service doing a little work) is driven in the same
run, interleaved round by round so background load hits both tools alike:

1. **Throughput, closed model, same concurrency.** wrk ``-t1 -cC`` and our closed-loop driver
   (``run_closed``, C keep-alive connections, next request on each answer) on ``/``.
   Figure: our requests/s / wrk's.
2. **Latency at a fixed rate the server sustains.** wrk2 (wrk with a fixed rate) is not in
   Debian, so: wrk with C connections on ``/delay`` gives a rate R and its latency
   distribution (p50/p95 through wrk's Lua ``done`` hook); our open model is then run at the
   fixed rate R on the same route. With a fixed service time and spare capacity both tools
   measure service time plus transport, so the percentiles should agree. Figures: our
   p50 / wrk's p50 and our p95 / wrk's p95 (target within 15 %).
3. **Sustained open-model rate.** Our open model at 2,000 (and 4,000) requests/s on ``/``
   for several seconds: achieved requests/s, late and dropped requests, processes used
   (target >= 2,000/s on two cores, the server sharing them).

Prints a table on stderr and the JSON result on stdout. Skips the wrk columns with a message
when wrk is not installed (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prodsprint_dagster.quality.perf.loadgen import LoadPlan, run_closed, run_load
from prodsprint_dagster.release.local.procs import free_port, http_get

SERVER = r"""
import asyncio, os
try:
    import uvloop
    loop_factory = uvloop.new_event_loop
except ImportError:
    loop_factory = None

BODY = b'{"ok": true}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
DELAY = float(os.environ.get("DELAY_MS", "5")) / 1000


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
        self.loop = asyncio.get_running_loop()

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:  # GETs only: no bodies to skip
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            if head.startswith(b"GET /delay"):
                self.loop.call_later(DELAY, self.reply)
            else:
                self.reply()

    def reply(self):
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", int(os.environ["PORT"]), backlog=4096)
    print("ready", flush=True)
    await server.serve_forever()

with asyncio.Runner(loop_factory=loop_factory) as runner:
    runner.run(main())
"""

WRK_SCRIPT = """
done = function(summary, latency, requests)
  for _, p in pairs({50, 90, 95, 99}) do
    io.write(string.format("P%d %d\\n", p, latency:percentile(p)))
  end
  io.write(string.format("REQUESTS %d\\nDURATION_US %d\\n", summary.requests, summary.duration))
  local e = summary.errors
  io.write(string.format("ERRORS %d\\n", e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def wrk(url: str, connections: int, seconds: float, script: Path) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    values = dict(re.findall(r"^(P\d+|REQUESTS|DURATION_US|ERRORS) (\d+)$", out, re.MULTILINE))
    return {
        "rps": int(values["REQUESTS"]) / (int(values["DURATION_US"]) / 1e6),
        "p50_ms": int(values["P50"]) / 1000,
        "p95_ms": int(values["P95"]) / 1000,
        "p99_ms": int(values["P99"]) / 1000,
        "errors": int(values["ERRORS"]),
    }


def ours_closed(url: str, connections: int, seconds: float) -> dict:
    result = run_closed(LoadPlan(url, ("/",), rate=1, duration=seconds), connections)
    overall = result.overall()
    return {"rps": overall.completed / result.elapsed, "errors": overall.errors,
            "p50_ms": overall.histogram.percentile(50)}  # fmt: skip


def ours_open(url: str, route: str, rate: float, seconds: float, processes: int | None) -> dict:
    result = run_load(LoadPlan(url, (route,), rate=rate, duration=seconds, processes=processes))
    overall = result.overall()
    return {
        "rate": rate,
        "rps": overall.completed / result.seconds,
        "p50_ms": overall.histogram.percentile(50),
        "p95_ms": overall.histogram.percentile(95),
        "p99_ms": overall.histogram.percentile(99),
        "errors": overall.errors,
        "dropped": overall.dropped,
        "late": result.late,
        "mean_lag_ms": result.mean_lag_ms,
        "max_lag_ms": result.max_lag_ms,
        "processes": result.processes,
    }


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    (root / "server.py").write_text(SERVER)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(root / "server.py")], cwd=root,
        env={**os.environ, "PORT": str(port)}, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if http_get(url + "/", timeout=1)[0] == 200:
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the benchmark server did not start")


def med(rows: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16, help="closed-model concurrency")
    parser.add_argument("--latency-connections", type=int, default=6,
                        help="wrk connections on /delay; sets the fixed rate")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3, help="median over this many rounds")
    parser.add_argument("--rates", default="2000,4000", help="open-model rates to sustain")
    args = parser.parse_args()
    has_wrk = bool(shutil.which("wrk"))
    notes = [] if has_wrk else ["wrk not installed (apt-get install wrk): wrk columns skipped"]
    rates = [float(r) for r in args.rates.split(",") if r]

    with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp:
        root = Path(tmp)
        script = root / "percentiles.lua"
        script.write_text(WRK_SCRIPT)
        server, url = start_server(root)
        try:
            ours_closed(url, 4, 1)  # warm up
            rows: dict[str, list[dict]] = {"wrk_closed": [], "ours_closed": [], "wrk_delay": [],
                                           "ours_delay": []}  # fmt: skip
            sustained: dict[float, list[dict]] = {r: [] for r in rates}
            for _ in range(args.rounds):
                if has_wrk:
                    rows["wrk_closed"].append(
                        wrk(url + "/", args.connections, args.seconds, script)
                    )
                rows["ours_closed"].append(ours_closed(url, args.connections, args.seconds))
                if has_wrk:
                    ref = wrk(url + "/delay", args.latency_connections, args.seconds, script)
                    rows["wrk_delay"].append(ref)
                    rate = round(ref["rps"])
                else:
                    rate = round(args.latency_connections / 0.0052)
                rows["ours_delay"].append(ours_open(url, "/delay", rate, args.seconds, None))
                for r in rates:
                    sustained[r].append(ours_open(url, "/", r, args.seconds, None))
        finally:
            server.terminate()
            server.wait(timeout=10)

    result: dict = {
        "benchmark": "loadgen",
        "reference": "wrk 4.1 (Debian)" if has_wrk else None,
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "seconds_per_measurement": args.seconds,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "notes": notes,
        "method": {
            "throughput": f"closed model, {args.connections} keep-alive connections on / "
            "(no server work); wrk -t1 vs run_closed",
            "latency": f"wrk -t1 -c{args.latency_connections} on /delay (5 ms service time) "
            "sets the rate R; our open model at the fixed rate R on /delay; p50/p95 compared "
            "(wrk2 is not in Debian)",
            "sustained": "our open model on / at each rate; auto process count",
        },
        "throughput": {"ours_rps": med(rows["ours_closed"], "rps")},
        "latency_at_fixed_rate": {
            "rate": med(rows["ours_delay"], "rate"),
            "ours_p50_ms": med(rows["ours_delay"], "p50_ms"),
            "ours_p95_ms": med(rows["ours_delay"], "p95_ms"),
            "ours_p99_ms": med(rows["ours_delay"], "p99_ms"),
            "ours_late": med(rows["ours_delay"], "late"),
            "ours_mean_dispatch_lag_ms": med(rows["ours_delay"], "mean_lag_ms"),
            "ours_processes": rows["ours_delay"][0]["processes"],
        },
        "sustained": {
            f"{r:g}": {
                "achieved_rps": med(sustained[r], "rps"),
                "p50_ms": med(sustained[r], "p50_ms"),
                "p95_ms": med(sustained[r], "p95_ms"),
                "errors": med(sustained[r], "errors"),
                "dropped": med(sustained[r], "dropped"),
                "late": med(sustained[r], "late"),
                "mean_dispatch_lag_ms": med(sustained[r], "mean_lag_ms"),
                "processes": sustained[r][0]["processes"],
                "meets_target": med(sustained[r], "rps") >= 0.98 * r
                and med(sustained[r], "errors") == 0,
            }
            for r in rates
        },
    }
    if has_wrk:
        t, lat = result["throughput"], result["latency_at_fixed_rate"]
        t["wrk_rps"] = med(rows["wrk_closed"], "rps")
        t["ours_vs_wrk"] = round(t["ours_rps"] / t["wrk_rps"], 3)
        lat["wrk_rps"] = med(rows["wrk_delay"], "rps")
        for q in ("p50", "p95", "p99"):
            lat[f"wrk_{q}_ms"] = med(rows["wrk_delay"], f"{q}_ms")
            lat[f"{q}_ours_vs_wrk"] = round(lat[f"ours_{q}_ms"] / lat[f"wrk_{q}_ms"], 3)
        lat["within_15_percent"] = all(abs(lat[f"{q}_ours_vs_wrk"] - 1) <= 0.15
                                       for q in ("p50", "p95"))  # fmt: skip

    _table(result)
    print(json.dumps(result, indent=2))
    return 0


def _table(result: dict) -> None:
    out = sys.stderr
    t, lat = result["throughput"], result["latency_at_fixed_rate"]
    print(f"{'measure':44} {'ours':>10} {'wrk':>10} {'ratio':>7}", file=out)
    print(f"{'closed-model requests/s':44} {t['ours_rps']:>10.0f} {t.get('wrk_rps', 0):>10.0f} "
          f"{t.get('ours_vs_wrk', 0):>7.3f}", file=out)  # fmt: skip
    for q in ("p50", "p95", "p99"):
        print(f"{q + ' ms at ' + format(lat['rate'], 'g') + '/s on /delay':44} "
              f"{lat[f'ours_{q}_ms']:>10.3f} {lat.get(f'wrk_{q}_ms', 0):>10.3f} "
              f"{lat.get(f'{q}_ours_vs_wrk', 0):>7.3f}", file=out)  # fmt: skip
    for rate, row in result["sustained"].items():
        print(f"{'open model at ' + rate + '/s: achieved':44} {row['achieved_rps']:>10.0f} "
              f"{'':>10} {row['achieved_rps'] / float(rate):>7.3f}  (late {row['late']:g}, "
              f"dropped {row['dropped']:g}, {row['processes']} proc)", file=out)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
