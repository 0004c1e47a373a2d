"""HTTP: the app factory, middleware, and one route module per resource.

A handler parses (schemas), calls one domain service, and shapes the answer (schemas again);
everything else (auth, rate limits, idempotency, errors, request ids, metrics) is done once,
around it, by `endpoint()` and the middleware.
"""
