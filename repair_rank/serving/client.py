"""A client of the endpoint: `HttpScoreFn` is a `ScoreFn` that asks a running server."""
import http.client
import json
import threading
import time
from typing import Any, Sequence
import urllib.parse

import numpy as np

from repair_rank.syntax import tokens as tokens_lib


class HttpScoreFn:
  """A `ScoreFn` that asks a running endpoint (`/rerank.json`), one connection per thread."""

  def __init__(self, url: str, timeout_s: float = 120.0):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
      raise ValueError(f"endpoint must be an http://host:port URL, got {url!r}")
    self.url = url.rstrip("/")
    self._host, self._port = parts.hostname, parts.port or 80
    self._timeout = timeout_s
    self._local = threading.local()

  def request(self, method: str, path: str, body: bytes = b"",
              content_type: str = "application/json") -> tuple[int, bytes]:
    """(status, body) of one request; reconnects once if a kept-alive connection died."""
    for attempt in range(2):
      connection = getattr(self._local, "connection", None)
      if connection is None:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        self._local.connection = connection
      try:
        connection.request(method, path, body=body if method == "POST" else None,
                           headers={"Content-Type": content_type} if method == "POST" else {})
        response = connection.getresponse()
        data = response.read()
        if response.getheader("Connection", "").lower() == "close":
          self.close()
        return response.status, data
      except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
        self.close()
        if attempt:
          raise
    raise AssertionError("unreachable")

  def __call__(self, query: Sequence[str], candidates: Sequence[Sequence[str]]) -> np.ndarray:
    return self.score_with_confidence(query, candidates)[0]

  def score_with_confidence(self, query: Sequence[str], candidates: Sequence[Sequence[str]]
                            ) -> tuple[np.ndarray, np.ndarray | None]:
    """(scores, the endpoint's per-candidate confidence or None if it reports none)."""
    if not candidates:
      return np.zeros(0), None
    body = json.dumps({"query": _compact(query), "candidates": [_compact(c) for c in candidates]})
    status, data = self.request("POST", "/rerank.json", body.encode())
    if status != 200:
      raise RuntimeError(f"{self.url}/rerank.json answered {status}: "
                         f"{data.decode('utf-8', 'replace').strip()}")
    answer = json.loads(data)
    scores = np.array([np.nan if s is None else s for s in answer["scores"]], dtype=np.float64)
    confidences = answer.get("confidence")
    return scores, None if confidences is None else np.array(confidences, dtype=np.float64)

  def close(self) -> None:
    connection = getattr(self._local, "connection", None)
    if connection is not None:
      connection.close()
      self._local.connection = None


def _compact(sequence: Sequence[str]) -> str | list[str]:
  """The charified line of a token sequence (a fifth of the JSON of a token list),
  or the token list where the line would read as one multi-character token."""
  line = tokens_lib.charify(sequence)
  ambiguous = not line or (len(line) > 1 and line in tokens_lib.TOKEN_TO_CHAR)
  return list(sequence) if ambiguous else line


def wait_until_healthy(url: str, timeout_s: float = 60.0) -> dict[str, Any]:
  """Polls `url`/healthz until it answers 200; returns its JSON."""
  client = HttpScoreFn(url, timeout_s=5.0)
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      status, data = client.request("GET", "/healthz")
      if status == 200:
        return json.loads(data)
    except OSError:
      pass
    if time.monotonic() > deadline:
      raise TimeoutError(f"{url}/healthz did not answer within {timeout_s:g} s")
    time.sleep(0.1)
