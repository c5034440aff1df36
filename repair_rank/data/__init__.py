"""Data stage: the StackOverflow pairs (TFDS), ranking instances and their file formats."""
