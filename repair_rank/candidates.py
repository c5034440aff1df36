"""Repair candidates: valid token sequences near a broken one, best first.

DESIGN.md step 4: the Levenshtein ball of radius `max_distance` around the
broken sequence, intersected with Python (`tokens.is_valid`), ordered by the
Markov model (`ngram`), top k. The final order is the n-gram log-probability
(the "Markov order"); each `Candidate` carries its exact token edit distance
to the input, a feature the ranker needs.

How:
* Distance 1 is exhaustive whatever the budget: every deletion, every
  substitution by any of the 88 tokens and every insertion of any token at
  any position. Exact shortcuts make it cheap (`_NeighbourValidity`): an edit
  that keeps the brackets of an input whose brackets do not match is invalid
  without a parse; an edit of non-layout, non-bracket tokens changes one line,
  and that line is compiled alone first: if it does not parse, neither does
  the program (unless it is a block header, a continuation clause or a
  decorator), and a line of simple statements swapped for another leaves the
  program's verdict as it was; and an edit after the last token Python's
  parser read before a plain "invalid syntax" cannot make the program valid
  (`syntax_errors.ParseError.last_read`). Log-probabilities are rescored incrementally
  (`_NeighbourLogProb`). Checked against `tokens.is_valid` on every neighbour
  of 100 train inputs (709,280 sequences) and of 500 more (3,679,984), no
  disagreement (launch/check_neighbour_validity.py), and in the tests.
* Distances 2..max_distance: best-first search over partial repairs keyed by
  their n-gram log-probability plus the log rates of their edits under the
  channel model of `edit_stats` (how often people insert, delete or
  substitute each token, per opportunity, on train): inserting `(` is tried
  long before deleting a `NAME` the n-gram finds unlikely. A popped partial
  repair is parsed (`syntax_errors.parse_error`) and extended by edits at the
  positions around Python's error (index - 2 .. end + 1), trying per position
  the top-8 tokens by their n-gram fit with both neighbours plus brackets,
  layout, ',' and ':'; and by the second halves of edits people make in
  pairs far apart (`_long_range_edits`: a closer anywhere after an opener
  that "was never closed", an opener before an unmatched closer, a DEDENT at
  any later line start after an inserted INDENT). Children are scored
  incrementally from the parent's model states when pushed. Children that
  will be searched from in turn (distance 2 of 3) are checked for validity as
  they are made, with the distance-1 shortcuts relative to their parent, so a
  distance-2 repair is found as soon as its parent is expanded; the last
  level (leaves) is parsed only when popped, as there are many more of them.
  The search stops at `time_budget` seconds after the call began (or
  `max_expansions`, a machine-independent budget for reproducible datasets).

Why the truth is still missed (valid, distance 2 and 3; BENCHMARKS.md):
* The edit is far from where Python reports the error and is not one of the
  long-range pairs above (`for` inserted and `=` made `in` 7 tokens before
  the reported error; an opener 19 tokens before an unmatched closer on
  another line).
* An unlikely edit: the truth's partial repairs have low n-gram probability
  and rare edits (`- -` inserted, `return` replaced by `print`), so thousands
  of likelier partial repairs are explored first; at distance 3 also the
  truth itself may rank below 1000 likelier valid sequences in the ball.
* The top-8 token shortlist: an inserted/substituted token outside the 8
  best-fitting ones that is not always tried (`{`, `for`) is not tried beyond
  distance 1.
* Time: the exhaustive distance-1 phase (validity and log-probabilities) takes
  a median 0.58 s on valid inputs of 80+ tokens, leaving less of the budget
  for the search.
"""
import ast
import dataclasses
import heapq
import itertools
import time
from typing import Iterator, Optional, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from repair_rank import edit_stats
from repair_rank import ngram
from repair_rank import syntax_errors
from repair_rank import tokens as tokens_lib

ALPHABET: tuple[str, ...] = tokens_lib.ALL_TOKENS
_CLOSERS = (")", "]", "}")
DEFAULT_TIME_BUDGET = 0.9  # Seconds per call, after which the search stops.


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
  if not broken:
    raise ValueError("broken is empty: there is nothing to repair")
  if isinstance(broken, str):
    raise ValueError("broken must be a list of tokens, not a string; "
                     "use tokens.lex(source) or text.split()")
  broken = tuple(broken)
  try:
    tokens_lib.check_tokens(broken)
  except tokens_lib.UnknownTokenError as e:
    raise ValueError(f"broken has a token outside the alphabet: {e}") from e
  if max_distance < 1:
    raise ValueError(f"max_distance must be >= 1, got {max_distance}")
  if k < 1:
    raise ValueError(f"k must be >= 1, got {k}")
  return broken

