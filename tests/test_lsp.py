"""The editor server in a real LSP session: pygls' client drives `repair_rank.main
--config configs/lsp.py` over stdio (initialize, didOpen, diagnostics, codeAction,
apply the edit, didChange)."""
import ast
import asyncio
import os
import pathlib
import sys

from lsprotocol import types
from pygls.lsp.client import LanguageClient
import pytest

from repair_rank.serving import lsp

ROOT = pathlib.Path(__file__).resolve().parent.parent
URI = "file:///tmp/broken.py"
# test-00078 of the bundled StackOverflow pairs: the human closed the list with ']'; the
# bundled scorer ranks that first. A comment and odd spacing show that layout is kept.
BROKEN = ("result = cache.get_multi(keys)  # all at once\n"
          "values = [result.get(key) for key in  keys)\n")
FIXED = ("result = cache.get_multi(keys)  # all at once\n"
         "values = [result.get(key) for key in  keys]\n")


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
  """Applies LSP edits (line/character positions, ASCII text here) as an editor would."""
  lines = text.split("\n")
  starts = [0]
  for line in lines:
    starts.append(starts[-1] + len(line) + 1)
  offset = lambda p: starts[p.line] + p.character
  for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
    text = text[:offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
  return text


async def session(*flags: str):
  client = LanguageClient("repair-rank-test", "0")
  published: asyncio.Queue = asyncio.Queue()

  @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
  def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
    published.put_nowait(params)

  await client.start_io(sys.executable, "-m", "repair_rank.main", "--config",
                        str(ROOT / "configs/lsp.py"), *flags, cwd=str(ROOT),
                        env={**os.environ, "JAX_PLATFORMS": "cpu"})
  try:
    result = await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), process_id=os.getpid()))
    assert result.server_info.name == lsp.NAME
    assert list(result.capabilities.code_action_provider.code_action_kinds) == [
        types.CodeActionKind.QuickFix]
    client.initialized(types.InitializedParams())
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=URI, language_id="python", version=1,
                                             text=BROKEN)))
    opened = await asyncio.wait_for(published.get(), timeout=180)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        range=opened.diagnostics[0].range if opened.diagnostics else types.Range(
            types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=opened.diagnostics)))
    elsewhere = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        range=types.Range(types.Position(0, 0), types.Position(0, 3)),
        context=types.CodeActionContext(diagnostics=[])))
    assert not elsewhere  # no light bulb away from the error
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=FIXED)]))
    changed = await asyncio.wait_for(published.get(), timeout=60)
    await client.shutdown_async(None)
    client.exit(None)
    return opened, actions, changed
  finally:
    process = client._server  # pylint: disable=protected-access
    if process is not None and process.returncode is None:  # a failed assertion: no exit sent
      process.kill()
    await client.stop()


@pytest.fixture(scope="module")
def default_session():
  return asyncio.run(session())


def test_a_broken_document_gets_a_diagnostic_and_the_human_fix_first(default_session):
  opened, actions, changed = default_session
  assert opened.uri == URI and len(opened.diagnostics) == 1
  diagnostic = opened.diagnostics[0]
  assert diagnostic.message.startswith("SyntaxError: closing parenthesis ')' does not match")
  assert diagnostic.severity == types.DiagnosticSeverity.Error and diagnostic.source == lsp.SOURCE
  assert (diagnostic.range.start.line, diagnostic.range.start.character) == (1, 42)
  assert 1 <= len(actions) <= 3
  assert all(a.kind == types.CodeActionKind.QuickFix for a in actions)
  assert actions[0].is_preferred and actions[0].title.startswith("Repair: line 2: replace ')'")
  edits = actions[0].edit.changes[URI]
  assert len(edits) == 1 and edits[0].new_text == "]"  # one character, in place
  repaired = apply_text_edits(BROKEN, edits)
  ast.parse(repaired)
  assert repaired == FIXED
  for action in actions:
    ast.parse(apply_text_edits(BROKEN, action.edit.changes[URI]))
  assert not changed.diagnostics  # the fixed document parses: the diagnostic is gone


def test_min_confidence_holds_back_unsure_fixes(default_session):
  # No repair is 100% sure: with a calibrated scorer none is offered; a scorer without a
  # calibration offers them all. Either way the error is still reported.
  opened, actions, _ = asyncio.run(session("--config.min_confidence=1.0"))
  assert len(opened.diagnostics) == 1
  calibrated = "sure)" in " ".join(a.title for a in default_session[1])
  assert (actions == []) if calibrated else len(actions) >= 1
