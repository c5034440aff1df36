"""A snippet's repairs as the texts a person reads: one per text, best first.

The generator's candidates are token sequences; several give the same text (a
line break the file already has, a trailing NEWLINE), and a list of them splits one
repair's probability between its copies. Here the
candidates of a snippet (the generator's, and character-level ones for a slip
inside a token, `syntax.character_repairs`) are scored together, turned into
the user's text (`text_edits`), and those that give the same text are one
repair: the copy of fewest edits is shown, and its confidence is the sum of the
copies' (issue 22, item 3). (Grouping by syntax tree instead merged layouts that
read differently and let their sum outrank the fix: `if a == 1 print(a)` got
`a = 1` + `print(a)` on two lines first.) A repair whose layout moves a statement into
another block is ranked below every one that keeps the meaning (`layout_meaning`), its
confidence no higher than theirs: in a file that mixes tabs and spaces, and where the
repair breaks a line (a block made of `if x print(a)` must not take the next line in).

The command and the diagnosis front ends (page, /repair.json, the editor
server) both take their snippet repairs from `snippet_fixes`.
"""
import dataclasses
import re
from typing import Optional, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank.generator import search
from repair_rank.ranking import confidence as confidence_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.repair import layout_meaning
from repair_rank.repair import ranked
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank.repair import text_edits
from repair_rank.syntax import character_repairs
from repair_rank.syntax import parser
from repair_rank.syntax import tokens as tokens_lib

# Token search after a character repair that still does not parse (seconds, edits).
_AFTER_CHARACTER_BUDGET = 0.05
_AFTER_CHARACTER_K = 20


@dataclasses.dataclass(frozen=True)
class Fix:
  """One repair of a source as text.

  text: the whole repaired source (newlines normalised to \n).
  edits: the edits of the source that give it (`text_edits.TextEdit`s, ascending,
    non-overlapping).
  description: the edits in words, lines as in the source ("line 2: insert ')'").
  """
  repair: ranked.Repair
  text: str
  edits: tuple[text_edits.TextEdit, ...]
  description: str


@dataclasses.dataclass(frozen=True)
class _Candidate:
  tokens: tuple[str, ...]
  distance: int
  base: Optional[character_repairs.CharRepair]  # None: token edits of the source itself


def character_edits(old: str, new: str) -> tuple[text_edits.TextEdit, ...]:
  """The fewest character edits turning `old` into `new` (adjacent ones merged)."""
  edits: list[text_edits.TextEdit] = []
  for op in Levenshtein.opcodes(old, new):
    if op.tag == "equal":
      continue
    edit = text_edits.TextEdit(op.src_start, op.src_end, new[op.dest_start:op.dest_end])
    if edits and edits[-1].end == edit.start:
      edit = text_edits.TextEdit(edits[-1].start, edit.end, edits[-1].text + edit.text)
      edits.pop()
    edits.append(edit)
  return tuple(edits)


def describe_text_edits(text: str, edits: Sequence[text_edits.TextEdit]) -> str:
  """Character edits in words: "line 1: insert '\"'", "line 2: replace '\\\\' with '/'"."""
  out = []
  for edit in edits:
    line = text.count("\n", 0, edit.start) + 1
    old, new = text[edit.start:edit.end], edit.text
    if not old:
      out.append(f"line {line}: insert {new!r}")
    elif not new:
      out.append(f"line {line}: delete {old!r}")
    else:
      out.append(f"line {line}: replace {old!r} with {new!r}")
  return "; ".join(out)


def _candidates(text: str, query: Sequence[str], *, max_distance: int, k: int,
                time_budget: Optional[float], max_expansions: Optional[int]
                ) -> list[_Candidate]:
  """Character-level repairs (`character_repairs`, and one token edit after those that
  still do not parse), then the generator's repairs of the query when it does not parse
  as tokens. Token sequences that differ only in their trailing layout are one
  candidate, the one of fewest edits (on a tie the first): the scorer cannot tell
  `print("hello")` from `print("hello)")`, but a person makes the first slip."""
  out: dict[tuple[str, ...], _Candidate] = {}

  def add(candidate: _Candidate) -> None:
    key = (tuple(text_edits.strip_layout_end(candidate.tokens)) if candidate.base
           else candidate.tokens)
    if key not in out or candidate.distance < out[key].distance:
      out[key] = candidate

  for char in character_repairs.candidates(text):
    tokens = tuple(tokens_lib.lex(char.text))
    if not tokens:
      continue
    if parser.parses(char.text):
      add(_Candidate(tokens, len(char.edits), char))
    elif not tokens_lib.is_valid(tokens):
      for c in search.generate_scored(tokens, max_distance=1, k=_AFTER_CHARACTER_K,
                                      time_budget=_AFTER_CHARACTER_BUDGET):
        add(_Candidate(c.tokens, len(char.edits) + c.distance, char))
  if not tokens_lib.is_valid(query):
    for c in search.generate_scored(query, max_distance=max_distance, k=k,
                                    time_budget=time_budget, max_expansions=max_expansions):
      stripped = tuple(text_edits.strip_layout_end(c.tokens))
      if stripped not in out or out[stripped].base is None:  # else a character repair's
        add(_Candidate(c.tokens, c.distance, None))
  return list(out.values())


def _scored_tokens(candidate: _Candidate, query: Sequence[str]) -> list[str]:
  """The tokens the scorer sees: a character repair's with the query's trailing layout
  (an unterminated string ate the query's last NEWLINE; the candidate should not be
  judged for putting it back)."""
  if candidate.base is None:
    return list(candidate.tokens)
  trailing = len(query) - len(text_edits.strip_layout_end(query))
  return text_edits.strip_layout_end(candidate.tokens) + list(query[len(query) - trailing:])


