"""HTTP/1.1 plumbing of the endpoint: connections, deadlines, slots, shutdown; no routes.

Standard library only (`ThreadingHTTPServer`). A connection's life:
* accepted, it is *parked*: it waits in one selector (`Parking`) with no thread
  and no slot until its first bytes arrive, and so does a kept-alive connection
  between requests. Idle connections, however many (up to `max_parked`, the
  oldest closed beyond it), never hold what real requests need (issue 23: 200
  idle connections used to take every slot).
* readable, it gets a thread and one of `max_connections` slots for one burst of
  requests; beyond them the connection slowest to send its request is cut (so
  slow clients cannot hold every slot) and a few reserve connections answer
  only /healthz (503 otherwise, with Retry-After).
* every read has a total deadline, whatever the pace of the bytes (`Watchdog`):
  a stalled request gets a 408.
* shutdown stops accepting, closes parked connections at once, answers what is
  in flight (up to a grace), then closes the rest.

`HttpService` owns the listening socket and the connections; `RequestHandler`
reads, answers and counts one request at a time and leaves the routes to a
subclass (`serving.server`).
"""
import collections
import http.server
import json
import re
import selectors
import socket
import threading
import time
from typing import Any, Callable, Optional
import urllib.parse

from absl import logging

from repair_rank.serving.protocol import Limits
from repair_rank.serving.protocol import RequestError

# Seconds a connection over the cap has to send its request (it may only ask /healthz).
RESERVE_TIMEOUT_S = 2.0
# RFC 9110 section 8.6: Content-Length = 1*DIGIT; `int()` would also take "+10", " 10 ", "1_0".
_CONTENT_LENGTH = re.compile(r"[0-9]+")


def content_length(values: list[str]) -> int:
  """The body length that the request's Content-Length header(s) give; 400 unless digits only
  (several headers must agree)."""
  if any(not _CONTENT_LENGTH.fullmatch(value) for value in values) or len(set(values)) > 1:
    shown = ", ".join(repr(v) for v in values)
    raise RequestError(400, f"bad Content-Length {shown}: digits only (RFC 9110)")
  return int(values[0])


