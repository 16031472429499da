"""An open-model HTTP load generator: constant arrival rate, no coordinated omission.

Request ``i`` is *scheduled* at ``start + i / rate`` whatever happened before it, and its
latency runs from that scheduled time, not from when it could actually be sent. A server that
stalls for a second therefore shows a second of latency on every request scheduled in that
second (a closed-model tool such as wrk or ab waits for a free connection instead, sends fewer
requests, and reports the stall as one slow sample: Gil Tene's "coordinated omission").

Concurrency is bounded by ``max_in_flight``: a request scheduled while that many are
outstanding is *dropped* and counted as an error, so an overloaded server cannot look healthy
by answering fewer requests. A request sent more than ``late_after_ms`` after its scheduled
time is *late*; many late requests mean the client, not the server, could not keep up (the
result carries a warning). Routes are requested round-robin, so each gets ``rate / routes``.

The client is a minimal keep-alive HTTP/1.1 GET client on asyncio protocols (uvloop when
available) with httptools (llhttp) parsing the responses: several times the throughput of a
general-purpose client per core, which keeps the generator from becoming the bottleneck it
is measuring. Timing comes from ``timer.Wakeup`` (a timerfd on Linux: microsecond wake-ups,
where event-loop timers round to milliseconds). Above ``RATE_PER_PROCESS`` requests/s the
schedule is split over several processes (interleaved phases of the same schedule) and their
histograms are merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httptools

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.quality.perf.results import LoadResult, RouteStats
from prodsprint_dagster.quality.perf.timer import Wakeup

# Requests/s per generator process. One process sustains several thousand, but its own
# dispatch delay (part of every measured latency) grows with its load: at ~500/s it stays
# around 0.1-0.2 ms on a busy two-core machine, at 1,000/s it is 0.4-0.5 ms and fattens the
# tail. Above this the schedule is split over processes (at most one per CPU).
RATE_PER_PROCESS = 500.0
_TARGET = re.compile(r"/[\x21-\x7e]*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_SAFE = "/:@!$&'()*+,;=?~-._%"


class LoadError(ProdSprintError):
    """A load plan that cannot run (bad URL, bad route, bad numbers)."""


@dataclass(frozen=True)
class LoadPlan:
    """What to drive: ``routes`` (paths, optionally with a query) of ``base_url`` at ``rate``."""

    base_url: str
    routes: tuple[str, ...]
    rate: float
    duration: float
    max_in_flight: int = 512
    timeout: float = 10.0
    late_after_ms: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict)
    processes: int | None = None  # None: one per RATE_PER_PROCESS, at most the CPU count

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadError(f"{self.base_url!r} is not an http:// or https:// URL with a host")
        if not self.routes:
            raise LoadError("a load plan needs at least one route")
        object.__setattr__(self, "routes", tuple(normalize_route(r) for r in self.routes))
        for name, value, low in (("rate", self.rate, 0.0), ("duration", self.duration, 0.0),
                                 ("timeout", self.timeout, 0.0)):  # fmt: skip
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value > low)
            ):
                raise LoadError(f"{name} must be a positive number, got {value!r}")
        if int(self.max_in_flight) < 1:
            raise LoadError("max_in_flight must be at least 1")
        for key, value in self.headers.items():
            if not _HEADER_NAME.fullmatch(str(key)) or re.search(r"[\r\n\x00]", str(value)):
                raise LoadError(f"header {key!r} is not a valid HTTP header")

    @property
    def total(self) -> int:
        return max(1, round(self.rate * self.duration))

    def process_count(self) -> int:
        if self.processes:
            return max(1, int(self.processes))
        wanted = math.ceil(self.rate / RATE_PER_PROCESS)
        return max(1, min(wanted, os.cpu_count() or 1))


def normalize_route(route: str) -> str:
    """A request target safe to put on the request line: '/'-rooted, percent-encoded."""
    if not isinstance(route, str) or not route.startswith("/"):
        raise LoadError(f"route {route!r} must be a path starting with '/'")
    if re.search(r"[\x00-\x1f\x7f]", route):
        raise LoadError(f"route {route!r} contains control characters")
    target = quote(route, safe=_SAFE)
    if not _TARGET.fullmatch(target):
        raise LoadError(f"route {route!r} cannot be sent as a request target")
    return target


# -- the client ------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, gen: _Generator):
        self.gen = gen
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.current: tuple[int, float, float] | None = None  # route index, scheduled, sent
        self.framed = False  # the response declares its length (content-length or chunked)
        self.headers_done = False
        self.timed_out = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.gen.failed(self, timeout=False)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.current is not None:
            if self.headers_done and not self.framed and not self.timed_out:
                self.gen.completed(self, self.parser.get_status_code(), keep_alive=False)
            else:
                self.gen.failed(self, timeout=self.timed_out)
        self.gen.forget(self)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.framed = False
        self.headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_message_complete(self) -> None:
        if self.current is not None:
            self.gen.completed(self, self.parser.get_status_code(), self.parser.should_keep_alive())

    def send(self, request: bytes, route: int, scheduled: float, now: float) -> None:
        self.current = (route, scheduled, now)
        self.timed_out = False
        assert self.transport is not None
        self.transport.write(request)


class _Generator:
    """One process's share of the schedule: indices ``offset, offset + stride, ...``."""

    def __init__(self, plan: LoadPlan, *, offset: int = 0, stride: int = 1):
        self.plan = plan
        parts = urlsplit(plan.base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        prefix = parts.path.rstrip("/")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        extra = "".join(f"{k}: {v}\r\n" for k, v in plan.headers.items())
        self.requests = [
            (
                f"GET {prefix}{route} HTTP/1.1\r\nHost: {host_header}\r\n"
                f"User-Agent: prodsprint-perf\r\nAccept: */*\r\n{extra}\r\n"
            ).encode("latin-1")
            for route in plan.routes
        ]
        self.stats = [RouteStats(route=route) for route in plan.routes]
        self.offset, self.stride = offset, stride
        self.interval = 1.0 / plan.rate
        self.total = plan.total
        self.next_index = offset
        self.start = 0.0
        self.idle: list[_Connection] = []
        self.live: set[_Connection] = set()
        self.in_flight = 0
        self.sent = 0
        self.late = 0
        self.max_lag = 0.0
        self.lag_total = 0.0
        self.opened = 0
        self.last_done = 0.0
        self.late_after = plan.late_after_ms / 1000.0
        self.ssl_context = ssl.create_default_context() if self.tls else None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closing = False
        self.drained: asyncio.Event | None = None
        self.scheduled_all: asyncio.Future | None = None
        self.tasks: set[asyncio.Future] = set()
        self.wakeup: Wakeup | None = None
        self.on_tick: Callable[[float], None] | None = None
        self.ticked = 0.0

    # -- connections ----------------------------------------------------------------------

    async def _open(self) -> _Connection:
        assert self.loop is not None
        _, conn = await self.loop.create_connection(
            lambda: _Connection(self), self.host, self.port, ssl=self.ssl_context
        )
        self.opened += 1
        self.live.add(conn)
        return conn

    async def warm(self, count: int) -> None:
        """Open ``count`` connections before the clock starts (a cold start is not the server)."""
        self.loop = asyncio.get_running_loop()
        for _ in range(count):
            try:
                self.idle.append(await self._open())
            except OSError as exc:
                raise LoadError(
                    f"cannot connect to {self.plan.base_url}: {exc.strerror or exc}"
                ) from None

    async def _connect_and_send(self, route: int, scheduled: float) -> None:
        try:
            conn = await self._open()
        except (OSError, ssl.SSLError):
            self.stats[route].transport_errors += 1
            self._finish_one()
            return
        conn.send(self.requests[route], route, scheduled, time.monotonic())

    def _spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task kept referenced until it ends (the loop holds weak ones)."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def forget(self, conn: _Connection) -> None:
        self.live.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)

    # -- outcomes -------------------------------------------------------------------------

    def _finish_one(self) -> None:
        self.in_flight -= 1
        self.last_done = time.monotonic()
        if self.drained is not None and self.in_flight == 0:
            self.drained.set()
        if not self.closing:
            self.pump()

    def completed(self, conn: _Connection, status: int, keep_alive: bool) -> None:
        route, scheduled, _ = conn.current  # type: ignore[misc]
        conn.current = None
        now = time.monotonic()
        self.stats[route].record_status(int(status), now - scheduled)
        if keep_alive and not self.closing and conn.transport and not conn.transport.is_closing():
            self.idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()
        self._finish_one()

    def failed(self, conn: _Connection, *, timeout: bool) -> None:
        if conn.current is None:
            return
        route, scheduled, _ = conn.current
        conn.current = None
        stats = self.stats[route]
        if timeout:
            stats.timeouts += 1
            stats.histogram.record_us(round((time.monotonic() - scheduled) * 1_000_000))
        else:
            stats.transport_errors += 1
        if conn.transport is not None:
            conn.transport.abort()
        self._finish_one()

    # -- the schedule ---------------------------------------------------------------------

    def pump(self) -> None:
        """Send every request whose scheduled time has come (called on timers and answers)."""
        now = time.monotonic()
        index, total, stride = self.next_index, self.total, self.stride
        start, interval = self.start, self.interval
        routes = len(self.requests)
        while index < total:
            scheduled = start + index * interval
            if scheduled > now:
                break
            lag = now - scheduled
            if lag > self.late_after:
                self.late += 1
            if lag > self.max_lag:
                self.max_lag = lag
            self.lag_total += lag
            route = index % routes
            self.stats[route].scheduled += 1
            index += stride
            if self.in_flight >= self.plan.max_in_flight:
                self.stats[route].dropped += 1
                continue
            self.in_flight += 1
            self.sent += 1
            if self.idle:
                self.idle.pop().send(self.requests[route], route, scheduled, now)
            else:
                self._spawn(self._connect_and_send(route, scheduled))
        self.next_index = index

    async def _watchdog(self) -> None:
        """Abort requests outstanding longer than the timeout (one timer, not one per request)."""
        timeout = self.plan.timeout
        while True:
            await asyncio.sleep(min(0.05, timeout / 4))
            now = time.monotonic()
            for conn in list(self.live):
                if conn.current is not None and now - conn.current[2] > timeout:
                    conn.timed_out = True
                    self.failed(conn, timeout=True)

    def _on_timer(self) -> None:
        """Send what is due, then sleep precisely until the next request is due."""
        self.pump()
        if self.next_index >= self.total:
            if self.scheduled_all is not None and not self.scheduled_all.done():
                self.scheduled_all.set_result(None)
            return
        assert self.wakeup is not None
        self.wakeup.at(self.start + self.next_index * self.interval)
        if self.on_tick is not None:
            now = time.monotonic()
            if now - self.ticked >= 0.25:
                self.ticked = now
                self.on_tick(now - self.start)

    async def run(self, start: float, on_tick: Callable[[float], None] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.start = start
        self.on_tick = on_tick
        self.scheduled_all = self.loop.create_future()
        self.wakeup = Wakeup(self.loop, self._on_timer)
        watchdog = asyncio.ensure_future(self._watchdog())
        try:
            self.wakeup.at(start)
            await self.scheduled_all
            if self.in_flight:
                self.drained = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.drained.wait(), self.plan.timeout + 1.0)
        finally:
            self.closing = True
            self.wakeup.close()
            await self._close(watchdog)

    async def _close(self, watchdog: asyncio.Future) -> None:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
        for conn in list(self.live):
            if conn.current is not None:
                conn.timed_out = True
                self.failed(conn, timeout=True)
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.sleep(0)

    def result(self, processes: int = 1) -> LoadResult:
        for stats in self.stats:
            # A request still connecting when the run ended got no answer in time either.
            answered = stats.completed + stats.transport_errors + stats.timeouts + stats.dropped
            stats.timeouts += max(0, stats.scheduled - answered)
        return LoadResult(
            rate=self.plan.rate, duration=self.plan.duration,
            routes={s.route: s for s in self.stats},
            elapsed=max(0.0, self.last_done - self.start), sent=self.sent, late=self.late,
            max_lag_ms=self.max_lag * 1000.0, lag_total_ms=self.lag_total * 1000.0,
            processes=processes, connections=self.opened,
        )  # fmt: skip


