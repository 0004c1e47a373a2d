"""The composition root: where the drivers (asyncpg, Redis, aiohttp) meet the domain.

`root.assembled(config)` builds the database, Redis, the HTTP session, the adapters and the
services, for the web app (`create_app`) and every command alike; `root.serving(wiring)` runs
what a serving app runs besides (scan writers, the QR renderer, the periodic jobs of `jobs`).
`services` is the container of the domain services every handler and command reaches.

Not domain: this package may import the drivers and the db layer, which the domain may not; no
domain module imports it, and it imports no handler or command (tests/test_contracts.py).
"""
