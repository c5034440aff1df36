"""The editor server: repairs of broken Python over the Language Server Protocol (pygls).

  python -m repair_rank.main --config configs/lsp.py    # speaks LSP on stdin/stdout

When an open Python document does not parse (didOpen, didChange, didSave), the
server publishes one diagnostic at the error Python reports, and offers the best
repairs at or above `min_confidence` (`ranked.confident`) as quick-fix code
actions. Each rewrites the document with the user's names, literals, comments and
layout kept (`diagnosis.diagnose`: whole files are repaired in a window around the
first error; once a fix is applied the next error shows). Positions follow the
encoding the client negotiated (UTF-16 by default). Nothing may be printed to
stdout: it carries the protocol.
"""
import threading
import time
from typing import Any, Optional, Sequence

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from repair_rank.ranking import evaluate
from repair_rank.repair import diagnosis as diagnosis_lib
from repair_rank.repair import ranked
from repair_rank.repair import source_text

NAME = "repair-rank"
SOURCE = "repair_rank"  # the diagnostics' `source`, shown by editors beside the message
# Seconds a change waits before it is diagnosed; a newer change in the meantime replaces
# it, so typing does not queue one repair search per keystroke.
DEBOUNCE_S = 0.3


def _line_ending(source: str) -> str:
  """The document's own line break ("\r\n", "\r" or "\n"): inserted breaks use it, so a
  quick fix never mixes line endings."""
  for ending in ("\r\n", "\r", "\n"):
    if ending in source:
      return ending
  return "\n"


def _position(text_lines: Sequence[str], offset: int) -> types.Position:
  """The 0-based (line, code point) of character `offset` of "\\n".join(text_lines)."""
  line = 0
  while line < len(text_lines) - 1 and offset > len(text_lines[line]):
    offset -= len(text_lines[line]) + 1
    line += 1
  return types.Position(line=line, character=offset)


def _error_range(text_lines: Sequence[str], diagnosis: diagnosis_lib.Diagnosis) -> types.Range:
  """The character Python blamed, or its whole line where it names no column."""
  line = min(diagnosis.line or 0, len(text_lines) - 1)
  width = len(text_lines[line])
  if diagnosis.column is None:
    return types.Range(types.Position(line, 0), types.Position(line, width))
  column = min(diagnosis.column, width)
  return types.Range(types.Position(line, column), types.Position(line, min(column + 1, width)))


def _confidence_words(repair: ranked.Repair) -> str:
  confidence = ranked.confidence_of(repair)
  return "" if confidence is None else f" ({confidence:.0%} sure)"


