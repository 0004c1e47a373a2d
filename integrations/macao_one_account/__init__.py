"""Macao One Account sign-in (OAuth 2.0 authorization code)."""
