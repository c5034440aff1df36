"""How long people wait (issue 22, item 6): the repair command on a snippet, the server
from start to /healthz, a one-character fix through /repair.json, and the editor
server's diagnostic after an edit. Prints one line per timing.

  .venv/bin/python launch/benchmarks/benchmark_repair_experience.py [--runs 3]

Each is wall time of the real thing: `repair-rank repair` as a subprocess (the first
run fills JAX's persistent compilation cache, ~/.cache/repair_rank/jax, if empty; the
later runs are what a user sees every day), `repair-rank serve` polled until /healthz
answers, POST /repair.json on that server, and an LSP client (pygls) timing didChange
to publishDiagnostics (the server waits `lsp.DEBOUNCE_S` for typing to stop first).
"""
import argparse
import asyncio
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
SNIPPET = "def area(width, height)\n    return width * height\n"
ONE_CHARACTER = "total = sum(values\n"


def _command(path: str) -> float:
  start = time.perf_counter()
  subprocess.run([sys.executable, "-m", "repair_rank.cli", "repair", path, "--color", "never"],
                 cwd=ROOT, capture_output=True, check=False)
  return time.perf_counter() - start


def _free_port() -> int:
  with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1]


def _post(url: str, body: dict) -> float:
  request = urllib.request.Request(url + "/repair.json", data=json.dumps(body).encode(),
                                   headers={"Content-Type": "application/json"})
  start = time.perf_counter()
  with urllib.request.urlopen(request, timeout=60) as response:
    answer = json.load(response)
  elapsed = time.perf_counter() - start
  assert answer["repairs"], answer
  return elapsed


def _server(runs: int) -> tuple[float, list[float]]:
  port = _free_port()
  url = f"http://127.0.0.1:{port}"
  start = time.perf_counter()
  process = subprocess.Popen([sys.executable, "-m", "repair_rank.cli", "serve", "--port",
                              str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  try:
    while True:
      try:
        with urllib.request.urlopen(url + "/healthz", timeout=1):
          break
      except OSError:
        if process.poll() is not None:
          raise RuntimeError("the server exited")
        time.sleep(0.05)
    ready = time.perf_counter() - start
    _post(url, {"source": ONE_CHARACTER, "top_k": 5})  # first request: lazy n-gram tables
    fixes = [_post(url, {"source": ONE_CHARACTER, "top_k": 5}) for _ in range(runs)]
  finally:
    process.terminate()
    process.wait(timeout=30)
  return ready, fixes


async def _editor(runs: int) -> list[float]:
  from lsprotocol import types  # pylint: disable=g-import-not-at-top
  from pygls.lsp.client import LanguageClient  # pylint: disable=g-import-not-at-top
  client = LanguageClient("benchmark", "0")
  published: asyncio.Queue = asyncio.Queue()

  @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
  def on_diagnostics(params) -> None:  # pylint: disable=unused-variable
    published.put_nowait(params)

  await client.start_io(sys.executable, "-m", "repair_rank.cli", "lsp", cwd=str(ROOT))
  uri = "file:///tmp/benchmark.py"
  out = []
  try:
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                             text="x = 1\n")))
    await asyncio.wait_for(published.get(), timeout=180)
    for version in range(runs + 1):
      text = ONE_CHARACTER.replace("values", f"values_{version}")
      start = time.perf_counter()
      client.text_document_did_change(types.DidChangeTextDocumentParams(
          text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version + 2),
          content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
      params = await asyncio.wait_for(published.get(), timeout=60)
      assert params.diagnostics
      if version:  # the first scores once to compile (or load) its shapes
        out.append(time.perf_counter() - start)
    await client.shutdown_async(None)
    client.exit(None)
  finally:
    await client.stop()
  return out


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--runs", type=int, default=3)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "broken.py")
    pathlib.Path(path).write_text(SNIPPET)
    command = [_command(path) for _ in range(args.runs + 1)]
  sys.stdout.flush()
  print(f"repair command, snippet, first run: {command[0]:.2f} s wall")
  print(f"repair command, snippet, median of the next {args.runs}: "
        f"{np.median(command[1:]):.2f} s wall (max {max(command[1:]):.2f})")
  ready, fixes = _server(args.runs)
  print(f"server start to /healthz: {ready:.2f} s")
  print(f"one-character fix via POST /repair.json: median {np.median(fixes):.3f} s "
        f"(max {max(fixes):.3f})")
  editor = asyncio.run(_editor(args.runs))
  print(f"editor diagnostic after an edit (debounce included): median "
        f"{np.median(editor):.3f} s (max {max(editor):.3f})")


if __name__ == "__main__":
  main()
