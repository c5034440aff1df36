"""Synthetic (broken, fixed) pairs: valid code corrupted by inverted human repairs.

More training data than the 9k real pairs (issue 4, item 5). A human repair
that inserted t becomes a corruption that deletes a t; one that deleted t, a
corruption that inserts t; one that substituted a -> b, a corruption that
substitutes b -> a. Each synthetic pair draws a distance d from train's
histogram over 1..max_distance, then d corrupting edits from `CorruptionModel`.

Which edit, and where. Each corrupting edit has a rate: train's count of the
inverse repair (`edit_stats.EditStats`) per opportunity (an occurrence of the
token it removes or replaces, or an insertion slot) in train's fixed
sequences; an (edit, position) is drawn in proportion to its rate, so over a
corpus like train's the edits come out in proportion to the repair counts.
(Drawing by raw counts among the edits that apply over-produces
corrupting insertions, which always apply, and under-produces edits of
rarer tokens.) Positions are not uniform in the data: `:` is deleted
at a line end in 88% of repairs but only 54% of `:`s end a line, and a stray
`>>` (a pasted REPL prompt) starts a line 98% of the time. So each
opportunity is in one of three line classes (start, middle, end) and its rate
is multiplied by the class's share of those repairs over its share of the
opportunities, shrunk towards 1 for rare repairs. Humans add or remove an
INDENT together with its DEDENT; a layout corruption moves both (2 edits):
it un-indents a block, or indents one statement.

A corruption is kept only if the result is invalid Python (`tokens.is_valid`),
its token Levenshtein distance to the source equals d, its layout is one the
lexer can emit (`lexable_layout`: true of every real pair), its lengths are
within those of the real pairs, and it repeats no earlier pair and no
excluded (valid/test) broken sequence. Otherwise the same d is tried again on
a fresh draw, so the distance histogram is train's.

  model = synthetic.CorruptionModel.fit(edit_stats.EditStats.fit(real_pairs), real_pairs)
  limits = synthetic.Limits.of(real_pairs, max_distance=3)
  pairs, report = synthetic.synthesize({"train": [f for _, f in real_pairs]}, model,
                                       limits, num_pairs=100, seed=0)
"""
import collections
import dataclasses
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from repair_rank.generator import edit_stats as edit_stats_lib
from repair_rank.syntax import tokens as tokens_lib

INSERT, DELETE, SUBSTITUTE = edit_stats_lib.INSERT, edit_stats_lib.DELETE, edit_stats_lib.SUBSTITUTE
LINE_CLASSES = ("start", "middle", "end")
_LINE_BREAKS = tokens_lib.LAYOUT
# Pseudo-count pulling a rare edit's position weights towards uniform (edits).
_POSITION_SHRINKAGE = 10.0
# Why a corruption was not kept; "kept" counts the ones that were.
REASONS = ("kept", "inapplicable", "length", "distance", "still_valid", "layout", "duplicate",
           "eval_overlap")
Pair = tuple[Sequence[str], Sequence[str]]


def line_class(sequence: Sequence[str], left: int, right: int) -> int:
  """Index into LINE_CLASSES of the spot between sequence[left] and sequence[right].

  For a token at i, left = i - 1 and right = i + 1; for the insertion slot
  before i, left = i - 1 and right = i. Start: first on its line; end: last.
  """
  if left < 0 or sequence[left] in _LINE_BREAKS:
    return 0
  if right >= len(sequence) or sequence[right] == tokens_lib.NEWLINE:
    return 2
  return 1


@dataclasses.dataclass(frozen=True)
class Corruption:
  """One corrupting edit of a valid sequence: at `position` (for an insertion,
  the index it goes before) `old` becomes `new`; None for the absent side."""
  op: str
  position: int
  old: Optional[str]
  new: Optional[str]

  def apply(self, sequence: Sequence[str]) -> list[str]:
    out = list(sequence)
    if self.op == INSERT:
      out.insert(self.position, self.new)
    elif self.op == DELETE:
      del out[self.position]
    else:
      out[self.position] = self.new
    return out


