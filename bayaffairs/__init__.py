"""bayaffairs: the domain of the Greater Bay Area services backend.

This package knows no HTTP, no particular database driver and no particular city. The HTTP
layer (`bayaffairs.handlers`), persistence (`bayaffairs.db`), partner adapters
(`bayaffairs.integrations`) and the command line (`bayaffairs.cli`) live in their own top-level
folders of the checkout and are mapped under this name when installed (see setup.py).
"""

__version__ = "0.1.0"
