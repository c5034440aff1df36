"""repair_rank: rank candidate repairs of broken Python so the human's fix comes first.

The package follows the pipeline of docs in README.md: `tokens` (lexing, validity,
charified form) -> `ngram` / `candidates` -> `models` -> `evaluate` / `serve`.
"""

__version__ = "0.1.0"
