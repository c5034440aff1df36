"""The scoring endpoint: rerank repair candidates over HTTP (pipeline step 9, README.md).

  python -m repair_rank.main --config configs/serve.py --config.port=8080
  curl -s localhost:8080/healthz
  printf 'NAME = ( STRING }\\nNAME = ( STRING )\\nNAME = STRING\\n' | curl -s \\
      -H 'Content-Type: text/plain' --data-binary @- localhost:8080/rerank

Routes:
  GET  /healthz      200 with JSON {"status": "ok", "scorer": ..., request counters}.
  POST /rerank       text/plain, POST /rerank.json: see `serving.protocol`.
  GET  /             a page to try it: paste broken Python, see its repairs (page.html).
  POST /repair.json  JSON {"source": ..., "top_k": ...}: the error and its repairs as text
                     (`serving.protocol.parse_repair_request`, `repair.diagnosis.diagnose`).

This module holds the routes; the HTTP plumbing (connections, deadlines, slots,
shutdown) is `serving.connections`, and which request runs when is
`serving.admission`: small reranks, large reranks and repairs each have their own
bounded worker pool, chosen from the route and Content-Length before the body is
read, so small work never waits behind large work. Every bad request gets a 4xx
with a one-line message, a full lane a 503 with Retry-After, and a scorer failure
a 500; none stops the server.
"""
import dataclasses
import functools
import importlib.resources
import time
from typing import Any, Optional

from absl import logging
import ml_collections
import numpy as np

from repair_rank.ranking import confidence
from repair_rank.ranking import evaluate
from repair_rank.ranking import registry
from repair_rank.ranking.metrics import best_first
from repair_rank.repair import diagnosis as diagnosis_lib
from repair_rank.serving import admission
from repair_rank.serving import connections
from repair_rank.serving.protocol import Limits
from repair_rank.serving.protocol import RequestError
from repair_rank.serving.protocol import parse_json_request
from repair_rank.serving.protocol import parse_repair_request
from repair_rank.serving.protocol import parse_text_request
from repair_rank.serving.protocol import repair_answer
from repair_rank.syntax import parser

ROUTES = ("/healthz", "/rerank", "/rerank.json")
PAGE_ROUTES = ("/", "/repair.json")  # the page and the source-text route behind it
_JSON_ROUTES = ("/rerank.json", "/repair.json")  # errors answered as {"error": message}
# A query and candidates scored once at start-up when the scorer has no `warmup()`.
_WARMUP_QUERY = ["NAME", "=", "(", "NUMBER", "NEWLINE"]
_WARMUP_CANDIDATES = [["NAME", "=", "(", "NUMBER", ")", "NEWLINE"], ["NAME", "=", "NUMBER", "NEWLINE"]]


@functools.cache
def page() -> bytes:
  """The page (`page.html`, self-contained: inline CSS and script, nothing fetched)."""
  return importlib.resources.files("repair_rank.serving").joinpath("page.html").read_bytes()


