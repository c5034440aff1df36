"""Pipeline step 5: the StackOverflow pairs (TFDS), corpora, ranking instances, their generation and formats."""
