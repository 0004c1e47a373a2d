"""The ride-code fixtures (the real app, a rider, issuer keys), reused by the gate library's tests."""

from tests.transit.conftest import ride  # noqa: F401 - a fixture, found by name
