"""One config file per job (`get_config()`); also installed as `repair_rank.configs` (setup.py)."""
