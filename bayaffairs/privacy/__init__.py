"""Riders' rights over their personal data: the access log, exports, deletion, retention."""
