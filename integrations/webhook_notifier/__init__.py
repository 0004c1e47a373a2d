"""Notifications POSTed as JSON to a push relay or any webhook."""
