"""What a repair does to the names and words of a file (issue 20, item 3).

Signs that a repair of a real file is not the author's, which the snippet
scorer cannot see because it reads only the window:
* `unknown_names` (added): it leaves a name the rest of the file never uses
  (`my_schedule6)` repaired by deleting the `)` keeps the glued `my_schedule6`;
  splitting it back to `my_schedule(6)` removes it), or removes one;
* `unknown_names` (left): such names it leaves in the lines it edits (a repair
  that leaves `intself._start_time` is not the author's either);
* `words_lost`: it deletes (parts of) names, keywords, numbers or strings the
  author wrote (`def f(self out)` repaired by deleting `out`, not by a comma).
Each is a feature of the files' ranking (`file_ranking`), weighted by the fit.
"""
import collections
from typing import Mapping, Sequence

from repair_rank.repair import line_edits
from repair_rank.repair import text_edits
from repair_rank.syntax import tokens as tokens_lib

MAX_COUNT = 3  # a feature counts at most this many names or words


def _names(fragment: str) -> collections.Counter:
  return collections.Counter(x.text for x in tokens_lib.lex_lexemes(fragment)
                             if x.token == tokens_lib.NAME)


def edited_lines(text: str, edits: Sequence[text_edits.TextEdit], repaired: str
                 ) -> tuple[str, str]:
  """The whole lines of `text` the edits touch, and what they became in `repaired`."""
  first = text.rfind("\n", 0, min(e.start for e in edits)) + 1
  line_end = text.find("\n", max(e.end for e in edits))
  tail = 0 if line_end < 0 else len(text) - line_end
  return text[first:len(text) - tail], repaired[first:len(repaired) - tail]


def unknown_names(text: str, edits: Sequence[text_edits.TextEdit], repaired: str,
                  counts: Mapping[str, int]) -> tuple[int, int]:
  """(added, left): names the rest of the file never uses that the repair adds to the lines
  it edits, less those it removes (negative: it removes more), and how many it leaves
  there; each within +-MAX_COUNT. `counts`: `line_edits.known_names` of the whole `text`."""
  if not edits:
    return 0, 0
  before_text, after_text = edited_lines(text, edits, repaired)
  before, after = _names(before_text), _names(after_text)

  def unknown(names: collections.Counter) -> int:
    return sum(n for name, n in names.items()
               if not line_edits.is_known(name, {name: counts.get(name, 0) - before[name]}))

  added, left = unknown(after) - unknown(before), unknown(after)
  return max(-MAX_COUNT, min(MAX_COUNT, added)), min(MAX_COUNT, left)


def words_lost(text: str, edits: Sequence[text_edits.TextEdit]) -> int:
  """Edits that take out letters, digits or underscores of names, keywords, numbers or
  strings and do not put them back (at most MAX_COUNT): `delete 'out'`, and `adv_state`
  cut to `,state`; not a name split apart or wrapped in brackets (`[post]`)."""
  lost = 0
  for e in edits:
    taken = collections.Counter(ch for ch in text[e.start:e.end] if ch.isalnum() or ch == "_")
    lost += bool(taken - collections.Counter(e.text))
  return min(lost, MAX_COUNT)
