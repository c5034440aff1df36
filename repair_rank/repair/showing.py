"""A repair shown as readable Python with its edits marked, and its edits in words.

The candidate is laid out by `tokens.render(pretty=True)`, and every token the
repair kept from the file gets its original text back (names, numbers,
strings), found by aligning the candidate to the file's tokens with
Levenshtein opcodes. Inserted tokens show as `[+tok]` and deleted ones as
`[-tok]`, or in colour on a terminal; inserted names, numbers and strings
appear as the placeholders x, 1 and 's'. Characters the lexer skips because
they are in no Python token (`×`, curly quotes, `$`) are in no repair either:
they show as deletions and the listing names them.
"""
from typing import Optional, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank.repair import source_text
from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT
STYLES = ("plain", "markers", "ansi")
_ANSI_INSERT, _ANSI_DELETE, _ANSI_RESET = "\x1b[1;32m", "\x1b[9;31m", "\x1b[0m"


def _show(token: str, text: Optional[str]) -> str:
  return text if text is not None else token


def mark(text: str, inserted: bool, style: str) -> str:
  """`text` marked as inserted or deleted in `style` ("plain": deletions vanish)."""
  if style == "ansi":
    return f"{_ANSI_INSERT if inserted else _ANSI_DELETE}{text}{_ANSI_RESET}"
  if style == "markers":
    return f"[{'+' if inserted else '-'}{text}]"
  return text if inserted else ""


def show_repair(query: Sequence[str], query_texts: Sequence[Optional[str]],
                candidate: Sequence[str], style: str = "markers",
                dropped: Sequence[source_text.Dropped] = ()) -> str:
  """The candidate as Python text with the file's names and literals, edits marked.

  `style`: "plain" (the repaired text only), "markers" ([+tok] / [-tok]) or
  "ansi" (green insertions, red struck-through deletions). `dropped`: the
  characters in no token (`dropped_characters`), shown as deletions where they were.
  """
  if style not in STYLES:
    raise ValueError(f"style must be one of {STYLES}, got {style!r}")
  candidate = list(candidate)
  try:
    rendered = tokens_lib.render(candidate, pretty=True)
  except ValueError:  # not a layout the lexer emits: fall back to one token per word
    rendered = " ".join(tokens_lib.PLAIN_TEXT.get(t, t) for t in candidate if t not in LAYOUT)
  spans = source_text.scan(rendered)
  visible = [j for j, tok in enumerate(candidate) if tok not in LAYOUT]
  if [s.token for s in spans] != [candidate[j] for j in visible]:
    return rendered  # should not happen: render and scan disagree
  span_of = dict(zip(visible, spans))

  source_of: dict[int, int] = {}   # candidate index -> kept query index
  deleted_before: dict[int, list[int]] = {}  # candidate index -> deleted query indices
  for op in Levenshtein.opcodes(list(query), candidate):
    if op.tag == "equal":
      source_of.update(zip(range(op.dest_start, op.dest_end), range(op.src_start, op.src_end)))
    if op.tag in ("delete", "replace"):
      deleted_before.setdefault(op.dest_start, []).extend(range(op.src_start, op.src_end))

  dropped_before: dict[int, list[str]] = {}  # query index -> dropped texts just before it
  for run in dropped:
    dropped_before.setdefault(run.before, []).append(mark(run.text, False, style))

  def deletions(j: int) -> list[str]:
    out = []
    for i in deleted_before.get(j, []):
      out += dropped_before.get(i, [])
      if query[i] not in LAYOUT:  # a deleted line break shows as the joined line
        out.append(mark(_show(query[i], query_texts[i]), False, style))
    return out

  out, cursor, pending = [], 0, []
  for j, tok in enumerate(candidate):
    pending += deletions(j)
    kept = j in source_of
    if tok in LAYOUT:
      continue  # an inserted line break or indent shows as the rendered layout
    if kept:
      pending += dropped_before.get(source_of[j], [])
    span = span_of[j]
    gap = rendered[cursor:span.offset]
    marks = "".join(m for m in pending if m)
    if marks and not gap and kept:
      marks += " "
    out += [marks, gap]
    pending = []
    text = query_texts[source_of[j]] if kept and query_texts[source_of[j]] is not None else span.text
    out.append(text if kept else mark(text, True, style))
    cursor = span.offset + len(span.text)
  pending += deletions(len(candidate)) + dropped_before.get(len(query), [])
  out.append("".join(pending))
  out.append(rendered[cursor:])
  return "".join(out)


