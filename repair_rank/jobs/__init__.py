"""One module per `config.job`: config -> library calls -> report (see repair_rank.main.JOBS)."""
