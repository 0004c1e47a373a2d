"""Transit operators configured entirely by their config block (names, stops, tariff, rules)."""
