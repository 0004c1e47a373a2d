"""Fare engines, one module per fare model; `build_engine` picks one by name.

Pure computation: no I/O. An adapter reads the tariff (config, a CSV file) and hands the
engine plain settings.
"""

from bayaffairs.transit.fares.concessions import InvalidFareSettings, percent_of
from bayaffairs.transit.fares.factory import ENGINES, PRICED_BY_EXIT, build_engine

__all__ = ["ENGINES", "PRICED_BY_EXIT", "InvalidFareSettings", "build_engine", "percent_of"]