class RequestHandler(http.server.BaseHTTPRequestHandler):
  """One burst of requests on one connection; a subclass answers them in `route(path)`.

  The owning `HttpService` is `self.app`. `reserve_paths` are what a connection
  over the cap may still ask (with GET or HEAD).
  """
  protocol_version = "HTTP/1.1"
  server_version = "repair_rank"
  json_routes: tuple[str, ...] = ()  # errors answered as {"error": message}
  reserve_paths: tuple[str, ...] = ("/healthz",)

  reserve = False  # a connection over the cap: answers reserve_paths only, then closes

  def setup(self):
    self.app: HttpService = self.server.app  # pytype: disable=attribute-error
    self.timeout = self.app.limits.request_timeout_s  # socket timeout of every read
    self._body_pending = 0  # declared body bytes not yet read
    self._answered = self.server.answered_before(self.request)  # on this connection
    self._answered_here = 0  # by this thread, since the parking handed the connection over
    self._writing = False  # the answer's first bytes are going out
    self.expired = False  # the watchdog closed the socket: a deadline passed
    self.waiting = False  # between requests: nothing of the next one parsed yet
    self.parked = False  # handed back to the parking: kept alive, nothing to read now
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
    if self._answered_here and not self._buffered():
      self.parked = self.close_connection = True  # idle now: wait in the parking, threadless
      return
    try:
      # Total deadlines, whatever the pace of the bytes: the request line, then
      # headers and body, each within the request timeout.
      timeout = min(limits.request_timeout_s, RESERVE_TIMEOUT_S) if self.reserve else (
          limits.request_timeout_s)
      self._set_deadline(timeout, waiting=True)
      self.raw_requestline = self.rfile.readline(65537)
      self._set_deadline(timeout)
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
      self._dispatch()
      self.wfile.flush()
      self._answered += 1
      self._answered_here += 1
    except OSError as e:  # a stall, a deadline the watchdog enforced, or a client gone
      self.close_connection = True
      stalled = isinstance(e, TimeoutError) or self.expired
      # A client that stalls gets a 408 (if the socket still takes one); a
      # connection closed at shutdown is closed silently.
      if stalled and not self.app.draining and not self._writing:
        self.app.count(408)
        self._try_send(408, "timed out waiting for the request (request_timeout_s)")

  def _buffered(self) -> bool:
    """Whether the next request's bytes are already here (pipelined), without waiting."""
    self.connection.setblocking(False)
    try:
      return bool(self.rfile.peek(1))
    except OSError:
      return False
    finally:
      self.connection.settimeout(self.timeout)

  def set_deadline(self, seconds: Optional[float]) -> None:
    """From now, the rest of the request must be in within `seconds` (None: no deadline)."""
    self._set_deadline(seconds)

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
      self.send_text(status, message.encode() + b"\n", "text/plain; charset=utf-8", close=True)
      self.wfile.flush()
    except OSError:
      pass

  def _dispatch(self) -> None:
    self._body_pending = 0
    self._writing = False
    path = urllib.parse.urlsplit(self.path).path
    self.app.begin_request()
    try:
      if self.reserve and not (path in self.reserve_paths and self.command in ("GET", "HEAD")):
        raise RequestError(503, "too many connections; only /healthz is answered now; "
                           "retry later", headers={"Retry-After": "1"})
      if self.command in ("GET", "HEAD"):
        self.set_deadline(None)  # nothing more to read
      self.route(path)
      self.app.count(200)
    except RequestError as e:
      self.app.count(e.status)
      self._drain()
      self._send_error(e.status, e.message, path, extra=e.headers)
    except Exception as e:  # pylint: disable=broad-except
      if isinstance(e, ConnectionError) and self._writing:
        # The client left (or shutdown's grace ran out) while its answer went out:
        # nothing to tell it, and no traceback to log.
        self.close_connection = True
        logging.info("%s: connection lost while answering %s %s (%s)", self.address_string(),
                     self.command, path, type(e).__name__)
        return
      # A scorer bug must not take the server down: answer 500 and go on.
      logging.exception("Error while answering %s %s", self.command, path)
      self.app.count(500)
      self._drain()
      self._send_error(500, f"scoring failed: {type(e).__name__}: {e}", path)
    finally:
      self.app.end_request()

  def route(self, path: str) -> None:
    """Answers one parsed request (`self.command`, `self.headers`); raises RequestError."""
    raise NotImplementedError

  def check_content_type(self, expected: str,
                         charsets: frozenset = frozenset(("utf-8", "utf8", "us-ascii", "ascii"))
                         ) -> None:
    header = self.headers.get("Content-Type")
    if header is None:
      raise RequestError(415, f"missing Content-Type; send {expected}")
    if self.headers.get_content_type() != expected:
      raise RequestError(415, f"Content-Type {header!r} is not {expected}")
    charset = self.headers.get_content_charset()
    if charset is not None and charset.lower() not in charsets:
      raise RequestError(415, f"charset {charset!r} is not supported; send utf-8")

  def body_length(self) -> int:
    """The declared body length, checked (digits only, within max_body_bytes) before any of
    the body is read."""
    limits = self.app.limits
    if self.headers.get("Transfer-Encoding"):
      raise RequestError(411, "chunked bodies are not supported; send Content-Length")
    values = self.headers.get_all("Content-Length")
    if not values:
      raise RequestError(411, "missing Content-Length")
    length = content_length(values)
    self._body_pending = length
    if length > limits.max_body_bytes:
      raise RequestError(413, f"body of {length} bytes is over the limit of "
                         f"{limits.max_body_bytes} (max_body_bytes)")
    return length

  def read_body(self) -> bytes:
    """The whole body (`body_length` bytes), within the request's deadline, else 408."""
    limits = self.app.limits
    length = self.body_length()
    chunks = []
    deadline = time.monotonic() + limits.request_timeout_s
    timed_out = (f"timed out after {limits.request_timeout_s:g} s with {{}} of {length} body "
                 "bytes received (request_timeout_s)")
    while self._body_pending:
      try:
        if time.monotonic() > deadline:
          raise TimeoutError
        chunk = self.rfile.read1(min(self._body_pending, 1 << 16))
      except TimeoutError:
        self._body_pending = 0  # a stalled client: do not wait for the rest
        raise RequestError(408, timed_out.format(sum(map(len, chunks)))) from None
      if not chunk:
        self._body_pending = 0
        if self.expired:  # the watchdog shut the read side: the total deadline passed
          raise RequestError(408, timed_out.format(sum(map(len, chunks))))
        raise RequestError(400, "connection closed before the body was complete")
      chunks.append(chunk)
      self._body_pending -= len(chunk)
    self.set_deadline(None)  # read in time; what follows is the server's own time
    return b"".join(chunks)

  def _drain(self) -> None:
    # Read (a bounded amount of) an unread body before answering, so closing the
    # socket does not reset the connection before the client reads the answer.
    if not 0 < self._body_pending <= 4 * self.app.limits.max_body_bytes:
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
    if path in self.json_routes:
      body, content_type = json.dumps({"error": message}).encode(), "application/json"
    else:
      body, content_type = message.encode() + b"\n", "text/plain; charset=utf-8"
    self.send_text(status, body, content_type, close=True, extra=extra)

  def send_json(self, status: int, data: Any) -> None:
    self.send_text(status, json.dumps(data).encode(), "application/json")

  def send_text(self, status: int, body: bytes, content_type: str, *, close: bool = False,
                extra: Optional[dict[str, str]] = None) -> None:
    """Sends one whole answer (headers and `body`)."""
    self._writing = True
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

  def method_not_allowed(self, allowed: str) -> None:
    raise RequestError(405, f"method {self.command} not allowed here; use {allowed}",
                       headers={"Allow": allowed})

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    if self.app.access_log:
      logging.info("%s %s", self.address_string(), format % args)

  def log_error(self, format, *args):  # pylint: disable=redefined-builtin
    logging.debug("%s %s", self.address_string(), format % args)


