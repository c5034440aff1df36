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

Standard library only: `ThreadingHTTPServer`, one thread per connection, HTTP/1.1
keep-alive. Every bad request gets a 4xx with a one-line message and a scorer
failure a 500; neither stops the server. Scoring runs under one lock: on a small
CPU two concurrent jit calls only fight over the same cores, and the `ScoreFn`
interface (one query per call) leaves nothing to batch across requests.
"""
import dataclasses
import functools
import http.server
import importlib.resources
import json
import socket
import threading
import time
from typing import Any, Optional
import urllib.parse

from absl import logging
import ml_collections
import numpy as np

from repair_rank.ranking import confidence
from repair_rank.ranking import evaluate
from repair_rank.ranking import registry
from repair_rank.ranking.metrics import best_first
from repair_rank.repair import diagnosis as diagnosis_lib
from repair_rank.serving.protocol import Limits
from repair_rank.serving.protocol import RequestError
from repair_rank.serving.protocol import parse_json_request
from repair_rank.serving.protocol import parse_repair_request
from repair_rank.serving.protocol import parse_text_request
from repair_rank.serving.protocol import repair_answer

ROUTES = ("/healthz", "/rerank", "/rerank.json")
PAGE_ROUTES = ("/", "/repair.json")  # the page and the source-text route behind it
_JSON_ROUTES = ("/rerank.json", "/repair.json")  # errors answered as {"error": message}
# Seconds a connection over the cap has to send its request (it may only ask /healthz).
_RESERVE_TIMEOUT_S = 2.0
# A query and candidates scored once at start-up when the scorer has no `warmup()`.
_WARMUP_QUERY = ["NAME", "=", "(", "NUMBER", "NEWLINE"]
_WARMUP_CANDIDATES = [["NAME", "=", "(", "NUMBER", ")", "NEWLINE"], ["NAME", "=", "NUMBER", "NEWLINE"]]
_TEXT_CHARSETS = frozenset(("utf-8", "utf8", "us-ascii", "ascii"))


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


class _Handler(http.server.BaseHTTPRequestHandler):
  """One connection; requests are dispatched to the owning `RerankServer`."""
  protocol_version = "HTTP/1.1"
  server_version = "repair_rank"

  reserve = False  # a connection over the cap: answers /healthz only, then closes

  def setup(self):
    self.app: RerankServer = self.server.app  # pytype: disable=attribute-error
    self.timeout = self.app.limits.request_timeout_s  # socket timeout of every read
    self._body_pending = 0  # declared body bytes not yet read
    self._answered = 0  # requests answered on this connection
    self.expired = False  # the watchdog closed the socket: a deadline passed
    self.waiting = False  # between requests: nothing of the next one parsed yet
    super().setup()
    self.app.watchdog.add(self)
    # Headers and body go out in separate writes; without this, Nagle's algorithm
    # and the client's delayed ACK add ~40 ms to every answer.
    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

  def handle_one_request(self):
    # The stdlib's version, except that a stall gets a 408 and any unknown
    # method a 405 (its 501 would count as a server error).
    # Not the previous request's line on a kept-alive connection; defaults that
    # let a 408 go out before any request line was parsed.
    self.raw_requestline = b""
    self.requestline, self.command, self.request_version = "", "", "HTTP/1.1"
    limits = self.app.limits
    if self.app.draining or (self.reserve and self._answered):
      self.close_connection = True  # a request boundary: close, do not wait for more
      return
    try:
      # Total deadlines, whatever the pace of the bytes: the request line within
      # the idle limit (a first one within the request timeout), then headers
      # and body within the request timeout.
      first = limits.request_timeout_s if not self._answered else limits.idle_timeout_s
      self._set_deadline(min(first, _RESERVE_TIMEOUT_S) if self.reserve else first, waiting=True)
      self.raw_requestline = self.rfile.readline(65537)
      self._set_deadline(min(limits.request_timeout_s, _RESERVE_TIMEOUT_S) if self.reserve
                         else limits.request_timeout_s)
      if self.expired:
        raise TimeoutError
      if len(self.raw_requestline) > 65536:
        self.requestline = self.request_version = self.command = ""
        self.send_error(414)
        return
      if not self.raw_requestline:
        self.close_connection = True
        return
      if not self.parse_request():
        return
      if self.expired:
        raise TimeoutError
      if self.command in ("GET", "HEAD"):
        self._dispatch(self._get)
      elif self.command == "POST":
        self._dispatch(self._post)
      else:
        self._dispatch(self._other)
      self.wfile.flush()
      self._answered += 1
    except OSError as e:  # a stall, a deadline the watchdog enforced, or a client gone
      self.close_connection = True
      stalled = isinstance(e, TimeoutError) or self.expired
      # A client that stalls gets a 408 (if the socket still takes one); a kept-alive
      # connection that merely went idle, or closed at shutdown, is closed silently.
      if stalled and not self.app.draining and (self.raw_requestline or not self._answered):
        self.app.count(408)
        self._try_send(408, "timed out waiting for the request (request_timeout_s, "
                       "idle_timeout_s)")

  def _set_deadline(self, seconds: Optional[float], waiting: bool = False) -> None:
    self.waiting = waiting
    self.app.watchdog.set(self, None if seconds is None else time.monotonic() + seconds)

  def expire(self, hard: bool = False) -> None:
    """Called by the watchdog: unblocks a read by shutting the socket's read side, so a
    408 can still go out; `hard` shuts both sides, unblocking a write too."""
    self.expired = True
    try:
      self.connection.shutdown(socket.SHUT_RDWR if hard else socket.SHUT_RD)
    except OSError:
      pass

  def finish(self):
    self.app.watchdog.remove(self)
    try:
      super().finish()
    except OSError:
      pass

  def _try_send(self, status: int, message: str) -> None:
    try:
      self._send(status, message.encode() + b"\n", "text/plain; charset=utf-8", close=True)
      self.wfile.flush()
    except OSError:
      pass

  def _dispatch(self, method) -> None:
    self._body_pending = 0
    path = urllib.parse.urlsplit(self.path).path
    self.app.begin_request()
    try:
      if self.reserve and not (path == "/healthz" and self.command in ("GET", "HEAD")):
        raise RequestError(503, "too many connections; only /healthz is answered now; "
                           "retry later", headers={"Retry-After": "1"})
      if self.command in ("GET", "HEAD"):
        self._set_deadline(None)  # nothing more to read
      method(path)
      self.app.count(200)
    except RequestError as e:
      self.app.count(e.status)
      self._drain()
      self._send_error(e.status, e.message, path, extra=e.headers)
    except Exception as e:  # pylint: disable=broad-except
      # A scorer bug must not take the server down: answer 500 and go on.
      logging.exception("Error while answering %s %s", self.command, path)
      self.app.count(500)
      self._drain()
      self._send_error(500, f"scoring failed: {type(e).__name__}: {e}", path)
    finally:
      self.app.end_request()

  def _get(self, path: str) -> None:
    if path == "/healthz":
      self._send_json(200, self.app.health())
    elif path == "/":
      self._send(200, page(), "text/html; charset=utf-8")
    elif path in ROUTES + PAGE_ROUTES:
      self._method_not_allowed("POST")
    else:
      raise RequestError(404, f"no route {path!r}; routes: {', '.join(ROUTES)}")

  def _post(self, path: str) -> None:
    if path == "/repair.json":
      self._repair()
    elif path == "/rerank":
      self._check_content_type("text/plain")
      body = self._read_body()
      self._set_deadline(None)  # read in time; scoring is the server's own time
      query, candidates, lines = parse_text_request(body, self.app.limits)
      order = best_first(self.app.score(query, candidates))
      answer = "".join(lines[i] + "\n" for i in order).encode()
      self._send(200, answer, "text/plain; charset=utf-8")
    elif path == "/rerank.json":
      self._check_content_type("application/json")
      body = self._read_body()
      self._set_deadline(None)
      query, candidates = parse_json_request(body, self.app.limits)
      scores = self.app.score(query, candidates)
      self._send_json(200, {
          "scores": [float(s) for s in scores],
          "order": [int(i) for i in best_first(scores)],
          **self.app.confidence(scores)})
    elif path in ROUTES + PAGE_ROUTES:
      self._method_not_allowed("GET")
    else:
      raise RequestError(404, f"no route {path!r}; routes: {', '.join(ROUTES + PAGE_ROUTES)}")

  def _repair(self) -> None:
    """POST /repair.json: source text in, the first error and its best repairs out."""
    self._check_content_type("application/json")
    body = self._read_body()
    self._set_deadline(None)
    source, top_k = parse_repair_request(body, self.app.limits)
    diagnosis = diagnosis_lib.diagnose(source, self.app.score, top_k=top_k,
                                       **self.app.repair_options)
    if diagnosis.status in ("parses", "no_tokens"):
      raise RequestError(422, diagnosis.message)
    self._send_json(200, repair_answer(diagnosis, source))

  def _other(self, path: str) -> None:
    allowed = "GET, HEAD" if path in ("/healthz", "/") else "POST"
    self._method_not_allowed(allowed if path in ROUTES + PAGE_ROUTES else "GET, HEAD, POST")

  def _method_not_allowed(self, allowed: str) -> None:
    raise RequestError(405, f"method {self.command} not allowed here; use {allowed}",
                       headers={"Allow": allowed})

  def _check_content_type(self, expected: str) -> None:
    header = self.headers.get("Content-Type")
    if header is None:
      raise RequestError(415, f"missing Content-Type; send {expected}")
    if self.headers.get_content_type() != expected:
      raise RequestError(415, f"Content-Type {header!r} is not {expected}")
    charset = self.headers.get_content_charset()
    if charset is not None and charset.lower() not in _TEXT_CHARSETS:
      raise RequestError(415, f"charset {charset!r} is not supported; send utf-8")

  def _read_body(self) -> bytes:
    limits = self.app.limits
    if self.headers.get("Transfer-Encoding"):
      raise RequestError(411, "chunked bodies are not supported; send Content-Length")
    header = self.headers.get("Content-Length")
    if header is None:
      raise RequestError(411, "missing Content-Length")
    try:
      length = int(header)
      if length < 0:
        raise ValueError
    except ValueError:
      raise RequestError(400, f"bad Content-Length {header!r}") from None
    self._body_pending = length
    if length > limits.max_body_bytes:
      raise RequestError(413, f"body of {length} bytes is over the limit of "
                         f"{limits.max_body_bytes} (max_body_bytes)")
    chunks = []
    deadline = time.monotonic() + limits.request_timeout_s
    while self._body_pending:
      try:
        if time.monotonic() > deadline:
          raise TimeoutError
        chunk = self.rfile.read1(min(self._body_pending, 1 << 16))
      except TimeoutError:
        self._body_pending = 0  # a stalled client: do not wait for the rest
        raise RequestError(408, f"timed out after {limits.request_timeout_s:g} s with "
                           f"{sum(map(len, chunks))} of {length} body bytes received "
                           "(request_timeout_s)") from None
      if not chunk:
        self._body_pending = 0
        if self.expired:  # the watchdog shut the read side: the total deadline passed
          raise RequestError(408, f"timed out after {limits.request_timeout_s:g} s with "
                             f"{sum(map(len, chunks))} of {length} body bytes received "
                             "(request_timeout_s)")
        raise RequestError(400, "connection closed before the body was complete")
      chunks.append(chunk)
      self._body_pending -= len(chunk)
    return b"".join(chunks)

  def _drain(self) -> None:
    # Read (a bounded amount of) an unread body before answering, so closing the
    # socket does not reset the connection before the client reads the answer.
    if not 0 < self._body_pending <= self.app.drain_bytes:
      return
    deadline = time.monotonic() + min(1.0, self.app.limits.request_timeout_s)
    try:
      while self._body_pending > 0 and time.monotonic() < deadline:
        chunk = self.rfile.read1(min(self._body_pending, 1 << 16))
        if not chunk:
          break
        self._body_pending -= len(chunk)
    except OSError:
      pass

  def _send_error(self, status: int, message: str, path: str,
                  extra: Optional[dict[str, str]] = None) -> None:
    if path in _JSON_ROUTES:
      body, content_type = json.dumps({"error": message}).encode(), "application/json"
    else:
      body, content_type = message.encode() + b"\n", "text/plain; charset=utf-8"
    self._send(status, body, content_type, close=True, extra=extra)

  def _send_json(self, status: int, data: Any) -> None:
    self._send(status, json.dumps(data).encode(), "application/json")

  def _send(self, status: int, body: bytes, content_type: str, *, close: bool = False,
            extra: Optional[dict[str, str]] = None) -> None:
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    for key, value in (extra or {}).items():
      self.send_header(key, value)
    if close or self.app.draining or self.reserve:
      self.close_connection = True
      self.send_header("Connection", "close")
    self.end_headers()
    if self.command != "HEAD":
      self.wfile.write(body)

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    if self.app.access_log:
      logging.info("%s %s", self.address_string(), format % args)

  def log_error(self, format, *args):  # pylint: disable=redefined-builtin
    logging.debug("%s %s", self.address_string(), format % args)


class _ReserveHandler(_Handler):
  """A connection beyond the cap: answers GET/HEAD /healthz, anything else 503, then closes."""
  reserve = True


class _Watchdog:
  """Enforces the connections' deadlines: past one, the socket is shut (see `_Handler.expire`)."""

  def __init__(self, period_s: float = 0.1):
    self._deadlines: dict[_Handler, Optional[float]] = {}
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, args=(period_s,), name="rerank-watchdog",
                                    daemon=True)
    self._thread.start()

  def add(self, handler: _Handler) -> None:
    with self._lock:
      self._deadlines[handler] = None

  def set(self, handler: _Handler, deadline: Optional[float]) -> None:
    with self._lock:
      if handler in self._deadlines:
        self._deadlines[handler] = deadline

  def remove(self, handler: _Handler) -> None:
    with self._lock:
      self._deadlines.pop(handler, None)

  def expire(self, waiting_only: bool) -> None:
    """Closes every connection now (or only those between requests)."""
    with self._lock:
      handlers = [h for h in self._deadlines if h.waiting or not waiting_only]
    for handler in handlers:
      handler.expire(hard=not waiting_only)

  def evict_slowest(self, reserve: bool) -> bool:
    """Closes the connection that has waited longest for its request to come in, if any."""
    with self._lock:
      reading = [(d, id(h), h) for h, d in self._deadlines.items()
                 if d is not None and h.reserve == reserve]
    if not reading:
      return False
    min(reading)[2].expire()
    return True

  def _run(self, period_s: float) -> None:
    while not self._stop.wait(period_s):
      now = time.monotonic()
      with self._lock:
        late = [h for h, d in self._deadlines.items() if d is not None and now > d]
        for handler in late:
          self._deadlines[handler] = None
      for handler in late:
        handler.expire()

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()