class _ClosedGenerator(_Generator):
    """The closed model, for capacity and for comparing with closed-model tools (wrk, ab).

    Each of ``connections`` connections sends its next request as soon as the previous one is
    answered, until ``duration`` has passed; latency runs from the actual send, as those tools
    measure it. Not for budgets: a slow server slows the load down with it.
    """

    def __init__(self, plan: LoadPlan, connections: int):
        super().__init__(plan)
        self.connections = connections
        self.deadline = 0.0
        self.turn = 0

    def pump(self) -> None:  # no schedule: answers drive the load
        return

    def _next(self, conn: _Connection | None) -> None:
        now = time.monotonic()
        if self.closing or now >= self.deadline:
            return
        route = self.turn % len(self.requests)
        self.turn += 1
        self.stats[route].scheduled += 1
        self.in_flight += 1
        self.sent += 1
        if conn is not None:
            conn.send(self.requests[route], route, now, now)
        else:
            self._spawn(self._connect_and_send(route, now))

    def _finish_one(self) -> None:
        super()._finish_one()
        self._refill()

    def _refill(self) -> None:
        while not self.closing and self.in_flight < self.connections:
            if time.monotonic() >= self.deadline:
                return
            self._next(self.idle.pop() if self.idle else None)

    async def run_closed(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.start = time.monotonic()
        self.deadline = self.start + self.plan.duration
        self._refill()
        watchdog = asyncio.ensure_future(self._watchdog())
        try:
            await asyncio.sleep(self.plan.duration)
            if self.in_flight:
                self.drained = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.drained.wait(), self.plan.timeout + 1.0)
        finally:
            self.closing = True
            await self._close(watchdog)


