"""The editor server in a real LSP session: pygls' client drives `repair_rank.main
--config configs/lsp.py` over stdio (initialize, didOpen, diagnostics, codeAction,
apply the edit, didChange)."""
import ast
import asyncio
import os
import pathlib
import re
import sys

from lsprotocol import types
from pygls.lsp.client import LanguageClient
import pytest

from repair_rank.serving import lsp

ROOT = pathlib.Path(__file__).resolve().parent.parent
URI = "file:///tmp/broken.py"
# test-00070 of the bundled StackOverflow pairs, with a comment: the human added the colon;
# the bundled scorer ranks that first, 84% sure, its other repairs under 1%.
BROKEN = ("for index, frame in df.groupby('group')  # each group\n"
          "    subsetFunction(frame)\n")
FIXED = ("for index, frame in df.groupby('group'):  # each group\n"
         "    subsetFunction(frame)\n")
# test-00078: the human closed the list with ']'; ranked first too, but only 49% sure.
UNSURE = ("result = cache.get_multi(keys)  # all at once\n"
          "values = [result.get(key) for key in  keys)\n")
UNSURE_FIXED = ("result = cache.get_multi(keys)  # all at once\n"
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


async def session(source: str, fixed: str, *flags: str):
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
                                             text=source)))
    opened = await asyncio.wait_for(published.get(), timeout=180)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        range=opened.diagnostics[0].range if opened.diagnostics else types.Range(
            types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=opened.diagnostics)))
    other = 0 if opened.diagnostics[0].range.start.line else 1  # a line without the error
    elsewhere = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        range=types.Range(types.Position(other, 0), types.Position(other, 3)),
        context=types.CodeActionContext(diagnostics=[])))
    assert not elsewhere  # no light bulb away from the error
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    changed = await asyncio.wait_for(published.get(), timeout=60)
    await client.shutdown_async(None)
    client.exit(None)
    return opened, actions, changed
  finally:
    process = client._server  # pylint: disable=protected-access
    if process is not None and process.returncode is None:  # a failed assertion: no exit sent
      process.kill()
    await client.stop()


def test_a_broken_document_gets_a_diagnostic_and_the_confident_human_fix():
  # The default threshold (min_confidence 0.5, as the repair command): only the fix the
  # scorer is sure of is offered.
  opened, actions, changed = asyncio.run(session(BROKEN, FIXED))
  assert opened.uri == URI and len(opened.diagnostics) == 1
  diagnostic = opened.diagnostics[0]
  assert diagnostic.message == "SyntaxError: expected ':'; 1 repair offered"
  assert diagnostic.severity == types.DiagnosticSeverity.Error and diagnostic.source == lsp.SOURCE
  with pytest.raises(SyntaxError) as error:
    compile(BROKEN, "<broken>", "exec")
  assert (diagnostic.range.start.line, diagnostic.range.start.character) == (
      error.value.lineno - 1, error.value.offset - 1)  # where Python itself points
  assert len(actions) == 1 and actions[0].kind == types.CodeActionKind.QuickFix
  assert actions[0].is_preferred and _sure(actions[0].title, "Repair: line 1: insert ':'", 82)
  edits = actions[0].edit.changes[URI]
  assert len(edits) == 1 and edits[0].new_text == ":"  # one character, in place
  repaired = apply_text_edits(BROKEN, edits)
  ast.parse(repaired)
  assert repaired == FIXED  # the comment and the layout kept
  assert not changed.diagnostics  # the fixed document parses: the diagnostic is gone


def _sure(title: str, description: str, percent: int) -> bool:
  """`title` is "<description> (N% sure)" with N within a point of `percent`: the bundled
  model's float32 scores differ in the last bits between CPU models, enough to move a
  rounded percentage that sits near .5 (48% here, 49% on the machine that recorded it)."""
  match = re.fullmatch(re.escape(description) + r" \((\d+)% sure\)", title)
  return match is not None and abs(int(match.group(1)) - percent) <= 1


def test_min_confidence_zero_offers_every_repair_best_first():
  opened, actions, _ = asyncio.run(session(UNSURE, UNSURE_FIXED, "--config.min_confidence=0"))
  assert opened.diagnostics[0].message.startswith(
      "SyntaxError: closing parenthesis ')' does not match")
  assert opened.diagnostics[0].message.endswith("; 3 repairs offered")
  assert len(actions) == 3 and actions[0].is_preferred
  # 49% sure before issue 22 counted the copies of this text together (75% with the
  # session-7 bundle, 83% with session 8's, 80% with session 18's, 82% with sessions 19's
  # and 21's, 84% with sessions 22's and 23's): now offered.
  assert _sure(actions[0].title, "Repair: line 2: replace ')' with ']'", 84)
  assert apply_text_edits(UNSURE, actions[0].edit.changes[URI]) == UNSURE_FIXED
  for action in actions:
    ast.parse(apply_text_edits(UNSURE, action.edit.changes[URI]))


def test_quick_fixes_keep_the_documents_crlf_line_breaks():
  # Repairs that insert a line break (ranked below the ':' one here: among the first ten,
  # not always the first three, as the bundled scorer changes) use the document's own
  # "\r\n", never a bare "\n".
  broken = "a = 1\r\nif a == 1 print(a)\r\nb = 2\r\n"
  fixed = "a = 1\r\nif a == 1: print(a)\r\nb = 2\r\n"
  _, actions, _ = asyncio.run(session(broken, fixed, "--config.min_confidence=0",
                                      "--config.top_k=10"))
  assert apply_text_edits(broken, actions[0].edit.changes[URI]) == fixed
  breaking = [a for a in actions if any("\r\n" in e.new_text for e in a.edit.changes[URI])]
  assert breaking, [a.title for a in actions]
  for action in actions:
    repaired = apply_text_edits(broken, action.edit.changes[URI])
    assert "\n" not in repaired.replace("\r\n", ""), action.title
    ast.parse(repaired)


def test_a_fix_of_two_places_is_two_small_edits():
  # The top repair adds ':' on line 1 and ')' on line 2: two edits, the text between kept.
  broken = "def f(x)  # doubled\n    return g(x\n"
  fixed = "def f(x):  # doubled\n    return g(x)\n"
  _, actions, _ = asyncio.run(session(broken, fixed, "--config.min_confidence=0"))
  edits = actions[0].edit.changes[URI]
  assert apply_text_edits(broken, edits) == fixed
  assert sorted(e.new_text for e in edits) == [")", ":"]


def test_the_lsp_job_refuses_a_threshold_outside_zero_one():
  from configs import lsp as lsp_config  # pylint: disable=g-import-not-at-top
  from repair_rank.jobs import lsp as lsp_job  # pylint: disable=g-import-not-at-top
  config = lsp_config.get_config()
  config.min_confidence = 50.0  # a percentage by mistake: would silently offer nothing
  with pytest.raises(SystemExit, match=r"lsp: config.min_confidence must be in \[0, 1\]"):
    lsp_job.run(config, "")


@pytest.mark.parametrize("top_k", [0, -3])
def test_the_lsp_job_refuses_top_k_below_one(top_k):
  from configs import lsp as lsp_config  # pylint: disable=g-import-not-at-top
  from repair_rank.jobs import lsp as lsp_job  # pylint: disable=g-import-not-at-top
  config = lsp_config.get_config()
  config.top_k = top_k
  with pytest.raises(SystemExit, match="lsp: config.top_k must be at least 1"):
    lsp_job.run(config, "")
  with pytest.raises(ValueError, match="top_k must be at least 1"):
    lsp.RepairServer(lambda q, c: [0.0] * len(c), top_k=top_k)
