"""Headers on every answer, set as it is sent (whoever built it: a handler, the error renderer,
a file response or aiohttp itself).

- `X-Content-Type-Options: nosniff`: a browser takes each answer as the type it is declared.
- `Cache-Control: no-store` on every answer to a request made with a credential (personal data,
  scoped device data, their errors too): no shared or browser cache keeps it. An answer holding a
  token without a credential (signing in) sets it itself.
"""

from __future__ import annotations

import functools

from aiohttp import web

from bayaffairs.handlers.keys import PRINCIPAL

NO_STORE = {"Cache-Control": "no-store"}


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_secure)


async def _secure(request: web.BaseRequest, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.get(PRINCIPAL) is not None:
        headers["Cache-Control"] = "no-store"


@functools.lru_cache(maxsize=128)  # clients send a handful of distinct headers
def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (RFC 9110 12.5.3): named (or as x-gzip) with a
    q-value above 0, or not named and `*` with a q-value above 0."""
    if not header:
        return False
    named: float | None = None
    star: float | None = None
    for part in header.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if coding in ("gzip", "x-gzip"):
            named = weight if named is None else max(named, weight)
        elif coding == "*":
            star = weight
    if named is not None:
        return named > 0
    return star is not None and star > 0
