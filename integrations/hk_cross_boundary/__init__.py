"""The Hong Kong Government's cross-boundary public services at counters in Guangdong cities."""