def snippet_fixes(text: str, score_fn: evaluate.ScoreFn, *, top_k: int, max_distance: int = 3,
                  k: int = 1000, time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
                  max_expansions: Optional[int] = None) -> list[Fix]:
  """The `top_k` best repairs of the snippet `text` (newlines as \\n) as texts, one per
  text, best first: by the summed confidence of the copies where the scorer has a
  calibration (else by the best copy's score); in a file mixing tabs and spaces,
  repairs that move a statement between blocks last."""
  lexemes = tokens_lib.lex_lexemes(text)
  query = [lexeme.token for lexeme in lexemes]
  found = _candidates(text, query, max_distance=max_distance, k=k, time_budget=time_budget,
                      max_expansions=max_expansions)
  if not found:
    return []
  scores, confidences = confidence_lib.score_with_confidence(
      score_fn, list(query), [_scored_tokens(c, query) for c in found])
  texts, token_lines = source_text.token_texts(text, query)
  dropped = source_text.describe_dropped(source_text.dropped_characters(text))
  # text -> [index shown, text, edits, summed confidence, its best copy's score]
  groups: dict[str, list] = {}
  # Every candidate becomes text (some 75 us each), so a text's confidence sums all copies.
  for i in metrics.best_first(scores):
    candidate = found[i]
    base = text if candidate.base is None else candidate.base.text
    if candidate.base is None:
      edits = tuple(text_edits.repair_edits(text, candidate.tokens))
      repaired = text_edits.apply_edits(text, edits)
    else:
      repaired = text_edits.apply_repair(base, candidate.tokens)
      edits = character_edits(text, repaired)
    if not parser.parses(repaired):
      continue  # no text of the user's lexes to these tokens (a token inside a slip)
    share = 0.0 if confidences is None else float(confidences[i])
    key = repaired.rstrip()  # what a person reads; a last line break more or less is none
    if key in groups:
      groups[key][3] += share
      kept = found[groups[key][0]]
      if candidate.distance < kept.distance:  # the copy of fewest edits is described
        groups[key][:3] = [i, repaired, edits]
    else:  # the first copy met is the best scored: its score is the text's
      groups[key] = [i, repaired, edits, share, float(scores[i])]
  entries = list(groups.values())
  if confidences is not None:
    entries.sort(key=lambda entry: -entry[3])  # stable: ties keep the score order
  # A repair whose layout moves a statement into another block waits below every one that
  # keeps the meaning: in a file mixing tabs and spaces (its indentation is a guess), and
  # wherever the repair breaks a line (`if a == 1 print(a)` made a block whose INDENT took
  # the next line, `b = 2`, in with it: scored above the ':' in place on the snippets'
  # training data, which has `if x:` bodies on their own lines).
  mixes = layout_meaning.mixes_tabs_and_spaces(text)
  lines_before = text.rstrip().count("\n")
  moves = [found[e[0]].base is None
           and (mixes or e[1].rstrip().count("\n") > lines_before)
           and layout_meaning.changes_meaning(text, lexemes, found[e[0]].tokens)
           for e in entries]
  if any(moves) and not all(moves):
    kept_share = max(e[3] for e, moved in zip(entries, moves) if not moved)
    entries = layout_meaning.keep_meaning_first(
        entries, moves, lambda e: [*e[:3], min(e[3], kept_share), e[4]])
  fixes = []
  for i, repaired, edits, share, score in entries[:top_k]:
    candidate = found[i]
    if candidate.base is None:
      words = showing.describe_edits(query, texts, token_lines, candidate.tokens)
    else:
      words = describe_text_edits(text, edits)
    # The copy of fewest edits is described, with the best copy's score: the one that
    # placed the text (a lesser copy's score listed a text below ones it ranks above).
    repair = ranked.Repair(candidate.tokens, score, candidate.distance,
                           None if confidences is None else min(share, 1.0))
    fixes.append(Fix(repair, repaired, edits, "; ".join(filter(None, [dropped, words]))))
  return fixes


def shown_edits(text: str, fix: Fix) -> tuple[text_edits.TextEdit, ...]:
  """The edits to mark when showing `fix`: its own, unless one rewrites text across lines
  (a region laid out afresh), where the fewest character edits read better."""
  for edit in fix.edits:
    old = text[edit.start:edit.end]
    if "\n" in old.strip() or "\n" in edit.text.strip():
      return character_edits(text, fix.text)
  return fix.edits


def marked(text: str, edits: Sequence[text_edits.TextEdit], style: str) -> str:
  """`text` with `edits` applied and marked as `showing.show_repair` marks them ("markers":
  [+x] / [-x], "ansi": colours, "plain": the repaired text). Only what a person sees is
  marked: inserted or deleted line breaks and indentation show as the new layout."""
  out, cursor = [], 0
  # At one offset a deletion shows before an insertion: [-0][+-], as show_repair does.
  for edit in sorted(edits, key=lambda e: (e.start, e.start == e.end)):
    out.append(text[cursor:max(edit.start, cursor)])
    deleted = text[max(cursor, edit.start):edit.end]
    if deleted.strip() and style != "plain":  # each word its own mark: [-×] [-3]
      out.append(re.sub(r"\S+", lambda m: showing.mark(m.group(), False, style),
                        deleted.strip()))
    inserted = edit.text
    core = inserted.strip()
    if core:
      lead = inserted[:len(inserted) - len(inserted.lstrip())]
      trail = inserted[len(inserted.rstrip()):]
      out.append(lead + showing.mark(core, True, style) + trail)
    else:
      out.append(inserted)
    cursor = max(cursor, edit.end)
  out.append(text[cursor:])
  return "".join(out)