@dataclasses.dataclass
class CorruptionModel:
  """The corrupting edits (inverses of train's repairs) and their rates.

  ops/old/new: the distinct corrupting edits. rates[e, c]: how often humans
  made e's inverse repair per opportunity of line class c in the fixed
  sequences (relative units). An edit and position are drawn in proportion to
  these rates, so over a corpus like train's the edits come out in proportion
  to train's repair counts, at the line positions where humans made them.
  """
  ops: tuple[str, ...]
  old: tuple[Optional[str], ...]
  new: tuple[Optional[str], ...]
  rates: np.ndarray

  def __post_init__(self):
    self._token_index = {tok: i for i, tok in enumerate(tokens_lib.ALL_TOKENS)}
    # Row of an edit's opportunities in `draw`'s class counts: the token it needs,
    # or the last row (insertion slots) for an insertion.
    slots = len(self._token_index)
    self._key = np.array([slots if op == INSERT else self._token_index[old]
                          for op, old in zip(self.ops, self.old)])
    # Layout edits that take two tokens (INDENT with its DEDENT), and the row that
    # indents a statement (its opportunities are `indentable` statements).
    self._paired = np.array([tokens_lib.INDENT in (o, n) and op != SUBSTITUTE
                             for op, o, n in zip(self.ops, self.old, self.new)])
    self._indent_row = next((row for row, (op, n) in enumerate(zip(self.ops, self.new))
                             if op == INSERT and n == tokens_lib.INDENT), None)

  @classmethod
  def fit(cls, stats: edit_stats_lib.EditStats, pairs: Iterable[Pair], *,
          positions: bool = True) -> "CorruptionModel":
    """Inverts `stats`' repair counts; opportunities come from the fixed sides of
    `pairs` (the pairs `stats` counted). `positions`: weigh line classes by where
    the pairs' repairs were made (False: every opportunity alike)."""
    edits = [(DELETE, t, None, n) for t, n in sorted(stats.inserted.items())]
    edits += [(INSERT, None, t, n) for t, n in sorted(stats.deleted.items())]
    for key, n in sorted(stats.substituted.items()):
      a, b = key.split(" ", 1)
      edits.append((SUBSTITUTE, b, a, n))
    # Humans add or remove an INDENT together with its DEDENT (176 of the 6,348 train
    # pairs within distance 3; a lone one is not something the lexer emits), so a
    # layout corruption moves both: the INDENT rows stand for the pair, the DEDENT
    # rows (their partners) go.
    edits = [e for e in edits if e[3] > 0 and not (
        e[0] != SUBSTITUTE and tokens_lib.DEDENT in (e[1], e[2]))]
    if not edits:
      raise ValueError("the edit statistics hold no repairs")
    # Class counts of the repairs' positions (keyed by corrupting op and the token
    # whose occurrences are its opportunities) and of all opportunities.
    seen = collections.defaultdict(lambda: np.zeros(3))
    token_classes = collections.defaultdict(lambda: np.zeros(3))
    slot_classes = np.zeros(3)
    indentable_statements = 0
    for broken, fixed in pairs:
      broken, fixed = list(broken), list(fixed)
      for i, tok in enumerate(fixed):
        token_classes[tok][line_class(fixed, i - 1, i + 1)] += 1
      for slot in range(len(fixed) + 1):
        slot_classes[line_class(fixed, slot - 1, slot)] += 1
      indentable_statements += len(indentable(fixed))
      for op in Levenshtein.editops(broken, fixed):
        if op.tag == "insert":  # a human insertion: the corruption deletes fixed[dest]
          key, spot = (DELETE, fixed[op.dest_pos]), (op.dest_pos - 1, op.dest_pos + 1)
        elif op.tag == "delete":  # a human deletion: the corruption inserts before dest
          key, spot = (INSERT, broken[op.src_pos]), (op.dest_pos - 1, op.dest_pos)
        else:
          key, spot = (SUBSTITUTE, fixed[op.dest_pos]), (op.dest_pos - 1, op.dest_pos + 1)
        seen[key][line_class(fixed, *spot)] += 1
    rates = np.zeros((len(edits), 3))
    for row, (op, old, new, count) in enumerate(edits):
      if op == INSERT and new == tokens_lib.INDENT:  # per indentable statement
        rates[row] = count / (indentable_statements + 0.5)
        continue
      opportunities = slot_classes if op == INSERT else token_classes[old]
      share = (opportunities + 0.5) / (opportunities.sum() + 1.5)
      weight = np.ones(3)
      if positions:
        # The class's share of these repairs over its share of the opportunities,
        # shrunk towards 1 (uniform) for rare repairs.
        made = seen[(op, new if op == INSERT else old)]
        a = _POSITION_SHRINKAGE
        weight = (made + a * share) / ((made.sum() + a) * share)
      rates[row] = count * weight / (opportunities.sum() + 0.5)
    ops, old, new, _ = zip(*edits)
    return cls(ops, old, new, rates)

  def draw(self, sequence: Sequence[str], rng: np.random.Generator, budget: int = 1
           ) -> Optional[list[Corruption]]:
    """One corrupting edit of `sequence`, (edit, position) in proportion to the rates,
    as the token edits to apply in order: one, or two for an INDENT with its DEDENT
    (only drawn when `budget` >= 2). None if no edit applies."""
    classes = np.zeros((len(self._token_index) + 1, 3))  # opportunities by row and class
    for i, tok in enumerate(sequence):
      classes[self._token_index[tok], line_class(sequence, i - 1, i + 1)] += 1
    for slot in range(len(sequence) + 1):
      classes[-1, line_class(sequence, slot - 1, slot)] += 1
    mass = (self.rates * classes[self._key]).sum(1)
    statements = []
    if self._indent_row is not None:
      statements = indentable(sequence) if budget >= 2 else []
      mass[self._indent_row] = self.rates[self._indent_row, 0] * len(statements)
    if budget < 2:
      mass[self._paired] = 0.0
    if not mass.sum() > 0:
      return None
    choice = int(rng.choice(len(mass), p=mass / mass.sum()))
    op, old, new = self.ops[choice], self.old[choice], self.new[choice]
    if choice == self._indent_row:  # indent one statement: INDENT before, DEDENT after
      start, end = statements[int(rng.integers(len(statements)))]
      return [Corruption(INSERT, end, None, tokens_lib.DEDENT),
              Corruption(INSERT, start, None, tokens_lib.INDENT)]
    if op == INSERT:
      spots = np.arange(len(sequence) + 1)
      spot_classes = [line_class(sequence, s - 1, s) for s in spots]
    else:
      spots = np.array([i for i, t in enumerate(sequence) if t == old])
      spot_classes = [line_class(sequence, i - 1, i + 1) for i in spots]
    weights = self.rates[choice, spot_classes]
    position = int(spots[rng.choice(len(spots), p=weights / weights.sum())])
    if self._paired[choice]:  # delete an INDENT and the DEDENT closing its block
      closing = matching_dedent(sequence, position)
      if closing is None:
        return None
      return [Corruption(DELETE, closing, tokens_lib.DEDENT, None),
              Corruption(DELETE, position, tokens_lib.INDENT, None)]
    return [Corruption(op, position, old, new)]

  def corrupt(self, sequence: Sequence[str], distance: int, rng: np.random.Generator
              ) -> Optional[tuple[list[str], list[Corruption]]]:
    """`distance` token edits applied one after another (later ones see earlier
    ones); None if at some point no edit applies."""
    out, applied = list(sequence), []
    while len(applied) < distance:
      edits = self.draw(out, rng, budget=distance - len(applied))
      if edits is None:
        return None
      for edit in edits:
        out = edit.apply(out)
      applied.extend(edits)
    return out, applied


