"""Travel and identity documents a rider keeps on file for themselves and family members."""
