"""Transit: operators, fares, ride codes, gate scans, journeys, charging and settlement."""
