"""bayaffairs: the domain of the Greater Bay Area services backend.

This package knows no HTTP, no particular database driver and no particular city. The HTTP
layer (`bayaffairs.handlers`), persistence (`bayaffairs.db`), partner adapters
(`bayaffairs.integrations`) and the command line (`bayaffairs.cli`) live in their own top-level
folders of the checkout; the symbolic links bayaffairs/handlers, bayaffairs/db, ... put them under
this name, for the interpreter, type checkers and editors alike (see pyproject.toml).
`bayaffairs.wiring`, the composition root that builds all of it, is the one sub-package here that
is not domain: it may import the drivers.
"""

__version__ = "0.1.0"
