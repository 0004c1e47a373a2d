"""Fixed demo exchange rates."""
