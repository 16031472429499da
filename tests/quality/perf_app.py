"""A small aiohttp service for the perf tests: fast, slow, erroring and parameterized routes.

Run as ``python perf_app.py`` with PORT set. Environment: ``SLOW_MS`` (the slow route's
delay), ``EXTRA_MS`` (added to every route: a "regressed build"), ``BOOM_STATUS`` (what
/boom answers, 500 by default), ``FAIL_START`` (print a
message and exit 3 before listening: a service that never becomes healthy), ``OPENAPI``
(serve /openapi.json naming only /fast and /health).
"""

import asyncio
import os
import sys

from aiohttp import web

routes = web.RouteTableDef()
EXTRA = float(os.environ.get("EXTRA_MS", "0")) / 1000
SLOW = float(os.environ.get("SLOW_MS", "60")) / 1000
BOOM = os.environ.get("BOOM_STATUS", "500")


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


@routes.get("/health")
async def health(request):
    return web.json_response({"status": "ok"})


@routes.get("/fast")
async def fast(request):
    await pause(EXTRA)
    return web.json_response({"ok": True})


@routes.get("/slow")
async def slow(request):
    await pause(SLOW + EXTRA)
    return web.json_response({"ok": True})


@routes.get("/boom")
async def boom(request):
    await pause(EXTRA)
    return web.json_response({"boom": BOOM}, status=int(BOOM))


@routes.get("/items/{item_id}")
async def item(request):
    return web.json_response({"id": request.match_info["item_id"]})


@routes.post("/orders")
async def orders(request):
    return web.json_response({"created": True}, status=201)


@routes.get("/openapi.json")
async def openapi(request):
    if not os.environ.get("OPENAPI"):
        raise web.HTTPNotFound()
    return web.json_response(
        {
            "openapi": "3.0.0",
            "paths": {"/fast": {"get": {}}, "/health": {"get": {}}, "/orders": {"post": {}}},
        }
    )


def main() -> None:
    if os.environ.get("FAIL_START"):
        print("starting perf_app", flush=True)
        print("error: cannot connect to the database at db:5432", flush=True)
        sys.exit(3)
    app = web.Application()
    app.add_routes(routes)
    port = int(os.environ.get("PORT", "8080"))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