def matching_dedent(sequence: Sequence[str], indent: int) -> Optional[int]:
  """Index of the DEDENT that closes the block opened by the INDENT at `indent`."""
  level = 0
  for i in range(indent + 1, len(sequence)):
    if sequence[i] == tokens_lib.INDENT:
      level += 1
    elif sequence[i] == tokens_lib.DEDENT:
      if level == 0:
        return i
      level -= 1
  return None


def indentable(sequence: Sequence[str]) -> list[tuple[int, int]]:
  """[start, end) of the statements that can be wrongly indented as the lexer would
  show it: an INDENT right after a NEWLINE before them, a DEDENT at a line start after."""
  return [(start, end) for spans in statement_spans(sequence) for start, end in spans
          if start > 0 and sequence[start - 1] == tokens_lib.NEWLINE
          and sequence[end - 1] in (tokens_lib.NEWLINE, tokens_lib.DEDENT)]


def lexable_layout(sequence: Sequence[str]) -> bool:
  """Whether INDENT/DEDENT are where the data's lexer puts them: INDENT right
  after NEWLINE, DEDENT at a line start, DEDENTs matching INDENTs, all closed.
  Every real broken and fixed sequence passes; brackets are not considered
  (5% of real broken sequences have a NEWLINE inside an unclosed bracket)."""
  level, previous = 0, None
  for tok in sequence:
    if tok == tokens_lib.INDENT:
      if previous != tokens_lib.NEWLINE:
        return False
      level += 1
    elif tok == tokens_lib.DEDENT:
      if previous not in (tokens_lib.NEWLINE, tokens_lib.DEDENT) or level == 0:
        return False
      level -= 1
    previous = tok
  return level == 0


