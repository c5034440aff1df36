"""Pipeline steps 3-4: the n-gram model, edit statistics and the candidate search."""
