"""Sequences one token edit from a fixed one: validity and n-gram scores, fast.

The exact shortcuts behind the generator's exhaustive distance-1 phase (and
its checks one edit below a searched partial repair), each equal to the slow
path by construction and checked against it:
* `NeighbourValidity`: `tokens.is_valid` for a neighbour. An edit that keeps
  the brackets of an input whose brackets do not match is invalid without a
  parse; an edit of non-layout, non-bracket tokens changes one line, and that
  line is compiled alone first: if it does not parse, neither does the program
  (unless it is a block header, a continuation clause or a decorator), and a
  line of simple statements swapped for another leaves the program's verdict
  as it was; and an edit after the last token Python's parser read before a
  plain "invalid syntax" cannot make the program valid
  (`syntax_errors.ParseError.last_read`). Checked against `tokens.is_valid` on
  every neighbour of 100 train inputs (709,280 sequences) and of 500 more
  (3,679,984), no disagreement (launch/analysis/check_neighbour_validity.py), and in
  the tests.
* `NeighbourLogProb`: `model.log_prob` for a neighbour, rescored
  incrementally from the cached states of the fixed sequence.
"""
import ast
from typing import Iterable, Iterator, Optional, Sequence

from repair_rank.generator import ngram
from repair_rank.syntax import parser
from repair_rank.syntax import syntax_errors
from repair_rank.syntax import tokens as tokens_lib

ALPHABET: tuple[str, ...] = tokens_lib.ALL_TOKENS
_LAYOUT = tokens_lib.LAYOUT
_BRACKETS = tokens_lib.BRACKETS
# First tokens of lines whose validity depends on the lines before or after.
_CONTEXT_DEPENDENT = frozenset(("else", "elif", "except", "finally", "try", "@", "case", "match"))
# First tokens of compound statements (a one-line `if x : y` may take an `else`).
_COMPOUND = _CONTEXT_DEPENDENT | frozenset(("if", "while", "for", "with", "def", "class", "async"))


def _compiles(text: str) -> bool:
  return parser.parses(text)


_PLAIN_TEXT = tokens_lib.PLAIN_TEXT


def properly_nested(tokens: Sequence[str]) -> bool:
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


class NeighbourValidity:
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
    self._nested = properly_nested(tokens)
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
      return properly_nested(seq) and tokens_lib.is_valid(seq)
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


class NeighbourLogProb:
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


def edits(tokens: tuple[str, ...], positions: Optional[Iterable[int]] = None
          ) -> Iterator[tuple[int, Optional[str], Optional[str], tuple[str, ...]]]:
  """(position, removed, added, sequence) for every single edit; may repeat.

  `positions` (default: every one, 0..len(tokens)) are the edit positions visited.
  """
  for i in range(len(tokens) + 1) if positions is None else positions:
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
  for position, _, _, seq in edits(tuple(tokens)):
    yield position, seq
