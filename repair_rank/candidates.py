"""Public face of `repair_rank.generator.search`: repair candidates, best first.

  from repair_rank import candidates
  candidates.generate(broken, max_distance=3, k=1000)  # token lists, best first

Outside users import this module; code inside the package imports the subpackage.
"""
from repair_rank.generator.search import Candidate
from repair_rank.generator.search import DEFAULT_SEARCH
from repair_rank.generator.search import DEFAULT_TIME_BUDGET
from repair_rank.generator.search import SearchConfig
from repair_rank.generator.search import generate
from repair_rank.generator.search import generate_scored

__all__ = ["Candidate", "DEFAULT_SEARCH", "DEFAULT_TIME_BUDGET", "SearchConfig", "generate",
           "generate_scored"]