class Watchdog:
  """Enforces the connections' deadlines: past one, the socket is shut
  (`RequestHandler.expire`)."""

  def __init__(self, period_s: float = 0.1):
    self._deadlines: dict[RequestHandler, Optional[float]] = {}
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, args=(period_s,), name="rerank-watchdog",
                                    daemon=True)
    self._thread.start()

  def add(self, handler: RequestHandler) -> None:
    with self._lock:
      self._deadlines[handler] = None

  def set(self, handler: RequestHandler, deadline: Optional[float]) -> None:
    with self._lock:
      if handler in self._deadlines:
        self._deadlines[handler] = deadline

  def remove(self, handler: RequestHandler) -> None:
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


_Parked = collections.namedtuple("_Parked", "sock address answered deadline")


class Parking:
  """Connections with nothing to read (new, or kept alive between requests) wait here in one
  selector: no thread, no slot. A readable one goes to `dispatch`; one past its deadline
  is closed (a new one with a 408, a kept-alive one silently); beyond `limit` the oldest
  is closed. Sockets are registered on the parking's own thread only."""

  def __init__(self, dispatch: Callable[[Any, Any, int], None], limits: Limits, limit: int):
    self._dispatch = dispatch
    self._limits = limits
    self._limit = limit
    self._parked: dict[int, _Parked] = {}  # by fd, oldest first
    self._incoming: collections.deque = collections.deque()
    self._selector = selectors.DefaultSelector()
    self._wake_read, self._wake_write = socket.socketpair()
    self._wake_read.setblocking(False)
    self._selector.register(self._wake_read, selectors.EVENT_READ)
    self._closing = False
    self._thread = threading.Thread(target=self._run, name="rerank-parking", daemon=True)
    self._thread.start()

  def park(self, sock, address, answered: int) -> None:
    """Waits for `sock`'s next request (its first, if `answered` is 0)."""
    # A kept-alive connection: as before parking, idle at most the request timeout too.
    timeout = self._limits.request_timeout_s
    if answered:
      timeout = min(self._limits.idle_timeout_s, timeout)
    if self._closing:
      _close(sock)
      return
    self._incoming.append(_Parked(sock, address, answered, time.monotonic() + timeout))
    self._wake()

  def __len__(self) -> int:
    return len(self._parked) + len(self._incoming)

  def _wake(self) -> None:
    try:
      self._wake_write.send(b"x")
    except OSError:
      pass  # the wake-up byte buffer is full: a wake-up is pending anyway

  def _run(self) -> None:
    while True:
      now = time.monotonic()
      next_deadline = min((p.deadline for p in self._parked.values()), default=now + 1.0)
      events = self._selector.select(max(0.0, min(next_deadline - now, 1.0)))
      ready = []
      for key, _ in events:
        if key.fileobj is self._wake_read:
          try:
            while self._wake_read.recv(4096):
              pass
          except OSError:
            pass
        else:
          ready.append(self._unpark(key.fd))
      while self._incoming:
        parked = self._incoming.popleft()
        if self._closing:
          _close(parked.sock)
          continue
        self._selector.register(parked.sock, selectors.EVENT_READ)
        self._parked[parked.sock.fileno()] = parked
      if self._closing:
        for fd in list(self._parked):
          _close(self._unpark(fd).sock)
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
        return
      while len(self._parked) > self._limit:  # too many idle: the oldest goes
        _close(self._unpark(next(iter(self._parked))).sock)
      now = time.monotonic()
      for fd in [fd for fd, p in self._parked.items() if p.deadline < now]:
        self._expire(self._unpark(fd))
      for parked in ready:
        try:
          self._dispatch(parked.sock, parked.address, parked.answered)
        except Exception:  # pylint: disable=broad-except
          logging.exception("Could not hand a connection to a thread")
          _close(parked.sock)

  def _unpark(self, fd: int) -> _Parked:
    parked = self._parked.pop(fd)
    self._selector.unregister(parked.sock)
    return parked

  def _expire(self, parked: _Parked) -> None:
    if not parked.answered:  # a client that connected and never asked: tell it why
      try:
        parked.sock.setblocking(False)
        message = b"timed out waiting for the request (request_timeout_s)\n"
        parked.sock.send(b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
                         b"Connection: close\r\nContent-Length: " + str(len(message)).encode()
                         + b"\r\n\r\n" + message)
      except OSError:
        pass
    _close(parked.sock)

  def close(self) -> None:
    """Closes every parked connection and stops; later `park` calls close theirs."""
    self._closing = True
    self._wake()
    self._thread.join()


