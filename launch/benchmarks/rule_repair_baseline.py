"""The rule script repair_rank must beat on whole files (issue 20): one-token edits near
where CPython blames the error.

  .venv/bin/python launch/benchmarks/rule_repair_baseline.py broken.py   # prints the top 5 repairs

It tries every one-token edit (insert one of `) ] } : , ( [ {`, or delete a
token) on the line CPython's SyntaxError blames and the line before, the
message's hint first ("was never closed", "expected ':'", "forgot a comma",
"unmatched"), nearest the column first, and keeps those after which the whole
file compiles. No model, no training data: about 70 lines.
"""
import io
import sys
import tokenize

INSERTS = (")", "]", "}", ":", ",", "(", "[", "{")


def compiles(source):
  try:
    compile(source, "<file>", "exec", dont_inherit=True)
    return True
  except (SyntaxError, ValueError):
    return False


def _token_spans(source, first_line, last_line, line_starts):
  """(start, end) character offsets of the tokens on 1-based lines first..last."""
  spans = []
  try:
    for t in tokenize.generate_tokens(io.StringIO(source).readline):
      if t.start[0] > last_line:
        break
      if t.start[0] >= first_line and t.type not in (
          tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
          tokenize.ENDMARKER):
        spans.append((line_starts[t.start[0] - 1] + t.start[1],
                      line_starts[t.end[0] - 1] + t.end[1], t.string))
  except (tokenize.TokenError, IndentationError, SyntaxError):
    pass  # the tokens read before the tokenizer gave up
  return spans


def hinted(message, edit):
  """Whether an edit (("insert", char) or ("delete", text)) is of the kind the message hints."""
  op, text = edit
  if "never closed" in message:
    return op == "insert" and text in ")]}"
  if "expected ':'" in message:
    return op == "insert" and text == ":"
  if "forgot a comma" in message:
    return op == "insert" and text == ","
  if "unmatched" in message or "does not match" in message:
    return op == "delete" and text in ")]}"
  return False


def repairs(source, top_k=5):
  """The first `top_k` repaired sources in the rule's order ([] if it compiles already)."""
  try:
    compile(source, "<file>", "exec", dont_inherit=True)
    return []
  except SyntaxError as e:
    line, column, message = e.lineno or 1, (e.offset or 1) - 1, e.msg
  except ValueError:
    return []
  line_starts = [0]
  for text in source.split("\n"):
    line_starts.append(line_starts[-1] + len(text) + 1)
  error_at = line_starts[min(line, len(line_starts) - 1) - 1] + column
  spans = _token_spans(source, max(line - 1, 1), line, line_starts)
  edits = []  # (offset, end, text, kind)
  for start, end, text in spans:
    edits.append((start, end, "", ("delete", text)))
    for position in (start, end):
      edits += [(position, position, char, ("insert", char)) for char in INSERTS]
  edits.sort(key=lambda e: (not hinted(message, e[3]), abs(e[0] - error_at)))
  out, seen = [], set()
  for start, end, text, _ in edits:
    repaired = source[:start] + text + source[end:]
    if repaired not in seen and compiles(repaired):
      seen.add(repaired)
      out.append(repaired)
      if len(out) == top_k:
        break
  return out


if __name__ == "__main__":
  with open(sys.argv[1], encoding="utf-8") as f:
    found = repairs(f.read())
  for number, repaired in enumerate(found, start=1):
    print(f"#{number}\n{repaired}")
  sys.exit(0 if found else 3)
