"""The gate library: what a bus or metro gate runs to take ride codes, online or offline.

`OfflineGate` validates codes from the issuer keys, operator rules and deny list its station
group last synced, refuses replays and double tap-ins from the group's memory, and queues every
tap; `GateStore` keeps that memory in one SQLite file per station group, durable across a `kill
-9` or a power cut; `GateClient` syncs keys (ETag) and the deny list (cursor) and uploads queued
taps (`POST /v1/gate/taps:batch`, oldest first, idempotent per tap id). `bayaffairs gate
simulate` runs the same path from a QR image. The rules: docs/ride-codes.md, "Gates".
"""
