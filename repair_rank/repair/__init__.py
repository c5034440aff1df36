"""The repair stage: whole sources and files repaired with the ranker, as text edits."""