# --- More valid code ------------------------------------------------------------

# Clauses that continue the compound statement before them.
_CLAUSES = frozenset(("elif", "else", "except", "finally"))


def statement_spans(sequence: Sequence[str]) -> list[list[tuple[int, int]]]:
  """Runs of sibling statements: for each block (the top level and every indented
  body), the [start, end) spans of its statements in order.

  A compound statement's span covers its header, body and closing DEDENT, and
  its decorators and elif/else/except/finally clauses; any run of siblings is a standalone
  program (INDENT/DEDENT are relative), though `is_valid` still has the last word.
  """
  blocks: list[list[tuple[int, int]]] = []

  def block(start: int) -> int:
    """Parses statements from `start` until a DEDENT closing this block or the end;
    returns the index of that DEDENT (or len)."""
    spans, i = [], start
    while i < len(sequence) and sequence[i] != tokens_lib.DEDENT:
      begin = i
      while True:  # one statement, with its decorators and continuation clauses
        line = i
        while i < len(sequence) and sequence[i] != tokens_lib.NEWLINE:
          i += 1
        i += 1  # past the NEWLINE (or the end)
        if i < len(sequence) and sequence[i] == tokens_lib.INDENT:
          i = block(i + 1) + 1  # past the body's DEDENT
        if i >= len(sequence) or (sequence[line] != "@" and sequence[i] not in _CLAUSES):
          break
      spans.append((begin, min(i, len(sequence))))
    blocks.append(spans)
    return i

  block(0)
  return blocks


def snippets(sequence: Sequence[str], target_lengths: Callable[[], int],
             max_length: int) -> list[list[str]]:
  """Valid snippets of a long valid sequence (e.g. a stdlib file): runs of sibling
  statements packed up to a drawn target length, at most `max_length` tokens.

  A final NEWLINE is dropped, as in the data, whose snippets mostly lack a
  final line break.
  """
  out = []
  for spans in statement_spans(sequence):
    run: list[tuple[int, int]] = []
    target = target_lengths()
    for span in spans + [None]:
      length = run[-1][1] - run[0][0] if run else 0
      if span is None or (run and span[1] - run[0][0] > target):
        if run and length <= max_length:
          snippet = list(sequence[run[0][0]:run[-1][1]])
          if snippet and snippet[-1] == tokens_lib.NEWLINE:
            snippet.pop()
          if snippet and tokens_lib.is_valid(snippet):
            out.append(snippet)
        run, target = [], target_lengths()
      if span is not None:
        run.append(span)
  return out


