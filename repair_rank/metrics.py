"""Public face of `repair_rank.ranking.metrics`: the truth's rank, MRR and P@k.

  from repair_rank import metrics
  metrics.rank_of_truth(scores, truth_index)  # 0-based, ties count against the truth

Outside users import this module; code inside the package imports the subpackage.
"""
from repair_rank.ranking.metrics import *  # pylint: disable=wildcard-import,unused-wildcard-import