def warm_up(scorer: Any) -> float:
  """Compiles the scorer before the first request; returns the seconds it took.

  A scorer with a `warmup()` method is asked to do it. Otherwise it is called
  once per (length bucket, batch bucket) of its `length_buckets` and
  `batch_buckets` attributes (the model's padding shapes, so each jit shape is
  compiled now), or once on a dummy query if it has none (a baseline).
  """
  start = time.perf_counter()
  warmup = getattr(scorer, "warmup", None)
  if callable(warmup):
    warmup()
    return time.perf_counter() - start
  score_fn = evaluate.as_score_fn(scorer)
  length_buckets = getattr(scorer, "length_buckets", None)
  batch_buckets = getattr(scorer, "batch_buckets", None)
  if not (length_buckets and batch_buckets):
    score_fn(list(_WARMUP_QUERY), [list(c) for c in _WARMUP_CANDIDATES])
    return time.perf_counter() - start
  for length in length_buckets:
    # A (query, candidate) pair of this many tokens plus a few specials lands in
    # this bucket; the exact encoding is the scorer's business.
    n = max(1, (int(length) - 3) // 2)
    query = (_WARMUP_QUERY * n)[:n]
    candidate = (_WARMUP_CANDIDATES[0] * n)[:n]
    for rows in batch_buckets:
      score_fn(list(query), [list(candidate) for _ in range(int(rows))])
  return time.perf_counter() - start


def _route_list() -> str:
  """Every route with its method, for a 404's message."""
  return ("GET /, GET /healthz, POST /rerank, POST /rerank.json, POST /repair.json")


class _Handler(connections.RequestHandler):
  """The routes; reading, deadlines and answering are `connections.RequestHandler`'s."""
  json_routes = _JSON_ROUTES
  app: "RerankServer"

  def route(self, path: str) -> None:
    if self.command in ("GET", "HEAD"):
      self._get(path)
    elif self.command == "POST":
      self._post(path)
    else:
      allowed = "GET, HEAD" if path in ("/healthz", "/") else "POST"
      self.method_not_allowed(allowed if path in ROUTES + PAGE_ROUTES else "GET, HEAD, POST")

  def _get(self, path: str) -> None:
    if path == "/healthz":
      self.send_json(200, self.app.health())
    elif path == "/":
      self.send_text(200, page(), "text/html; charset=utf-8")
    elif path == "/favicon.ico":  # browsers ask on every page load: no icon, no error
      self.send_text(204, b"", "image/x-icon")
    elif path in ROUTES + PAGE_ROUTES:
      self.method_not_allowed("POST")
    else:
      raise RequestError(404, f"no route {path!r}; routes: {_route_list()}")

  def _post(self, path: str) -> None:
    if path == "/repair.json":
      self._repair()
    elif path in ("/rerank", "/rerank.json"):
      self.check_content_type("text/plain" if path == "/rerank" else "application/json")
      lane = self.app.lanes.for_rerank(self.body_length())  # the cost estimate: body bytes
      with lane.place():
        body = self.read_body()
        if path == "/rerank":
          query, candidates, lines = parse_text_request(body, self.app.limits)
        else:
          query, candidates = parse_json_request(body, self.app.limits)
        with lane.worker():
          scores = self.app.score(query, candidates)
      if path == "/rerank":
        answer = "".join(lines[i] + "\n" for i in best_first(scores)).encode()
        self.send_text(200, answer, "text/plain; charset=utf-8")
      else:
        self.send_json(200, {"scores": [float(s) for s in scores],
                             "order": [int(i) for i in best_first(scores)],
                             **self.app.confidence(scores)})
    elif path in ROUTES + PAGE_ROUTES:
      self.method_not_allowed("GET")
    else:
      raise RequestError(404, f"no route {path!r}; routes: {_route_list()}")

  def _repair(self) -> None:
    """POST /repair.json: source text in, the first error and its best repairs out."""
    self.check_content_type("application/json")
    self.body_length()
    lane = self.app.lanes.for_repair()
    with lane.place():
      source, top_k = parse_repair_request(self.read_body(), self.app.limits)
      with lane.worker():
        diagnosis = diagnosis_lib.diagnose(source, self.app.score, top_k=top_k,
                                           **self.app.repair_options)
    if diagnosis.status in ("parses", "no_tokens"):
      raise RequestError(422, diagnosis.message)
    self.send_json(200, repair_answer(diagnosis, source))


class RerankServer(connections.HttpService):
  """The endpoint around one scorer; `with RerankServer(fn).start() as s: s.url`."""

  def __init__(self, scorer: Any, *, host: str = "127.0.0.1", port: int = 0,
               limits: Limits = Limits(), name: str = "", access_log: bool = False,
               max_connections: int = 64, reserve_connections: int = 8,
               max_idle_connections: int = 1024,
               lane_limits: admission.LaneLimits = admission.LaneLimits(),
               repair_options: Optional[dict[str, Any]] = None):
    # Handler threads parse (the repair route, numpy loading the n-gram model lazily,
    # tracebacks): on CPython 3.11 concurrent parses answered 500s (syntax/parser.py).
    parser.guard_stdlib_parse()
    self.score_fn = evaluate.as_score_fn(scorer)
    self.calibration = confidence.calibration_of(scorer)  # None: no confidence to report
    # Options of `diagnosis.diagnose` for POST /repair.json (max_distance, k, time_budget, ...).
    self.repair_options = dict(repair_options or {})
    self.name = name or getattr(scorer, "__name__", type(scorer).__name__)
    self.lanes = admission.Lanes(lane_limits)
    self.unhealthy = ""  # why /healthz is not ok (the scorer returned NaN/Inf)
    super().__init__(_Handler, host=host, port=port, limits=limits, access_log=access_log,
                     max_connections=max_connections, reserve_connections=reserve_connections,
                     max_parked=max_idle_connections)

  def score(self, query: list[str], candidates: list[list[str]]) -> np.ndarray:
    """The scorer's scores (its lane bounds how many run at once); a result of the wrong
    shape or a non-finite one raises (a 500)."""
    scores = np.asarray(self.score_fn(query, candidates), dtype=np.float64)
    if scores.shape != (len(candidates),):
      raise ValueError(f"scorer returned shape {scores.shape} for {len(candidates)} candidates")
    if not np.all(np.isfinite(scores)):
      # Damaged weights: refuse to answer with them, and say so on /healthz.
      self.unhealthy = f"the scorer returned non-finite scores ({scores[~np.isfinite(scores)][:3]})"
      logging.error("%s", self.unhealthy)
      raise ValueError(self.unhealthy)
    return scores

  def confidence(self, scores: np.ndarray) -> dict[str, Any]:
    """/rerank.json's confidence fields: each candidate's calibrated probability of being
    the human's fix, and the best one's (null when the scorer has no calibration)."""
    if self.calibration is None:
      return {"confidence": None, "top_confidence": None}
    probabilities = self.calibration.probabilities(scores)
    return {"confidence": [float(p) for p in probabilities],
            "top_confidence": float(probabilities.max())}

  def health(self) -> dict[str, Any]:
    counts = self.status_counts()
    return {"status": "failing: " + self.unhealthy if self.unhealthy else "ok",
            "scorer": self.name,
            "requests": sum(counts.values()),
            "responses": {str(k): v for k, v in sorted(counts.items())},
            "limits": dataclasses.asdict(self.limits)}

  def on_drain(self) -> None:
    self.lanes.drain()  # requests still waiting for a worker get their 503 now

  def start(self) -> "RerankServer":
    super().start()
    return self

  def __enter__(self) -> "RerankServer":
    return self


def server_from_config(config: ml_collections.ConfigDict, scorer: Any = None,
                       port: Optional[int] = None) -> RerankServer:
  """A warmed-up (if `config.warmup`) server for `config`; the scorer is loaded if not given."""
  scorer = registry.from_config(config) if scorer is None else scorer
  if config.get("warmup", True):
    logging.info("Warmed up the scorer in %.2f s", warm_up(scorer))
  return RerankServer(scorer, host=config.get("host", "127.0.0.1"),
                      port=config.port if port is None else port,
                      limits=Limits.from_config(config), name=config.scorer,
                      access_log=config.get("access_log", False),
                      max_connections=config.get("max_connections", 64),
                      reserve_connections=config.get("reserve_connections", 8),
                      max_idle_connections=config.get("max_idle_connections", 1024),
                      lane_limits=admission.LaneLimits.from_config(config),
                      repair_options=repair_options(config))


def repair_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """`diagnosis.diagnose` options of a serve (or lsp) config; missing fields keep its defaults."""
  options = {}
  for field in ("max_distance", "k", "window_tokens", "max_errors"):
    if field in config:
      options[field] = int(config[field])
  if "time_budget" in config:
    options["time_budget"] = float(config.time_budget) or None
  return options