# A token without source text reads as the placeholder the repaired text shows (an
# inserted name, number or string); layout tokens are no words of their own: an edit of
# layout only is said as what it does to the lines (`_layout_words`).


def _word(token: str, text: Optional[str]) -> str:
  if text is not None:
    return repr(text)
  return repr(tokens_lib.PLACEHOLDERS.get(token, token))


def _layout_words(inserted: Sequence[str], deleted: Sequence[str]) -> str:
  """What an edit of layout tokens only does, as a person sees it."""
  if tokens_lib.NEWLINE in deleted and tokens_lib.NEWLINE not in inserted:
    return "join the next line to this one"
  if tokens_lib.NEWLINE in inserted and tokens_lib.NEWLINE not in deleted:
    return "break the line"
  deeper = (inserted.count(tokens_lib.INDENT) + deleted.count(tokens_lib.DEDENT)
            - inserted.count(tokens_lib.DEDENT) - deleted.count(tokens_lib.INDENT))
  if deeper > 0:
    return "indent the next line"
  if deeper < 0:
    return "dedent the next line"
  return "change the indentation"


def describe_edits(query: Sequence[str], query_texts: Sequence[Optional[str]],
                   query_lines: Sequence[int], candidate: Sequence[str]) -> str:
  """The edits as words, e.g. "line 1: replace '}' with ')'"."""
  def where(i: int) -> str:
    if not query_lines:
      return "line 1"
    return f"line {query_lines[min(max(i, 0), len(query_lines) - 1)]}"

  def words(start: int, end: int, sequence, texts=None) -> str:
    return " ".join(_word(sequence[i], texts[i] if texts else None)
                    for i in range(start, end) if sequence[i] not in LAYOUT)

  edits = []
  for op in Levenshtein.opcodes(list(query), list(candidate)):
    inserted, deleted = candidate[op.dest_start:op.dest_end], query[op.src_start:op.src_end]
    if op.tag != "equal" and all(t in LAYOUT for t in list(inserted) + list(deleted)):
      at = op.src_start - 1 if op.tag == "insert" else op.src_start
      edits.append(f"{where(at)}: {_layout_words(inserted, deleted)}")
    elif op.tag == "replace" and all(t in LAYOUT for t in inserted):
      breaks = " and break the line" if tokens_lib.NEWLINE in inserted else ""
      edits.append(f"{where(op.src_start)}: delete "
                   f"{words(op.src_start, op.src_end, query, query_texts)}{breaks}")
    elif op.tag == "replace" and all(t in LAYOUT for t in deleted):
      edits.append(f"{where(op.src_start - 1)}: insert "
                   f"{words(op.dest_start, op.dest_end, candidate)}")
    elif op.tag == "insert":
      edits.append(f"{where(op.src_start - 1)}: insert "
                   f"{words(op.dest_start, op.dest_end, candidate)}")
    elif op.tag == "delete":
      edits.append(f"{where(op.src_start)}: delete "
                   f"{words(op.src_start, op.src_end, query, query_texts)}")
    elif op.tag == "replace":
      edits.append(f"{where(op.src_start)}: replace "
                   f"{words(op.src_start, op.src_end, query, query_texts)} with "
                   f"{words(op.dest_start, op.dest_end, candidate)}")
  return "; ".join(edits)