# Tokens that open a definition statement (its decorators included).
_DEFINITIONS = frozenset(("def", "class", "async", "@"))


def units(sequence: Sequence[str], min_tokens: int = 4, max_tokens: int = 80
          ) -> list[list[str]]:
  """Snippet-sized units of a valid file, cut like StackOverflow posts.

  Each function or class is a unit (the outermost one that fits in
  `max_tokens`; a longer one gives its nested functions and classes), and the
  other top-level statements between them are packed, in order, into blocks of
  at most `max_tokens`. A final NEWLINE is dropped (as in the data); a unit is
  kept if it has `min_tokens`..`max_tokens` tokens and `tokens.is_valid` holds.
  """
  out = []

  def keep(piece: Sequence[str]) -> None:
    piece = list(piece)
    if piece and piece[-1] == tokens_lib.NEWLINE:
      piece.pop()
    if min_tokens <= len(piece) <= max_tokens and tokens_lib.is_valid(piece):
      out.append(piece)

  def walk(block: Sequence[str], top: bool) -> None:
    run: list[tuple[int, int]] = []  # top-level statements not yet in a unit
    for start, end in statement_spans(block)[-1]:  # the outermost block comes last
      if block[start] in _DEFINITIONS:
        if run:
          keep(block[run[0][0]:run[-1][1]])
          run = []
        if len(block[start:end]) - (block[end - 1] == tokens_lib.NEWLINE) <= max_tokens:
          keep(block[start:end])
        elif block[end - 1] == tokens_lib.DEDENT:  # too long: its body's definitions
          body = next(i for i in range(start, end - 1)
                      if block[i] == tokens_lib.NEWLINE and block[i + 1] == tokens_lib.INDENT)
          walk(block[body + 2:end - 1], top=False)
      elif top:
        if run and end - run[0][0] > max_tokens + 1:  # + 1: a final NEWLINE is dropped
          keep(block[run[0][0]:run[-1][1]])
          run = []
        run.append((start, end))
    if run:
      keep(block[run[0][0]:run[-1][1]])

  walk(sequence, top=True)
  return out


def distinct_units(units_in_order: Iterable[Sequence[str]], held_out: set[str]
                   ) -> tuple[list[Sequence[str]], dict[str, int]]:
  """The units, each text once (its first occurrence), none whose text is in `held_out`
  (e.g. valid and test code); and counts of units, duplicates, held-out and kept ones."""
  seen, kept = set(), []
  counts = {"units": 0, "duplicates": 0, "in_valid_or_test": 0}
  for unit in units_in_order:
    text = " ".join(unit)
    counts["units"] += 1
    if text in seen:
      counts["duplicates"] += 1
    elif text in held_out:
      counts["in_valid_or_test"] += 1
    else:
      kept.append(unit)
    seen.add(text)
  counts["kept"] = len(kept)
  return kept, counts


