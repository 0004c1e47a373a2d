"""Persistence: the PostgreSQL pool owner, migrations, query modules, and the Redis client.

Query modules (`bayaffairs.db.queries.*`) are plain parameterised SQL in small async functions
that take a connection; they import no driver, so the domain may call them.
"""
