"""Exchange rates from an HTTP rate feed."""
