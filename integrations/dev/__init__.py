"""Sign-in without a partner, for demos and tests only."""
