"""Ride codes: the signed payload a rider's phone shows and a gate validates (layout in format.py)."""
