"""Hong Kong iAM Smart sign-in (getToken, then getProfile)."""