def _close(sock) -> None:
  try:
    sock.shutdown(socket.SHUT_RDWR)
  except OSError:
    pass
  sock.close()


class ThreadingServer(http.server.ThreadingHTTPServer):
  """Accepts connections into the parking; a readable one gets a thread and a slot."""
  daemon_threads = True
  allow_reuse_address = True
  request_queue_size = 128  # listen backlog; the default 5 drops bursts of connections

  def __init__(self, address, app: "HttpService", handler_class: type[RequestHandler]):
    self.app = app
    self._answered: dict[Any, int] = {}
    self._answered_lock = threading.Lock()
    self.reserve_class = type("Reserve" + handler_class.__name__, (handler_class,),
                              {"reserve": True})
    super().__init__(address, handler_class)

  def answered_before(self, request) -> int:
    with self._answered_lock:
      return self._answered.pop(request, 0)

  def process_request(self, request, client_address):
    self.app.parking.park(request, client_address, 0)

  def dispatch(self, request, client_address, answered: int) -> None:
    """Called by the parking when `request` has bytes to read: a thread and a slot for it."""
    app = self.app
    with self._answered_lock:
      self._answered[request] = answered
    if app.connection_slots.acquire(blocking=False):
      start = (self.RequestHandlerClass, app.connection_slots, False)
    elif app.reserve_slots.acquire(blocking=False):
      # Full: the connection slowest to send its request makes room (slow clients
      # cannot hold every slot); this one waits a moment for that slot, else may
      # ask /healthz meanwhile.
      app.watchdog.evict_slowest(reserve=False)
      start = (self.reserve_class, app.reserve_slots, True)
    else:
      app.watchdog.evict_slowest(reserve=True)
      self.answered_before(request)
      message = b"too many connections; retry later\n"
      try:
        request.setblocking(False)
        request.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                     b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
                     + str(len(message)).encode() + b"\r\n\r\n" + message)
      except OSError:
        pass
      self.shutdown_request(request)
      return
    thread = threading.Thread(target=self._serve, args=(request, client_address) + start,
                              daemon=True)
    app.threads.add(thread)
    thread.start()

  def _serve(self, request, client_address, handler_class, slots, may_upgrade) -> None:
    if may_upgrade and self.app.connection_slots.acquire(timeout=RESERVE_TIMEOUT_S / 4):
      slots.release()  # got a full slot after all (the evicted connection's)
      handler_class, slots = self.RequestHandlerClass, self.app.connection_slots
    handler = None
    try:
      handler = handler_class(request, client_address, self)
    except Exception:  # pylint: disable=broad-except
      self.handle_error(request, client_address)
    finally:
      slots.release()
      self.app.threads.discard(threading.current_thread())
      if handler is not None and handler.parked and not self.app.draining:
        self.app.parking.park(request, client_address, handler._answered)  # pylint: disable=protected-access
      else:
        self.shutdown_request(request)

  def handle_error(self, request, client_address):
    logging.debug("Connection from %s ended by an error", client_address, exc_info=True)


