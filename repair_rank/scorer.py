"""Public face of `repair_rank.ranking.scorer`: the trained ranker.

  from repair_rank import scorer
  model = scorer.load()                      # the bundled default model
  scores = model.score(query, candidates)    # one float per candidate, higher is better

Outside users import this module; code inside the package imports the subpackage.
"""
from repair_rank.ranking.scorer import *  # pylint: disable=wildcard-import,unused-wildcard-import
