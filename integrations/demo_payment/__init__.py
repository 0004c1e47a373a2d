"""A demo wallet that always pays (unless told to decline)."""
