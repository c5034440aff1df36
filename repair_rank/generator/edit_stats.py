"""How humans repair Python: token edit statistics of the train pairs.

A repair is a sequence of token edits (insert a token, delete one, substitute
one for another) that turns the broken sequence into the fixed one; rapidfuzz
gives a minimal such script. Counted over the train pairs, the edits form a
channel model: the rate at which each edit is made per opportunity, e.g.
"insert `)`" per insertion slot, "delete `NAME`" per `NAME` in broken code.
On train, inserting `(` or `)` is ~100 times likelier per opportunity than
inserting `def`, and deleting a `**` ~50 times likelier than deleting a `NAME`.

Users:
* the candidate search (`generator.search`) adds `log_rate` of each edit to
  the n-gram log-probability of a partial repair, so it tries the edits people
  make first;
* the noisy-channel prior (`ranking.baselines.markov_channel`) and the prior
  parts stored with ranking instances (`data.generation`);
* synthetic training data (`data.synthetic`) corrupts valid code with the
  inverse edits, drawn in proportion to the same counts.

Counts are saved as JSON; a default fitted on the train split ships in the
package (assets/edit_stats.json, made by launch/analysis/fit_edit_stats.py), so nothing
is refitted on a fresh install.

  stats = edit_stats.load_default()
  stats.log_rate(edit_stats.Edit("insert", 3, None, ")"))  # nats, < 0
"""
import collections
import dataclasses
import functools
import json
import math
import os
from typing import Iterable, Optional, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank import paths

INSERT, DELETE, SUBSTITUTE = "insert", "delete", "substitute"
DEFAULT_PATH = paths.ASSETS_DIR / "edit_stats.json"
_FORMAT_VERSION = 1
# Additive smoothing of each count (unitless): unseen edits stay possible.
_SMOOTHING = 0.5
# The noisy-channel prior's weight on the channel (log P(fixed) + w x log rates),
# the best valid MRR (BENCHMARKS.md, "The noisy-channel prior").
CHANNEL_WEIGHT = 1.75


@dataclasses.dataclass(frozen=True)
class Edit:
  """One token edit of `broken`: at `position` (an index into broken; for an
  insertion, the index of the token it goes before), `old` becomes `new`.
  old is None for an insertion, new is None for a deletion."""
  op: str
  position: int
  old: Optional[str]
  new: Optional[str]


def edits(broken: Sequence[str], fixed: Sequence[str]) -> list[Edit]:
  """A minimal edit script from `broken` to `fixed` (rapidfuzz's Levenshtein)."""
  out = []
  for op in Levenshtein.editops(list(broken), list(fixed)):
    if op.tag == "insert":
      out.append(Edit(INSERT, op.src_pos, None, fixed[op.dest_pos]))
    elif op.tag == "delete":
      out.append(Edit(DELETE, op.src_pos, broken[op.src_pos], None))
    else:
      out.append(Edit(SUBSTITUTE, op.src_pos, broken[op.src_pos], fixed[op.dest_pos]))
  return out


def channel_log_rate(stats: "EditStats", broken: Sequence[str], fixed: Sequence[str]) -> float:
  """The channel's log-probability of turning `fixed` into `broken`: summed edit log rates."""
  return float(sum(stats.log_rate(e) for e in edits(broken, fixed)))


