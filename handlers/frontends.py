"""The reference frontends, served as plain static files: the rider app at /app/, the counter
console at /console/ and the hall display at /console/display (handlers/web/, no build step).

They use only the public API. The headers keep what they hold where it belongs: a session or
counter token handed in the URL fragment never reaches a server (fragments are not sent), and
`Referrer-Policy: no-referrer` with a script policy of 'self' only keeps a page from leaking it
to another site or running injected script.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bayaffairs.handlers.endpoint import documented

routes = web.RouteTableDef()
WEB = Path(__file__).parent / "web"
_ASSET = r"{name:[a-z0-9][a-z0-9_-]{0,40}\.(?:js|css|svg|png|webmanifest)}"

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}
# The console may use the camera to read appointment QR codes; the rider app needs none.
_CAMERA = {"app": "camera=(), microphone=(), geolocation=()", "console": "camera=(self), microphone=()"}


def _file(folder: str, name: str, *, camera: bool | None = None) -> web.FileResponse:
    """`camera`: whether the page may use it (by default, the console's pages may)."""
    path = WEB / folder / name
    if not path.is_file():
        raise web.HTTPNotFound()
    if camera is None:
        camera = folder == "console"
    headers = {
        **_HEADERS,
        "Content-Type": _TYPES[path.suffix],
        "Permissions-Policy": _CAMERA["console" if camera else "app"],
    }
    return web.FileResponse(path, headers=headers)


def _with_slash(request: web.Request) -> web.HTTPFound:
    """The deep link's query kept (a fragment never reaches the server; the browser keeps it)."""
    return web.HTTPFound(request.rel_url.with_path(request.path + "/").with_query(request.rel_url.query))


@routes.get("/app")
async def app_without_slash(request: web.Request) -> web.StreamResponse:
    raise _with_slash(request)


@routes.get("/app/")
@documented(
    "The rider H5 app",
    produces="text/html",
    tags=("frontends",),
    description="Deep links: ?view=ride|travel|appointments|data&city=&lang=en|zh-Hant|zh-Hans; a session "
    "token may be handed in the fragment (#token=...), which the page removes from the address.",
)
async def rider_app(request: web.Request) -> web.StreamResponse:
    return _file("app", "index.html")


@routes.get("/console")
async def console_without_slash(request: web.Request) -> web.StreamResponse:
    raise _with_slash(request)


@routes.get("/console/")
@documented(
    "The counter console",
    produces="text/html",
    tags=("frontends",),
    description="Sign in with a counter token (field, or #token= in the fragment).",
)
async def console(request: web.Request) -> web.StreamResponse:
    return _file("console", "index.html")


@routes.get("/console/display")
@documented("The hall display of called numbers", produces="text/html", tags=("frontends",))
async def hall_display(request: web.Request) -> web.StreamResponse:
    return _file("console", "display.html", camera=False)  # a screen in the hall reads no QR


@routes.get(f"/app/{_ASSET}")
async def app_asset(request: web.Request) -> web.StreamResponse:
    return _file("app", request.match_info["name"])


@routes.get(f"/console/{_ASSET}")
async def console_asset(request: web.Request) -> web.StreamResponse:
    return _file("console", request.match_info["name"])


@routes.get(f"/ui/{_ASSET}")
async def shared_asset(request: web.Request) -> web.StreamResponse:
    return _file("shared", request.match_info["name"])