def run_closed(plan: LoadPlan, connections: int) -> LoadResult:
    """Drive ``plan.routes`` for ``plan.duration`` with ``connections`` closed-loop connections
    (``plan.rate`` is ignored): the requests/s the server sustains at that concurrency."""

    async def main() -> LoadResult:
        gen = _ClosedGenerator(plan, connections)
        await gen.warm(min(connections, 64))
        await gen.run_closed()
        return gen.result()

    with _quiet_gc(), asyncio.Runner(loop_factory=_new_loop) as runner:
        return runner.run(main())


def _warm_count(plan: LoadPlan, processes: int) -> int:
    per_process = plan.rate / processes
    return max(1, min(plan.max_in_flight, 16, math.ceil(per_process * 0.002)))


async def drive(
    plan: LoadPlan,
    *,
    on_tick: Callable[[float], None] | None = None,
    offset: int = 0,
    stride: int = 1,
    start_at: float | None = None,
) -> LoadResult:
    """Run ``plan`` (or its ``offset``/``stride`` share) on the running event loop."""
    gen = _Generator(plan, offset=offset, stride=stride)
    await gen.warm(_warm_count(plan, stride))
    start = start_at if start_at is not None else time.monotonic() + 0.01
    await gen.run(start, on_tick)
    return gen.result(processes=stride)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_load(plan: LoadPlan, *, on_tick: Callable[[float], None] | None = None) -> LoadResult:
    """Run ``plan`` to the end and return the merged result (blocking; own event loop).

    ``on_tick(elapsed_seconds)`` is called a few times a second for progress displays.
    """
    processes = plan.process_count()
    with _quiet_gc():
        if processes == 1:
            with asyncio.Runner(loop_factory=_new_loop) as runner:
                return runner.run(drive(plan, on_tick=on_tick))
        return _run_processes(plan, processes, on_tick)


