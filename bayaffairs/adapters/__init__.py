"""Adapter base class, one protocol per kind, and the registry that loads them from config."""
