"""The serve job: the scoring endpoint on 127.0.0.1 until SIGTERM or SIGINT.

  python -m repair_rank.main --config configs/serve.py --config.port=8080

Routes and limits: `repair_rank.serving.server` and `repair_rank.serving.protocol`.
"""
import signal
import threading

from absl import logging
import ml_collections

from repair_rank.ranking import registry
from repair_rank.serving import server as server_lib


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Serves until SIGTERM or SIGINT, then finishes in-flight requests and exits."""
  del workdir  # The endpoint writes nothing.
  try:
    server = server_lib.server_from_config(config)
  except registry.ScorerUnavailableError as e:
    raise SystemExit(f"serve: {e}") from None
  stopping = threading.Event()

  def stop(signum, frame):
    del frame
    if not stopping.is_set():
      stopping.set()
      logging.info("Received signal %d; shutting down", signum)
      # shutdown() waits for serve_forever, which runs on this (the main) thread.
      threading.Thread(target=server.stop_accepting, daemon=True).start()

  previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
  try:
    print(f"Serving {server.name} on {server.url} (a page to try it at {server.url}/; "
          "POST /rerank, /rerank.json, /repair.json; GET /healthz)", flush=True)
    server.serve_forever()
  finally:
    server.shutdown(grace_s=config.get("shutdown_grace_s", 10.0))
    for s, handler in previous.items():
      signal.signal(s, handler)
  print("Server stopped.", flush=True)