class _HTTPServer(http.server.ThreadingHTTPServer):
  """Thread per connection up to `app.max_connections`; beyond it a few reserve
  connections answer /healthz (503 otherwise); beyond those, 503 at once."""
  daemon_threads = True
  allow_reuse_address = True
  request_queue_size = 128  # listen backlog; the default 5 drops bursts of connections

  def __init__(self, address, app: "RerankServer"):
    self.app = app
    super().__init__(address, _Handler)

  def process_request(self, request, client_address):
    app = self.app
    if app.connection_slots.acquire(blocking=False):
      handler_class, slots = _Handler, app.connection_slots
    elif (app.watchdog.evict_slowest(reserve=False) or True) and (
        app.reserve_slots.acquire(blocking=False)
        or (app.watchdog.evict_slowest(reserve=True)
            and app.reserve_slots.acquire(timeout=_RESERVE_TIMEOUT_S / 2))):
      # Full: the connection slowest to send its request makes room (slowloris
      # cannot hold every slot), and this one may ask /healthz meanwhile.
      handler_class, slots = _ReserveHandler, app.reserve_slots
    else:
      message = b"too many connections; retry later\n"
      try:
        request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                        b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
                        + str(len(message)).encode() + b"\r\n\r\n" + message)
      except OSError:
        pass
      self.shutdown_request(request)
      return
    thread = threading.Thread(target=self._serve, args=(request, client_address, handler_class,
                                                        slots), daemon=True)
    app.threads.add(thread)
    thread.start()

  def _serve(self, request, client_address, handler_class, slots) -> None:
    try:
      handler_class(request, client_address, self)
    except Exception:  # pylint: disable=broad-except
      self.handle_error(request, client_address)
    finally:
      self.shutdown_request(request)
      slots.release()
      self.app.threads.discard(threading.current_thread())

  def handle_error(self, request, client_address):
    logging.debug("Connection from %s ended by an error", client_address, exc_info=True)


