"""The gate library: what a bus or metro gate runs to take ride codes, online or offline.

`OfflineGate` validates codes from the issuer keys and deny list it last synced, refuses
replays and double tap-ins from its own memory, pairs tap-in and tap-out, and queues every tap;
`GateClient` syncs keys (ETag) and the deny list (cursor) and uploads queued taps
(`POST /v1/gate/taps:batch`, idempotent per tap id). `bayaffairs gate simulate` runs the same
path from a QR image.
"""
