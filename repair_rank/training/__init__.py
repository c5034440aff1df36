"""Pipeline steps 6-7: the one training loop and the two stages that use it."""
