"""Pipeline steps 1-2: Python tokens, validity, where the parser fails."""