_LAYOUT = frozenset((tokens_lib.NEWLINE, tokens_lib.INDENT, tokens_lib.DEDENT))
_BRACKETS = frozenset("()[]{}")
# First tokens of lines whose validity depends on the lines before or after.
_CONTEXT_DEPENDENT = frozenset(("else", "elif", "except", "finally", "try", "@", "case", "match"))
# First tokens of compound statements (a one-line `if x : y` may take an `else`).
_COMPOUND = _CONTEXT_DEPENDENT | frozenset(("if", "while", "for", "with", "def", "class", "async"))


def _compiles(text: str) -> bool:
  try:
    compile(text, "<candidate>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
  except (SyntaxError, ValueError, MemoryError, RecursionError):
    return False
  return True
_PLAIN_TEXT = {t: tokens_lib.PLACEHOLDERS.get(t, t) for t in ALPHABET}


def _properly_nested(tokens: Sequence[str]) -> bool:
  """Whether the brackets match, as in any valid Python."""
  stack = []
  pairs = {")": "(", "]": "[", "}": "{"}
  for tok in tokens:
    if tok in _BRACKETS:
      if tok in pairs:
        if not stack or stack.pop() != pairs[tok]:
          return False
      else:
        stack.append(tok)
  return not stack


class _NeighbourValidity:
  """`tokens.is_valid` for sequences one edit from a fixed one, faster.

  An edit that removes and adds only tokens that are neither layout nor
  brackets keeps the layout verdict of `tokens.render` and changes one line of
  its text: if the original has a layout error, so has the neighbour;
  otherwise the neighbour's text is the original's with that line re-joined.
  An edit that keeps the brackets of an original whose brackets do not match
  is invalid. Every other edit goes through `tokens.is_valid`.
  """

  def __init__(self, tokens: tuple[str, ...]):
    self._tokens = tokens
    self._lines: Optional[list[str]] = None
    self._nested = _properly_nested(tokens)
    # Where the original fails (None: valid); edits after the last token Python's
    # parser read leave it failing there.
    self.error = syntax_errors.parse_error(tokens)
    self._last_read = None if self.error is None else self.error.last_read
    try:
      text = tokens_lib.render(tokens)
    except tokens_lib.LayoutError:
      self._layout_error = True
      return
    self._layout_error = False
    self._trailing = text.endswith("\n")
    # Lines as render makes them: [indent, [token indices]], and each token's line.
    lines: list[list] = []
    self._line_of: list[int] = []
    current: list[int] = []
    level = 0
    for i, tok in enumerate(tokens):
      if tok == tokens_lib.NEWLINE:
        lines.append([tokens_lib.INDENT_UNIT * level, current])
        self._line_of.append(len(lines) - 1)
        current = []
      elif tok == tokens_lib.INDENT:
        level += 1
        self._line_of.append(-1)
      elif tok == tokens_lib.DEDENT:
        level -= 1
        self._line_of.append(-1)
      else:
        current.append(i)
        self._line_of.append(len(lines))
    self._last_newline = max(
        (i for i, t in enumerate(tokens) if t == tokens_lib.NEWLINE), default=-1)
    if current:
      lines.append([tokens_lib.INDENT_UNIT * level, current])
    self._line_tokens = [l[1] for l in lines]
    self._indents = [l[0] for l in lines]
    self._lines = [ind + " ".join(_PLAIN_TEXT[tokens[j]] for j in idx)
                   for ind, idx in lines]
    self._valid = self.error is None
    self._simple: dict[int, bool] = {}

  def _simple_line(self, line: int) -> bool:
    """Whether a line is simple statements only and parses on its own."""
    got = self._simple.get(line)
    if got is None:
      idx = self._line_tokens[line]
      got = bool(idx) and self._tokens[idx[0]] not in _COMPOUND and (
          self._tokens[idx[-1]] != ":" and _compiles(self._lines[line].strip()))
      self._simple[line] = got
    return got

  def is_valid(self, position: int, removed: Optional[str], added: Optional[str],
               seq: tuple[str, ...]) -> bool:
    """Whether `seq`, the original with `removed` at `position` replaced by `added`, is valid."""
    if self._last_read is not None and position > self._last_read:
      return False  # Python stops reading before the edit, where the original failed.
    if removed in _BRACKETS or added in _BRACKETS:
      return _properly_nested(seq) and tokens_lib.is_valid(seq)
    if not self._nested:
      return False  # The edit keeps the brackets, which Python rejects.
    if removed in _LAYOUT or added in _LAYOUT:
      return tokens_lib.is_valid(seq)
    if self._layout_error:
      return False
    tokens, n = self._tokens, len(self._tokens)
    if position >= self._last_newline or self._line_of[position] < 0:
      # The last line (render's final-line rules) and INDENT/DEDENT: slow path.
      return tokens_lib.is_valid(seq)
    line = self._line_of[position]
    idx = self._line_tokens[line]
    texts = [_PLAIN_TEXT[tokens[j]] for j in idx]
    if tokens[position] == tokens_lib.NEWLINE:  # Insertion at the end of a line.
      texts.append(_PLAIN_TEXT[added])
    else:
      at = idx.index(position)
      if removed is None:
        texts.insert(at, _PLAIN_TEXT[added])
      elif added is None:
        del texts[at]
      else:
        texts[at] = _PLAIN_TEXT[added]
    edited = " ".join(texts)
    # A line that does not parse on its own does not parse in any program,
    # unless it is a block header (ends in ':'), a continuation clause or a
    # decorator, which depend on the lines around them. And one line of simple
    # statements can be swapped for another without changing the program's
    # verdict. Both are decided compiling the line alone, several times
    # cheaper than the program.
    if texts and texts[-1] != ":" and texts[0] not in _CONTEXT_DEPENDENT:
      if not _compiles(edited):
        return False
      if texts[0] not in _COMPOUND and self._simple_line(line):
        return self._valid
    lines = list(self._lines)
    lines[line] = self._indents[line] + edited
    text = "\n".join(lines)
    if self._trailing:
      text += "\n"
    return _compiles(text)


class _NeighbourLogProb:
  """`model.log_prob` for sequences one edit from a fixed one, incrementally.

  Scores the prefix from cached states, then the new token, then the old
  tokens only until the model's state is again the one the original had
  there (from then on the two sequences score alike).
  """

  def __init__(self, model: ngram.NgramModel, tokens: tuple[str, ...]):
    self._model = model
    self._tokens = tokens
    self.states = self._states = [model.initial_state()]
    self._cumulative = [0.0]
    for tok in tokens:
      state = self._states[-1]
      self._cumulative.append(self._cumulative[-1] + model.next_log_prob(state, tok))
      self._states.append(model.advance(state, tok))
    self._total = self._cumulative[-1] + model.next_log_prob(self._states[-1], ngram.EOS)

  def log_prob(self, position: int, removed: Optional[str], added: Optional[str]) -> float:
    model, tokens, states = self._model, self._tokens, self._states
    state = states[position]
    total = self._cumulative[position]
    if added is not None:
      total += model.next_log_prob(state, added)
      state = model.advance(state, added)
    j = position + (removed is not None)
    n = len(tokens)
    while j < n:
      if state == states[j]:
        return total + self._total - self._cumulative[j]
      total += model.next_log_prob(state, tokens[j])
      state = model.advance(state, tokens[j])
      j += 1
    return total + model.next_log_prob(state, ngram.EOS)


def _edits(tokens: tuple[str, ...]
           ) -> Iterator[tuple[int, Optional[str], Optional[str], tuple[str, ...]]]:
  """(position, removed, added, sequence) for every single edit; may repeat."""
  for i in range(len(tokens) + 1):
    head, tail = tokens[:i], tokens[i:]
    for tok in ALPHABET:
      yield i, None, tok, head + (tok,) + tail
    if i < len(tokens):
      rest = tokens[i + 1:]
      yield i, tokens[i], None, head + rest
      for tok in ALPHABET:
        if tok != tokens[i]:
          yield i, tokens[i], tok, head + (tok,) + rest


def distance1_edits(tokens: Sequence[str]) -> Iterator[tuple[int, tuple[str, ...]]]:
  """Every sequence one edit away: (edit position, sequence); may repeat.

  Deletions and substitutions at position i, insertions before token i
  (i = len(tokens) appends).
  """
  for position, _, _, seq in _edits(tuple(tokens)):
    yield position, seq


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """Knobs of the distance-2/3 search (tuned on valid with launch/benchmark_candidates.py).

  Partial repairs are explored best first by key = log P(sequence)
  + channel_weight * sum of the edits' log rates (`edit_stats`)
  - window_penalty * [first edit away from the error]
  - valid_penalty * [extends a partial repair that already parses].
  before/after: edit positions searched around the parser's error, in tokens
    (from error.index - before to error.end_index + after).
  around_valid: for a partial repair that already parses, positions searched
    on either side of its last edit (0: such repairs are not extended).
  top_tokens: tokens tried per insertion/substitution, the best by the n-gram
    model's fit with both neighbours (plus `_ALWAYS`, the tokens people insert most).
  channel_weight: weight of the edit channel in the key (0: n-gram only).
  window_penalty: key lost by a first edit outside the error window, in nats.
  valid_penalty: key lost by extensions of a partial repair that parses.
  """
  before: int = 2
  after: int = 1
  around_valid: int = 2
  top_tokens: int = 8
  channel_weight: float = 1.0
  window_penalty: float = 3.0
  valid_penalty: float = 3.0


DEFAULT_SEARCH = SearchConfig()
# Tried at every searched position beyond distance 1 whatever the n-gram says:
# brackets, layout and the tokens people insert most often (edit_stats on train).
_ALWAYS = tuple(t for t in ALPHABET if t in (_CLOSERS + ("(", "[", ",", ":", tokens_lib.NEWLINE,
                                                         tokens_lib.INDENT, tokens_lib.DEDENT)))


class _TokenChooser:
  """The tokens most worth trying at a position, by the n-gram model.

  A token t between `left` context and right neighbour r scores
  log P(t | left) + log P(r | left, t); states are cached per prefix.
  """

  def __init__(self, model: ngram.NgramModel, top: int):
    self._model = model
    self._top = top
    self._cache: dict = {}

  def choose(self, state: int, right: Optional[str]) -> tuple[str, ...]:
    key = (state, right)
    got = self._cache.get(key)
    if got is not None:
      return got
    model = self._model
    if self._top >= len(ALPHABET):
      got = ALPHABET
    else:
      # Shortlist by the left context, then rerank with the right neighbour
      # (each advance may build a model row, so the shortlist stays short).
      left = model.next_log_probs(state)[:len(ALPHABET)]
      shortlist = np.argpartition(-left, 2 * self._top)[:2 * self._top]
      right_tok = ngram.EOS if right is None else right
      scored = sorted(
          shortlist, key=lambda i: -(left[i] + model.next_log_prob(
              model.advance(state, ALPHABET[i]), right_tok)))
      chosen = {ALPHABET[i] for i in scored[:self._top]} | set(_ALWAYS)
      got = tuple(t for t in ALPHABET if t in chosen)
    self._cache[key] = got
    return got


Change = tuple[int, Optional[str], Optional[str]]  # (position, removed, added)


def _edits_at(tokens: tuple[str, ...], positions: Iterator[int], chooser: _TokenChooser,
              states: Sequence[int]) -> Iterator[Change]:
  """Deletions, and insertions/substitutions of the chosen tokens, at positions."""
  n = len(tokens)
  for i in positions:
    for tok in chooser.choose(states[i], tokens[i] if i < n else None):
      yield i, None, tok
    if i < n:
      yield i, tokens[i], None
      for tok in chooser.choose(states[i], tokens[i + 1] if i + 1 < n else None):
        if tok != tokens[i]:
          yield i, tokens[i], tok


def _long_range_edits(tokens: tuple[str, ...], error: Optional[syntax_errors.ParseError],
                      last_edit: int) -> Iterator[Change]:
  """Second halves of edits people make in pairs, far from where Python looks.

  * '(' was never closed: Python blames the opener; the closer may go
    anywhere after it (`print ( x , y` + `)` at the end of the line).
  * unmatched ')': the opener may go anywhere before it on its line.
  * a repair that parses after an INDENT/DEDENT edit: the matching DEDENT/
    INDENT may go at any later line start (a block indented or dedented as a
    whole: `def f ( ) :` + INDENT, then DEDENT where the body ends).
  """
  n = len(tokens)
  if error is not None and error.unclosed:
    for i in range(error.index + 1, n + 1):
      for tok in _CLOSERS:
        yield i, None, tok
  elif error is not None and error.message.startswith("unmatched"):
    start = error.index
    while start > 0 and tokens[start - 1] not in _LAYOUT:
      start -= 1
    for i in range(start, error.index):
      for tok in ("(", "[", "{"):
        yield i, None, tok
  elif error is None and 0 <= last_edit < n + 1:
    edited = tokens[last_edit] if last_edit < n else None
    if edited in (tokens_lib.INDENT, tokens_lib.DEDENT):
      other = tokens_lib.DEDENT if edited == tokens_lib.INDENT else tokens_lib.INDENT
      for i in range(last_edit + 2, n + 1):
        if tokens[i - 1] == tokens_lib.NEWLINE:
          yield i, None, other


def _apply(tokens: tuple[str, ...], edit: Change) -> tuple[str, ...]:
  position, removed, added = edit
  tail = tokens[position + (removed is not None):]
  return tokens[:position] + ((added,) if added is not None else ()) + tail


def _log_rate(stats: edit_stats.EditStats, removed: Optional[str], added: Optional[str]) -> float:
  if removed is None:
    return stats.log_rate_of(edit_stats.INSERT, None, added)
  if added is None:
    return stats.log_rate_of(edit_stats.DELETE, removed, None)
  return stats.log_rate_of(edit_stats.SUBSTITUTE, removed, added)


def _search_positions(tokens: tuple[str, ...], error: Optional[syntax_errors.ParseError],
                      last_edit: int, config: SearchConfig) -> list[int]:
  n = len(tokens)
  if error is None:
    lo, hi = last_edit - config.around_valid, last_edit + config.around_valid
  else:
    lo = error.index - config.before
    hi = max(error.index, error.end_index) + config.after
  return list(range(max(0, lo), min(n, hi) + 1))


def generate_scored(broken: Sequence[str], *, max_distance: int = 3, k: int = 1000,
                    time_budget: Optional[float] = DEFAULT_TIME_BUDGET,
                    model: Optional[ngram.NgramModel] = None,
                    max_expansions: Optional[int] = None,
                    search: SearchConfig = DEFAULT_SEARCH,
                    stats: Optional[edit_stats.EditStats] = None) -> list[Candidate]:
  """Valid repairs within `max_distance` token edits of `broken`, best first.

  Complete at distance 1 whatever the budget; distances 2..max_distance are
  searched until `time_budget` seconds (None: no limit) have passed since the
  call began or `max_expansions` partial repairs were extended (a budget that
  does not depend on the machine), and the best found so far are returned.
  Sorted by the model's log-probability (then distance, then tokens); at most
  k; never `broken`. `stats` (default: the bundled train statistics) steers
  the search towards the edits people make. Raises ValueError on empty input
  or a token outside `tokens.ALL_TOKENS`.
  """
  start = time.monotonic()
  broken = _check_input(broken, max_distance, k)
  model = ngram.load_default() if model is None else model
  stats = edit_stats.load_default() if stats is None else stats
  deadline = None if time_budget is None else start + time_budget
  channel_weight = search.channel_weight

  found: dict[tuple[str, ...], tuple[int, float]] = {}  # -> (depth, log-probability)
  seen: set[tuple[str, ...]] = {broken}
  # A max-heap of partial repairs:
  # (-key, tie, tokens, depth, last edit, parsed, channel log rate, log-probability).
  # Distance-1 sequences are parsed on arrival (completeness); deeper ones
  # only when popped, so that unpromising ones cost a log-probability only.
  frontier: list = []
  counter = itertools.count()
  push = heapq.heappush

  neighbours = _NeighbourValidity(broken)
  root_error = neighbours.error
  lo = hi = len(broken)
  if root_error is not None:
    lo = root_error.index - search.before
    hi = max(root_error.index, root_error.end_index) + search.after
  neighbour_log_prob = _NeighbourLogProb(model, broken)
  for position, removed, added, seq in _edits(broken):
    if seq in seen:
      continue
    seen.add(seq)
    valid = neighbours.is_valid(position, removed, added, seq)
    if not valid and max_distance == 1:
      continue  # Scored only to be kept or searched from.
    log_prob = neighbour_log_prob.log_prob(position, removed, added)
    if valid:
      found[seq] = (1, log_prob)
    if max_distance > 1:
      channel = _log_rate(stats, removed, added)
      key = log_prob + channel_weight * channel
      if not lo <= position <= hi:
        key -= search.window_penalty
      if valid:
        key -= search.valid_penalty
      push(frontier, (-key, next(counter), seq, 1, position, True, channel, log_prob))

  chooser = _TokenChooser(model, search.top_tokens)
  expansions = 0
  # Leaves (depth max_distance) are parsed only when popped; a sequence first met
  # as a leaf is checked again if a shallower parent makes it too.
  leaves: set[tuple[str, ...]] = set()
  while frontier and (deadline is None or time.monotonic() < deadline):
    _, _, seq, depth, last_edit, parsed, channel, log_prob = heapq.heappop(frontier)
    if depth >= max_distance:
      # Only the verdict matters: skip the parse when the brackets cannot match.
      if _properly_nested(seq) and tokens_lib.is_valid(seq):
        found[seq] = (depth, log_prob)
      continue
    # The children of a sequence that are not leaves are checked as they are made,
    # one edit from it (the shortcuts of _NeighbourValidity apply), so a repair is
    # found as soon as its parent is expanded rather than when it is popped.
    checker = None
    if parsed and seq in found:
      error = None
    else:
      if depth + 1 < max_distance:
        checker = _NeighbourValidity(seq)
        error = checker.error
      else:
        error = syntax_errors.parse_error(seq)
      if error is None:
        found[seq] = (depth, log_prob)
    if error is None and not search.around_valid:
      continue
    if max_expansions is not None and expansions >= max_expansions:
      break
    expansions += 1
    if checker is None and depth + 1 < max_distance:
      checker = _NeighbourValidity(seq)
    # Children are scored incrementally from the parent's cached model states.
    parent = _NeighbourLogProb(model, seq)
    positions = _search_positions(seq, error, last_edit, search)
    edits = itertools.chain(_edits_at(seq, iter(positions), chooser, parent.states),
                            _long_range_edits(seq, error, last_edit))
    penalty = search.valid_penalty if error is None else 0.0
    for edit in edits:
      child = _apply(seq, edit)
      if child in seen:
        if checker is None or child not in leaves:
          continue
        leaves.discard(child)
      seen.add(child)
      position, removed, added = edit
      child_channel = channel + _log_rate(stats, removed, added)
      child_log_prob = parent.log_prob(position, removed, added)
      key = child_log_prob + channel_weight * child_channel - penalty
      if checker is None:
        leaves.add(child)
      elif checker.is_valid(position, removed, added, child):
        found[child] = (depth + 1, child_log_prob)
        key -= search.valid_penalty
      push(frontier, (-key, next(counter), child, depth + 1, position, checker is not None,
                      child_channel, child_log_prob))

  candidates = []
  for seq, (depth, log_prob) in found.items():
    distance = depth if depth == 1 else Levenshtein.distance(broken, seq)
    # The empty program parses, but deleting everything repairs nothing.
    if seq and 1 <= distance <= max_distance:
      candidates.append(Candidate(seq, distance, log_prob))
  order = lambda c: (-c.log_prob, c.distance, c.tokens)
  # Every distance-1 repair is kept (completeness at distance 1), then the
  # likeliest deeper ones fill the k slots; the result is in the Markov order.
  nearest = sorted((c for c in candidates if c.distance == 1), key=order)[:k]
  deeper = sorted((c for c in candidates if c.distance > 1), key=order)
  return sorted(nearest + deeper[:k - len(nearest)], key=order)


def generate(broken: Sequence[str], *, max_distance: int = 3, k: int = 1000,
             time_budget: Optional[float] = DEFAULT_TIME_BUDGET,
             model: Optional[ngram.NgramModel] = None,
             max_expansions: Optional[int] = None) -> list[list[str]]:
  """The token lists of `generate_scored`: valid repairs, best first by the model."""
  return [list(c.tokens) for c in generate_scored(
      broken, max_distance=max_distance, k=k, time_budget=time_budget, model=model,
      max_expansions=max_expansions)]