@contextlib.contextmanager
def _quiet_gc() -> Iterator[None]:
    """No full garbage collection while the clock runs.

    In a process that has imported a lot (the CLI, a Dagster run) one pass over the oldest
    generation takes hundreds of milliseconds, and every request scheduled meanwhile would
    show it as latency. Collect once before the load, then freeze what exists so collections
    during the load only look at the load's own objects.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _worker(plan: LoadPlan, offset: int, stride: int, pipe: Any) -> None:
    """A generator process: warm up, report ready, wait for the common start time, run."""

    async def main() -> LoadResult:
        gen = _Generator(plan, offset=offset, stride=stride)
        await gen.warm(_warm_count(plan, stride))
        pipe.send(("ready", None))
        start = pipe.recv()
        await gen.run(start)
        return gen.result(processes=stride)

    try:
        with _quiet_gc(), asyncio.Runner(loop_factory=_new_loop) as runner:
            result = runner.run(main())
        pipe.send(("done", result.to_dict()))
    except Exception as exc:  # reported to the parent, which raises it
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


def _run_processes(
    plan: LoadPlan, processes: int, on_tick: Callable[[float], None] | None
) -> LoadResult:
    ctx = multiprocessing.get_context("spawn")
    pipes, procs = [], []
    try:
        for k in range(processes):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(plan, k, processes, theirs), daemon=True)
            proc.start()
            theirs.close()
            pipes.append(mine)
            procs.append(proc)
        for pipe in pipes:
            _expect(pipe, "ready", timeout=60)
        start = time.monotonic() + 0.05
        for pipe in pipes:
            pipe.send(start)
        deadline = start + plan.duration + plan.timeout + 30
        merged: LoadResult | None = None
        for pipe in pipes:
            while not pipe.poll(0.25):
                if on_tick is not None:
                    on_tick(max(0.0, time.monotonic() - start))
                if time.monotonic() > deadline:
                    raise LoadError("a load generator process did not finish in time")
            part = LoadResult.from_dict(_expect(pipe, "done", timeout=1))
            merged = part if merged is None else merged.merge(part)
        assert merged is not None
        merged.processes = processes
        merged.routes = {r: merged.routes[r] for r in plan.routes}
        return merged
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def _expect(pipe: Any, kind: str, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise LoadError(f"a load generator process sent no {kind!r} within {timeout:g}s")
    try:
        got, value = pipe.recv()
    except EOFError:
        raise LoadError("a load generator process exited unexpectedly") from None
    if got == "error":
        raise LoadError(f"load generator process failed: {value}")
    if got != kind:
        raise LoadError(f"a load generator process sent {got!r}, expected {kind!r}")
    return value