class RepairServer(LanguageServer):
  """A pygls server that diagnoses and repairs Python documents with one scorer."""

  def __init__(self, score_fn: evaluate.ScoreFn, *, top_k: int = 3, min_confidence: float = 0.0,
               options: Optional[dict[str, Any]] = None):
    super().__init__(NAME, "0.1.0")
    self.score_fn = score_fn
    self.top_k = ranked.checked_top_k(top_k)
    self.min_confidence = min_confidence
    self.options = dict(options or {})  # diagnosis.diagnose options (max_distance, k, ...)
    self._lock = threading.Lock()  # one repair at a time: the scorer is not re-entrant
    self._diagnoses: dict[str, tuple[str, diagnosis_lib.Diagnosis]] = {}  # uri -> (text, diagnosis)
    self.changes: dict[str, int] = {}  # uri -> how many changes it has had
    self.changes_lock = threading.Lock()

  def diagnosis(self, uri: str) -> tuple[str, diagnosis_lib.Diagnosis]:
    """(normalised text, diagnosis) of the document now, computed once per text."""
    text = source_text.normalize_newlines(self.workspace.get_text_document(uri).source)
    with self._lock:
      cached = self._diagnoses.get(uri)
      if cached is None or cached[0] != text:
        cached = (text, diagnosis_lib.diagnose(text, self.score_fn, top_k=self.top_k,
                                               **self.options))
        self._diagnoses[uri] = cached
    return cached

  def client_range(self, uri: str, server_range: types.Range) -> types.Range:
    document = self.workspace.get_text_document(uri)
    return document.position_codec.range_to_client_units(document.lines, server_range)

  def diagnostics(self, uri: str) -> list[types.Diagnostic]:
    text, diagnosis = self.diagnosis(uri)
    if diagnosis.status in ("parses", "no_tokens"):
      return []
    offered = ranked.confident([fix.repair for fix in diagnosis.fixes], self.min_confidence)
    note = (f"; {len(offered)} repair{'s' if len(offered) != 1 else ''} offered"
            if offered else "")
    lines = text.split("\n")
    out = [types.Diagnostic(
        range=self.client_range(uri, _error_range(lines, diagnosis)),
        message=f"SyntaxError: {diagnosis.message}{note}",
        severity=types.DiagnosticSeverity.Error, source=SOURCE)]
    # One more per error found after the top repairs of those before (max_errors).
    for later in diagnosis.errors:
      if later.line is None or later.line >= len(lines):
        continue
      out.append(types.Diagnostic(
          range=self.client_range(uri, _error_range(lines, later)),
          message=f"SyntaxError: {later.message} (with the repairs above made)",
          severity=types.DiagnosticSeverity.Error, source=SOURCE))
    return out

  def code_actions(self, uri: str, asked: Optional[types.Range] = None,
                   context: Optional[types.CodeActionContext] = None) -> list[types.CodeAction]:
    """The quick fixes, when the editor asks about our diagnostic or the lines of the error
    (`asked` None: always)."""
    text, diagnosis = self.diagnosis(uri)
    text_lines = text.split("\n")
    ours = context is not None and any(d.source == SOURCE for d in context.diagnostics)
    if (asked is not None and not ours and diagnosis.line is not None
        and not asked.start.line <= diagnosis.line <= asked.end.line):
      return []
    related = self.diagnostics(uri)
    ending = _line_ending(self.workspace.get_text_document(uri).source)
    actions = []
    for fix in diagnosis.fixes:
      if not ranked.confident([fix.repair], self.min_confidence):
        continue
      # The repair's own minimal edits (fix.edits), each in the document's line ending.
      edits = [types.TextEdit(
          range=self.client_range(uri, types.Range(_position(text_lines, edit.start),
                                                   _position(text_lines, edit.end))),
          new_text=edit.text.replace("\n", ending)) for edit in fix.edits]
      actions.append(types.CodeAction(
          title=f"Repair: {fix.description}{_confidence_words(fix.repair)}",
          kind=types.CodeActionKind.QuickFix, diagnostics=related,
          is_preferred=not actions,
          edit=types.WorkspaceEdit(changes={uri: edits})))
    return actions


def build_server(score_fn: evaluate.ScoreFn, *, top_k: int = 3, min_confidence: float = 0.0,
                 options: Optional[dict[str, Any]] = None) -> RepairServer:
  """The editor server around `score_fn`, its handlers registered; `.start_io()` serves."""
  server = RepairServer(score_fn, top_k=top_k, min_confidence=min_confidence, options=options)

  def publish(uri: str) -> None:
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=server.diagnostics(uri)))

  @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
  @server.thread()
  def did_open(params: types.DidOpenTextDocumentParams) -> None:
    publish(params.text_document.uri)

  @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
  @server.thread()
  def did_change(params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    with server.changes_lock:
      count = server.changes[uri] = server.changes.get(uri, 0) + 1
    time.sleep(DEBOUNCE_S)
    if server.changes.get(uri) == count:  # else a newer change will publish
      publish(uri)

  @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
  @server.thread()
  def did_save(params: types.DidSaveTextDocumentParams) -> None:
    publish(params.text_document.uri)

  @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
  def did_close(params: types.DidCloseTextDocumentParams) -> None:
    server._diagnoses.pop(params.text_document.uri, None)  # pylint: disable=protected-access
    server.changes.pop(params.text_document.uri, None)
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

  @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                  types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
  @server.thread()
  def code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
    return server.code_actions(params.text_document.uri, params.range, params.context)

  return server