class RerankServer:
  """The endpoint around one scorer; `with RerankServer(fn).start() as s: s.url`."""

  def __init__(self, scorer: Any, *, host: str = "127.0.0.1", port: int = 0,
               limits: Limits = Limits(), name: str = "", access_log: bool = False,
               max_connections: int = 64, reserve_connections: int = 8,
               repair_options: Optional[dict[str, Any]] = None):
    self.score_fn = evaluate.as_score_fn(scorer)
    self.calibration = confidence.calibration_of(scorer)  # None: no confidence to report
    # Options of `diagnosis.diagnose` for POST /repair.json (max_distance, k, time_budget, ...).
    self.repair_options = dict(repair_options or {})
    self.name = name or getattr(scorer, "__name__", type(scorer).__name__)
    self.limits = limits
    self.access_log = access_log
    self.drain_bytes = 4 * limits.max_body_bytes
    self.connection_slots = threading.BoundedSemaphore(max_connections)
    self.reserve_slots = threading.BoundedSemaphore(reserve_connections)
    self.threads: set[threading.Thread] = set()  # one per open connection
    self.draining = False  # shutting down: answer what is in flight, then close
    self.unhealthy = ""  # why /healthz is not ok (the scorer returned NaN/Inf)
    self.watchdog = _Watchdog()
    self._score_lock = threading.Lock()
    self._stats_lock = threading.Condition()
    self._status_counts: dict[int, int] = {}
    self._in_flight = 0
    self._serving = False
    self._thread: Optional[threading.Thread] = None
    self._httpd = _HTTPServer((host, port), self)

  @property
  def address(self) -> tuple[str, int]:
    host, port = self._httpd.server_address[:2]
    return host, port

  @property
  def url(self) -> str:
    host, port = self.address
    return f"http://{host}:{port}"

  def score(self, query: list[str], candidates: list[list[str]]) -> np.ndarray:
    """Scores under the lock; a result of the wrong shape raises (a 500)."""
    with self._score_lock:
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

  def begin_request(self) -> None:
    with self._stats_lock:
      self._in_flight += 1

  def end_request(self) -> None:
    with self._stats_lock:
      self._in_flight -= 1
      self._stats_lock.notify_all()

  def count(self, status: int) -> None:
    with self._stats_lock:
      self._status_counts[status] = self._status_counts.get(status, 0) + 1

  def health(self) -> dict[str, Any]:
    with self._stats_lock:
      counts = dict(self._status_counts)
    return {"status": "failing: " + self.unhealthy if self.unhealthy else "ok",
            "scorer": self.name,
            "requests": sum(counts.values()),
            "responses": {str(k): v for k, v in sorted(counts.items())},
            "limits": dataclasses.asdict(self.limits)}

  def serve_forever(self) -> None:
    """Serves until `shutdown()` (from another thread or a signal handler)."""
    self._serving = True
    self._httpd.serve_forever(poll_interval=0.2)

  def start(self) -> "RerankServer":
    """Serves on a background thread; returns self."""
    self._thread = threading.Thread(target=self.serve_forever, name="rerank-server",
                                    daemon=True)
    self._thread.start()
    return self

  def stop_accepting(self) -> None:
    """Stops the accept loop (safe from a signal handler's thread); `shutdown` does the rest."""
    self.draining = True
    if self._serving:
      self._httpd.shutdown()  # would wait forever if serve_forever never ran
      self._serving = False

  def shutdown(self, grace_s: float = 10.0) -> None:
    """Stops accepting, finishes requests in flight (up to `grace_s`), closes every connection.

    Kept-alive connections are closed at their next request boundary: those
    waiting for a request at once, the others after answering. Returns when
    every connection's thread has ended, so the process can exit cleanly.
    """
    self.stop_accepting()
    self._httpd.server_close()
    deadline = time.monotonic() + grace_s
    while self.threads and time.monotonic() < deadline:
      self.watchdog.expire(waiting_only=True)
      time.sleep(0.02)
    self.watchdog.expire(waiting_only=False)  # past the grace: close the rest too
    for thread in list(self.threads):
      thread.join(timeout=1.0)
    self.watchdog.stop()
    if self._thread is not None:
      self._thread.join()
      self._thread = None

  def __enter__(self) -> "RerankServer":
    return self

  def __exit__(self, *exc_info) -> None:
    self.shutdown()


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
                      repair_options=repair_options(config))


def repair_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """`diagnosis.diagnose` options of a serve (or lsp) config; missing fields keep its defaults."""
  options = {}
  for field in ("max_distance", "k", "window_tokens"):
    if field in config:
      options[field] = int(config[field])
  if "time_budget" in config:
    options["time_budget"] = float(config.time_budget) or None
  return options