@dataclasses.dataclass
class EditStats:
  """Edit counts of a set of (broken, fixed) pairs and the opportunities for each.

  inserted[t]: insertions of t. deleted[t]: deletions of t.
  substituted["a b"]: substitutions of a by b.
  occurrences[t]: tokens t in the broken sequences (chances to delete or
    substitute a t). slots: insertion slots, sum of len(broken) + 1.
  pairs: pairs counted.
  """
  inserted: dict[str, int] = dataclasses.field(default_factory=dict)
  deleted: dict[str, int] = dataclasses.field(default_factory=dict)
  substituted: dict[str, int] = dataclasses.field(default_factory=dict)
  occurrences: dict[str, int] = dataclasses.field(default_factory=dict)
  slots: int = 0
  pairs: int = 0
  _cache: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

  @classmethod
  def fit(cls, pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> "EditStats":
    """Counts the edits of (broken, fixed) token-sequence pairs."""
    inserted, deleted = collections.Counter(), collections.Counter()
    substituted, occurrences = collections.Counter(), collections.Counter()
    slots = count = 0
    for broken, fixed in pairs:
      count += 1
      slots += len(broken) + 1
      occurrences.update(broken)
      for edit in edits(broken, fixed):
        if edit.op == INSERT:
          inserted[edit.new] += 1
        elif edit.op == DELETE:
          deleted[edit.old] += 1
        else:
          substituted[f"{edit.old} {edit.new}"] += 1
    return cls(dict(inserted), dict(deleted), dict(substituted), dict(occurrences),
               slots, count)

  def _substitution_marginal(self, side: int) -> collections.Counter:
    """Substitution counts by the replaced (side 0) or the new (side 1) token."""
    out = collections.Counter()
    for key, n in self.substituted.items():
      out[key.split(" ", 1)[side]] += n
    return out

  @functools.cached_property
  def _substituted_from(self) -> collections.Counter:
    return self._substitution_marginal(0)

  @functools.cached_property
  def _substituted_to(self) -> collections.Counter:
    return self._substitution_marginal(1)

  def log_rate(self, edit: Edit) -> float:
    """Natural log of the edit's smoothed rate per opportunity (always < 0).

    insert t: insertions of t per slot. delete t: deletions of t per t in
    broken code. substitute a -> b: P(a is substituted | a) x P(b | a is
    substituted), the second backed off to how often b is substituted in.
    """
    return self.log_rate_of(edit.op, edit.old, edit.new)

  def log_rate_of(self, op: str, old: Optional[str], new: Optional[str]) -> float:
    """`log_rate` of an edit given as (op, old, new), cached."""
    key = (op, old, new)
    got = self._cache.get(key)
    if got is None:
      got = self._cache[key] = self._compute_log_rate(op, old, new)
    return got

  def _compute_log_rate(self, op: str, old: Optional[str], new: Optional[str]) -> float:
    s = _SMOOTHING
    if op == INSERT:
      return math.log((self.inserted.get(new, 0) + s) / (self.slots + s))
    opportunities = self.occurrences.get(old, 0) + 2 * s
    if op == DELETE:
      return math.log((self.deleted.get(old, 0) + s) / opportunities)
    if op != SUBSTITUTE:
      raise ValueError(f"unknown edit op {op!r}")
    from_old = self._substituted_from.get(old, 0)
    total = sum(self._substituted_to.values())
    # P(b | a substituted): a's own substitutions, smoothed towards how often b comes in.
    prior = (self._substituted_to.get(new, 0) + s) / (total + s * 100)
    target = (self.substituted.get(f"{old} {new}", 0) + prior) / (from_old + 1)
    return math.log((from_old + s) / opportunities) + math.log(target)

  def to_json(self) -> dict:
    return {"format_version": _FORMAT_VERSION, "pairs": self.pairs, "slots": self.slots,
            "inserted": self.inserted, "deleted": self.deleted,
            "substituted": self.substituted, "occurrences": self.occurrences}

  @classmethod
  def from_json(cls, data: dict) -> "EditStats":
    if data.get("format_version") != _FORMAT_VERSION:
      raise ValueError(f"edit stats format {data.get('format_version')!r} is not "
                       f"{_FORMAT_VERSION}")
    return cls(data["inserted"], data["deleted"], data["substituted"],
               data["occurrences"], data["slots"], data["pairs"])

  def save(self, path: os.PathLike | str) -> None:
    with open(path, "w") as f:
      json.dump(self.to_json(), f, indent=1, sort_keys=True)
      f.write("\n")

  @classmethod
  def load(cls, path: os.PathLike | str) -> "EditStats":
    with open(path) as f:
      return cls.from_json(json.load(f))


@functools.cache
def load_default() -> EditStats:
  """The bundled statistics of the train split (assets/edit_stats.json), loaded once."""
  return EditStats.load(DEFAULT_PATH)
