"""Charges and refunds through an HTTP wallet and card gateway with HMAC-signed requests."""