def match_lengths(sequences: Sequence[Sequence[str]], reference_lengths: Sequence[int],
                  rng: np.random.Generator, bucket: int = 10) -> list[Sequence[str]]:
  """A subsample of `sequences` whose length histogram (buckets of `bucket` tokens)
  follows `reference_lengths`': each is kept with probability proportional to
  its bucket's reference share over its own share (the most favoured: always)."""
  buckets = np.array([len(s) // bucket for s in sequences])
  size = max(buckets.max(initial=0), max(reference_lengths, default=0) // bucket) + 1
  reference = np.bincount(np.array(reference_lengths, int) // bucket, minlength=size)
  have = np.bincount(buckets, minlength=size)
  ratio = np.where(have > 0, reference / np.maximum(have, 1), 0.0)
  keep = rng.random(len(sequences)) < ratio[buckets] / ratio.max()
  return [s for s, k in zip(sequences, keep) if k]


# --- Synthesis --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Limits:
  """What the real pairs look like: distance shares over 1..max_distance, and the
  [min, max] lengths (tokens) of their broken and fixed sequences."""
  distances: tuple[int, ...]
  distance_probabilities: tuple[float, ...]
  broken_lengths: tuple[int, int]
  fixed_lengths: tuple[int, int]

  @classmethod
  def of(cls, real_pairs: Sequence[Pair], max_distance: int) -> "Limits":
    distances = [Levenshtein.distance(list(b), list(f)) for b, f in real_pairs]
    kept = [(b, f, d) for (b, f), d in zip(real_pairs, distances) if 1 <= d <= max_distance]
    histogram = collections.Counter(d for _, _, d in kept)
    values = tuple(sorted(histogram))
    total = sum(histogram.values())
    return cls(values, tuple(histogram[d] / total for d in values),
               (min(len(b) for b, _, _ in kept), max(len(b) for b, _, _ in kept)),
               (min(len(f) for _, f, _ in kept), max(len(f) for _, f, _ in kept)))


def synthesize(sources: Mapping[str, Sequence[Sequence[str]]], model: CorruptionModel,
               limits: Limits, *, num_pairs: int, seed: int, max_attempts: int = 1000,
               exclude: Iterable[str] = (), id_prefix: str = "synthetic",
               progress: Optional[Callable[[int], Any]] = None
               ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
  """`num_pairs` synthetic pairs (stackoverflow `read_pairs` records) and a report.

  Each pair draws d from `limits`, a corpus uniformly among `sources`, then a
  sequence of it uniformly, and corrupts it with d edits, redrawing the
  sequence and edits (not d) until the corruption is kept. `exclude`: broken
  strings never to produce (valid/test). Deterministic for a seed.
  The report counts the attempts by d and outcome (REASONS) and pairs by corpus.
  """
  rng = np.random.default_rng(seed)
  lo, hi = limits.broken_lengths
  corpora = {}
  for name, sequences in sources.items():
    usable = [list(s) for s in sequences
              if limits.fixed_lengths[0] <= len(s) <= limits.fixed_lengths[1]]
    if not usable:
      raise ValueError(f"source {name!r} has no sequence of {limits.fixed_lengths} tokens")
    corpora[name] = usable
  names = sorted(corpora)
  excluded = set(exclude)
  seen: set[tuple[str, str]] = set()
  outcomes = {d: collections.Counter() for d in limits.distances}
  by_corpus = collections.Counter()
  pairs = []
  for number in range(num_pairs):
    distance = int(rng.choice(limits.distances, p=limits.distance_probabilities))
    for _ in range(max_attempts):
      name = names[int(rng.integers(len(names)))]
      fixed = corpora[name][int(rng.integers(len(corpora[name])))]
      corrupted = model.corrupt(fixed, distance, rng)
      broken = corrupted[0] if corrupted else []
      broken_text, fixed_text = " ".join(broken), " ".join(fixed)
      if corrupted is None:
        reason = "inapplicable"
      elif not lo <= len(broken) <= hi:
        reason = "length"
      elif Levenshtein.distance(broken, fixed) != distance:
        reason = "distance"
      elif tokens_lib.is_valid(broken):
        reason = "still_valid"
      elif not lexable_layout(broken):
        reason = "layout"
      elif (broken_text, fixed_text) in seen:
        reason = "duplicate"
      elif broken_text in excluded:
        reason = "eval_overlap"
      else:
        reason = "kept"
      outcomes[distance][reason] += 1
      if reason == "kept":
        break
    else:
      raise RuntimeError(f"no usable corruption at distance {distance} in {max_attempts} "
                         f"attempts ({dict(outcomes[distance])}): sources not valid code, or "
                         "too few for this many distinct pairs?")
    seen.add((broken_text, fixed_text))
    by_corpus[name] += 1
    pairs.append({"id": f"{id_prefix}-{number:05d}", "broken": broken_text, "fixed": fixed_text,
                  "distance": distance, "length": len(broken), "broken_src": None,
                  "fixed_src": None})
    if progress is not None:
      progress(1)
  report = {"attempts": {f"d={d}": {r: counts[r] for r in REASONS}
                         for d, counts in outcomes.items()},
            "pairs_by_source": dict(by_corpus)}
  return pairs, report


# --- Comparing with the real pairs ----------------------------------------------------


def statistics(pairs: Sequence[Pair], top: int = 15) -> dict[str, Any]:
  """Distance histogram, lengths, and the repairs (broken -> fixed) most made, as shares."""
  distances = collections.Counter()
  repairs = collections.Counter()
  ops = collections.Counter()
  classes = collections.Counter()
  lengths = []
  for broken, fixed in pairs:
    broken, fixed = list(broken), list(fixed)
    script = edit_stats_lib.edits(broken, fixed)
    distances[len(script)] += 1
    lengths.append(len(broken))
    for edit in script:
      ops[edit.op] += 1
      if edit.op == INSERT:
        repairs[f"insert {edit.new}"] += 1
      elif edit.op == DELETE:
        repairs[f"delete {edit.old}"] += 1
      else:
        repairs[f"substitute {edit.old} -> {edit.new}"] += 1
      spot = (edit.position - 1, edit.position) if edit.op == INSERT else (
          edit.position - 1, edit.position + 1)
      classes[LINE_CLASSES[line_class(broken, *spot)]] += 1
  n, edits = max(len(pairs), 1), max(sum(ops.values()), 1)
  return {
      "pairs": len(pairs),
      "distance": {f"d={d}": round(c / n, 4) for d, c in sorted(distances.items())},
      "broken_length": {"median": float(np.median(lengths)) if lengths else None,
                        "p90": float(np.percentile(lengths, 90)) if lengths else None},
      "ops": {op: round(ops[op] / edits, 4) for op in (INSERT, DELETE, SUBSTITUTE)},
      "line_class_of_repairs": {c: round(classes[c] / edits, 4) for c in LINE_CLASSES},
      "top_repairs": {r: round(c / edits, 4) for r, c in repairs.most_common(top)},
  }


def format_comparison(real: Mapping[str, Any], synthetic: Mapping[str, Any],
                      report: Mapping[str, Any]) -> str:
  """A plain-text table of real against synthetic statistics, and the rejections."""
  lines = [f"{'':34} {'real':>8} {'synthetic':>10}",
           f"{'pairs':34} {real['pairs']:8d} {synthetic['pairs']:10d}"]
  for group in ("distance", "broken_length", "ops", "line_class_of_repairs"):
    for key in sorted(set(real[group]) | set(synthetic[group]), key=str):
      lines.append(f"{group + ' ' + key:34} {_cell(real[group].get(key)):>8} "
                   f"{_cell(synthetic[group].get(key)):>10}")
  lines.append("top repairs (share of all edits):")
  keys = list(real["top_repairs"]) + [k for k in synthetic["top_repairs"]
                                      if k not in real["top_repairs"]]
  for key in keys:
    lines.append(f"  {key:32} {_cell(real['top_repairs'].get(key)):>8} "
                 f"{_cell(synthetic['top_repairs'].get(key)):>10}")
  lines.append("attempts by drawn distance (share of attempts):")
  lines.append("  " + " ".join(f"{r:>12}" for r in ("d", "attempts", *REASONS)))
  for d, counts in report["attempts"].items():
    total = sum(counts.values())
    lines.append("  " + " ".join(f"{v:>12}" for v in (
        d, total, *(f"{counts[r] / max(total, 1):.3f}" for r in REASONS))))
  return "\n".join(lines)


def _cell(value) -> str:
  if value is None:
    return "-"
  return f"{value:.3f}" if isinstance(value, float) and value < 1 else f"{value:g}"