class HttpService:
  """A listening socket, its connections and request counters; `handler_class` answers.

  `with Service(...).start() as s: s.url`; `shutdown()` stops it cleanly.
  """

  def __init__(self, handler_class: type[RequestHandler], *, host: str, port: int,
               limits: Limits, access_log: bool, max_connections: int,
               reserve_connections: int, max_parked: int = 1024):
    self.limits = limits
    self.access_log = access_log
    self.connection_slots = threading.BoundedSemaphore(max_connections)
    self.reserve_slots = threading.BoundedSemaphore(reserve_connections)
    self.threads: set[threading.Thread] = set()  # one per connection with a request in
    self.draining = False  # shutting down: answer what is in flight, then close
    self.watchdog = Watchdog()
    self._stats_lock = threading.Condition()
    self._status_counts: dict[int, int] = {}
    self._in_flight = 0
    self._serving = False
    self._thread: Optional[threading.Thread] = None
    self._httpd = ThreadingServer((host, port), self, handler_class)
    self.parking = Parking(self._httpd.dispatch, limits, max_parked)

  @property
  def address(self) -> tuple[str, int]:
    host, port = self._httpd.server_address[:2]
    return host, port

  @property
  def url(self) -> str:
    host, port = self.address
    return f"http://{host}:{port}"

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

  def status_counts(self) -> dict[int, int]:
    with self._stats_lock:
      return dict(self._status_counts)

  def serve_forever(self) -> None:
    """Serves until `shutdown()` (from another thread or a signal handler)."""
    self._serving = True
    self._httpd.serve_forever(poll_interval=0.2)

  def start(self) -> "HttpService":
    """Serves on a background thread; returns self."""
    self._thread = threading.Thread(target=self.serve_forever, name="rerank-server",
                                    daemon=True)
    self._thread.start()
    return self

  def stop_accepting(self) -> None:
    """Stops the accept loop (safe from a signal handler's thread); `shutdown` does the rest."""
    self.draining = True
    self.on_drain()
    if self._serving:
      self._httpd.shutdown()  # would wait forever if serve_forever never ran
      self._serving = False

  def on_drain(self) -> None:
    """Called once shutdown begins: a subclass answers what is waiting (not yet running)."""

  def shutdown(self, grace_s: float = 10.0) -> None:
    """Stops accepting, finishes requests in flight (up to `grace_s`), closes every connection.

    Parked (idle) connections are closed at once, the others after their
    answer. Returns when every connection's thread has ended, so the process
    can exit cleanly.
    """
    self.stop_accepting()
    self._httpd.server_close()
    self.parking.close()
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

  def __enter__(self) -> "HttpService":
    return self

  def __exit__(self, *exc_info) -> None:
    self.shutdown()
