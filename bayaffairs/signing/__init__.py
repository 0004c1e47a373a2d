"""Issuers' signing keys: created and rotated by the CLI, sealed at rest, published to gates."""
