"""Repair candidates: valid token sequences near a broken one, best first.

DESIGN.md step 4: the Levenshtein ball of radius `max_distance` around the
broken sequence, intersected with Python (`tokens.is_valid`), ordered by the
Markov model (`ngram`), top k.

* Distance 1 is exhaustive: every deletion, every substitution by any of the
  88 tokens and every insertion of any token at any position is parsed.
* Distances 2 and 3 are searched best-first from the distance-1 neighbours:
  a partial repair is extended by edits near where Python's parser now fails
  (`syntax_errors.parse_error`), preferring partial repairs whose error moved
  right and which the n-gram model likes, until a time budget runs out.

The final order is the n-gram log-probability (the "Markov order"); each
candidate carries its token edit distance to the broken input, a feature the
ranker needs.
"""
import dataclasses
import heapq
import itertools
import time
from typing import Iterator, Optional, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank import ngram
from repair_rank import syntax_errors
from repair_rank import tokens as tokens_lib

ALPHABET: tuple[str, ...] = tokens_lib.ALL_TOKENS
_CLOSERS = (")", "]", "}")
DEFAULT_TIME_BUDGET = 2.0  # Seconds per call for the distance-2/3 search.


@dataclasses.dataclass(frozen=True)
class Candidate:
  """One repair candidate.

  tokens: the candidate token sequence.
  distance: its token Levenshtein distance to the broken input (1..max).
  log_prob: its natural log-probability under the Markov model (with `</s>`).
  """
  tokens: tuple[str, ...]
  distance: int
  log_prob: float


def _check_input(broken: Sequence[str], max_distance: int, k: int) -> tuple[str, ...]:
  if isinstance(broken, str):
    raise ValueError("broken must be a list of tokens, not a string; "
                     "use tokens.lex(source) or text.split()")
  broken = tuple(broken)
  if not broken:
    raise ValueError("broken is empty: there is nothing to repair")
  try:
    tokens_lib.check_tokens(broken)
  except tokens_lib.UnknownTokenError as e:
    raise ValueError(f"broken has a token outside the alphabet: {e}") from e
  if max_distance < 1:
    raise ValueError(f"max_distance must be >= 1, got {max_distance}")
  if k < 1:
    raise ValueError(f"k must be >= 1, got {k}")
  return broken


def distance1_edits(tokens: Sequence[str]) -> Iterator[tuple[int, tuple[str, ...]]]:
  """Every sequence one edit away: (edit position, sequence); may repeat.

  Deletions and substitutions at position i, insertions before token i
  (i = len(tokens) appends).
  """
  tokens = tuple(tokens)
  for i in range(len(tokens) + 1):
    head, tail = tokens[:i], tokens[i:]
    for tok in ALPHABET:
      yield i, head + (tok,) + tail
    if i < len(tokens):
      rest = tokens[i + 1:]
      yield i, head + rest
      for tok in ALPHABET:
        if tok != tokens[i]:
          yield i, head + (tok,) + rest


def _local_edits(tokens: tuple[str, ...], error: syntax_errors.ParseError,
                 window: tuple[int, int]) -> Iterator[tuple[int, tuple[str, ...]]]:
  """Edits near where the parser fails: positions error-before .. error+after."""
  n = len(tokens)
  before, after = window
  lo, hi = max(0, error.index - before), min(n, error.index + after)
  for i in range(lo, hi + 1):
    head, tail = tokens[:i], tokens[i:]
    for tok in ALPHABET:
      yield i, head + (tok,) + tail
    if i < n:
      rest = tokens[i + 1:]
      yield i, head + rest
      for tok in ALPHABET:
        if tok != tokens[i]:
          yield i, head + (tok,) + rest
  if error.unclosed:
    # Python blames the opener; the missing closer may go anywhere after it.
    for i in range(error.index + 1, n + 1):
      if lo <= i <= hi:
        continue
      for tok in _CLOSERS:
        yield i, tokens[:i] + (tok,) + tokens[i:]


def generate_scored(broken: Sequence[str], *, max_distance: int = 3, k: int = 1000,
                    time_budget: Optional[float] = DEFAULT_TIME_BUDGET,
                    model: Optional[ngram.NgramModel] = None) -> list[Candidate]:
  """Valid repairs within `max_distance` token edits of `broken`, best first.

  Complete at distance 1 whatever the budget; distances 2..max_distance are
  searched until `time_budget` seconds (None: no limit) have passed since the
  call began, and the best found so far are returned. Sorted by the model's
  log-probability (then distance, then tokens); at most k; never `broken`.
  Raises ValueError on empty input or a token outside `tokens.ALL_TOKENS`.
  """
  start = time.monotonic()
  broken = _check_input(broken, max_distance, k)
  model = ngram.load_default() if model is None else model
  deadline = None if time_budget is None else start + time_budget

  found: dict[tuple[str, ...], int] = {}
  seen: set[tuple[str, ...]] = {broken}
  # Search frontier: (-priority, tie, tokens, depth, error).
  frontier: list = []
  counter = itertools.count()
  root_error = syntax_errors.parse_error(broken)
  root_index = len(broken) if root_error is None else root_error.index

  def visit(seq: tuple[str, ...], depth: int, edit_position: int) -> None:
    if seq in seen:
      return
    seen.add(seq)
    error = syntax_errors.parse_error(seq)
    if error is None:
      found[seq] = depth
      return
    if depth < max_distance:
      # Promising: the parser now gets further than before the edit.
      progress = error.index - max(edit_position, 0)
      priority = 2.0 * progress + 0.25 * model.log_prob(seq) - 3.0 * depth
      heapq.heappush(frontier, (-priority, next(counter), seq, depth, error))

  for position, seq in distance1_edits(broken):
    visit(seq, 1, position)

  while frontier and (deadline is None or time.monotonic() < deadline):
    _, _, seq, depth, error = heapq.heappop(frontier)
    for position, child in _local_edits(seq, error, (2, 1)):
      visit(child, depth + 1, position)
      if deadline is not None and time.monotonic() >= deadline:
        break

  candidates = []
  for seq, depth in found.items():
    distance = depth if depth == 1 else Levenshtein.distance(broken, seq)
    if 1 <= distance <= max_distance:
      candidates.append(Candidate(seq, distance, model.log_prob(seq)))
  candidates.sort(key=lambda c: (-c.log_prob, c.distance, c.tokens))
  del root_index
  return candidates[:k]


def generate(broken: Sequence[str], *, max_distance: int = 3, k: int = 1000,
             time_budget: Optional[float] = DEFAULT_TIME_BUDGET,
             model: Optional[ngram.NgramModel] = None) -> list[list[str]]:
  """The token lists of `generate_scored`: valid repairs, best first by the model."""
  return [list(c.tokens) for c in generate_scored(
      broken, max_distance=max_distance, k=k, time_budget=time_budget, model=model)]
