"""Maps the checkout's top-level folders into the single installed `bayaffairs` package.

The checkout keeps one folder per concern (bayaffairs/ for the domain, handlers/ for HTTP, db/,
integrations/, cli/), but installed they all live under `bayaffairs.*`, so site-packages never
gets generic top-level names such as `db` or `handlers`.
"""

from setuptools import find_packages, setup

ROOTS = {
    "bayaffairs": "bayaffairs",
    "bayaffairs.handlers": "handlers",
    "bayaffairs.db": "db",
    "bayaffairs.integrations": "integrations",
    "bayaffairs.cli": "cli",
    "bayaffairs.gate": "gate",
}

packages: list[str] = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

setup(packages=packages, package_dir=ROOTS)
