"""Notifications kept in memory and written to the log."""
