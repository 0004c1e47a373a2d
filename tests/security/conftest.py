"""The travel and appointments fixtures, reused: a rider with a wallet, carrier devices, a desk."""

from tests.appointments.conftest import desk  # noqa: F401 - a fixture, found by name
from tests.travel.conftest import trip  # noqa: F401 - a fixture, found by name
