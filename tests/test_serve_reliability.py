"""The endpoint under slow clients, shutdown under load, hostile input and a failing scorer."""
import http.client
import json
import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import conftest

from repair_rank.ranking import registry
from repair_rank.serving import client as client_lib
from repair_rank.serving import protocol
from repair_rank.serving import server as server_lib

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMITS = protocol.Limits(max_body_bytes=16384, max_candidates=20, max_tokens_per_line=50,
                         request_timeout_s=1.0, idle_timeout_s=1.0)


def shortest_first(query, candidates):
  return -np.array([len(c) for c in candidates], dtype=np.float64)


@pytest.fixture(scope="module")
def server():
  with server_lib.RerankServer(shortest_first, limits=LIMITS, max_connections=4,
                               reserve_connections=2).start() as s:
    yield s


def get(server, method="GET", path="/healthz", body=None, headers=None):
  connection = http.client.HTTPConnection(*server.address, timeout=5)
  connection.request(method, path, body=body, headers=headers or {})
  response = connection.getresponse()
  data = response.read()
  connection.close()
  return response.status, response.headers, data



def test_slowloris_cannot_starve_healthz(server):
  """More trickling connections than slots: /healthz stays 200, the trickle is cut."""
  stop = threading.Event()
  closed_after = []

  def trickle():
    start = time.monotonic()
    try:
      with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        while not stop.is_set():
          sock.sendall(b"X")  # one header byte at a time, forever
          time.sleep(0.2)
    except OSError:
      closed_after.append(time.monotonic() - start)

  threads = [threading.Thread(target=trickle) for _ in range(6)]
  for thread in threads:
    thread.start()
  time.sleep(0.3)
  statuses = [get(server)[0] for _ in range(5)]
  stop.wait(2.5)
  stop.set()
  for thread in threads:
    thread.join()
  assert statuses == [200] * 5
  assert len(closed_after) == 6 and max(closed_after) < 3.0, closed_after  # 1 s deadline


def test_head_and_allow(server):
  status, headers, body = get(server, "HEAD")
  assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
  status, headers, _ = get(server, "PUT")
  assert status == 405 and headers["Allow"] == "GET, HEAD"
  status, headers, _ = get(server, "GET", "/rerank")
  assert status == 405 and headers["Allow"] == "POST"


@pytest.mark.parametrize("body, status", [
    (b'{"query": "n", "candidates": ' + b'[' * 3000, 400),       # nested 3000 deep
    (b'{"query": "n", "candidates": [' + b"1" * 4301 + b"]}", 400),  # a 4301-digit integer
    (b'{"query": "n", "candidates": [1, 2]}', 400),             # wrong element type
    (b'{"query": ["NAME", 3], "candidates": ["n"]}', 400),       # wrong token type
])
def test_hostile_json_is_4xx(server, body, status, caplog):
  got, _, message = get(server, "POST", "/rerank.json", body,
                        {"Content-Type": "application/json"})
  assert got == status, message
  assert "Traceback" not in caplog.text


@pytest.mark.parametrize("data, status", [
    (b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: x\r\n\r\n", "400"),
    (b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: -1\r\n\r\n", "400"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", "414"),
])
def test_bad_lengths(server, data, status):
  assert conftest.raw_request(server, data).startswith(f"HTTP/1.1 {status}")


@pytest.mark.parametrize("value", [b"+10", b" 10 ", b"1_0", b"10, 10", b"0x0a", b"10\r\nContent-Length: 9"])
def test_content_length_is_digits_only(server, value):
  """RFC 9110: Content-Length = 1*DIGIT; `int()` would read each of these as 10, and a proxy
  in front might not (issue 23, item 8)."""
  body = b"n\nn=1\nnn=\n"  # 10 bytes: a lenient server answers 200
  assert conftest.raw_request(server, b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\n"
                              b"Content-Length: " + value + b"\r\n\r\n" + body
                              ).startswith("HTTP/1.1 400")
  ok = conftest.raw_request(server, b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\n"
                            b"Connection: close\r\nContent-Length: 10\r\n\r\n" + body)
  assert ok.startswith("HTTP/1.1 200"), ok


def test_short_body_is_4xx(server):
  """A Content-Length longer than what is sent: 408 after the deadline, not a 5xx."""
  answer = conftest.raw_request(server, b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\n"
               b"Content-Length: 50\r\n\r\nn\nn\n")
  assert answer.startswith("HTTP/1.1 408"), answer


def test_empty_candidate_scored_alike_in_process_and_over_http(server):
  url = server.url
  fn = client_lib.HttpScoreFn(url)
  candidates = [["NAME"], [], ["NAME", "NAME"]]
  np.testing.assert_allclose(fn(["NAME"], candidates), shortest_first(["NAME"], candidates))
  fn.close()


def test_non_finite_scores_are_500_and_healthz_not_ok():
  nan_scorer = lambda query, candidates: np.full(len(candidates), np.nan)
  with server_lib.RerankServer(nan_scorer, limits=LIMITS).start() as s:
    status, _, body = get(s, "POST", "/rerank.json", b'{"query": "n", "candidates": ["n"]}',
                          {"Content-Type": "application/json"})
    assert status == 500 and b"non-finite" in body
    health = json.loads(get(s)[2])
    assert health["status"].startswith("failing")


def test_shutdown_closes_kept_alive_connections_at_a_request_boundary():
  slow = lambda query, candidates: (time.sleep(0.5), np.zeros(len(candidates)))[1]
  s = server_lib.RerankServer(slow, limits=protocol.Limits(idle_timeout_s=30,
                                                           request_timeout_s=30)).start()
  idle = [http.client.HTTPConnection(*s.address, timeout=5) for _ in range(3)]
  for connection in idle:
    connection.request("GET", "/healthz")
    connection.getresponse().read()  # now kept alive, idle
  results = []

  def in_flight():
    connection = http.client.HTTPConnection(*s.address, timeout=5)
    connection.request("POST", "/rerank", b"n\nn\n", {"Content-Type": "text/plain"})
    response = connection.getresponse()
    results.append((response.status, response.getheader("Connection")))

  thread = threading.Thread(target=in_flight)
  thread.start()
  time.sleep(0.2)
  start = time.monotonic()
  s.shutdown(grace_s=10)
  thread.join()
  assert time.monotonic() - start < 2.0  # not the grace: idle connections closed at once
  assert results == [(200, "close")]     # the request in flight was answered
  assert not s.threads


def test_sigterm_under_keep_alive_load_exits_0(tmp_path):
  process = subprocess.Popen(
      [sys.executable, "-m", "repair_rank.main", "--config", str(ROOT / "configs/serve.py"),
       "--workdir", str(tmp_path), "--config.port=0", "--config.scorer=markov_distance"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  stop = threading.Event()
  bad = []

  def client(url):
    fn = client_lib.HttpScoreFn(url, timeout_s=5)
    while not stop.is_set():
      try:
        fn(["NAME", "=", "("], [["NAME", "=", "NAME"], ["NAME"]])
      except (OSError, http.client.HTTPException):
        return  # closed at shutdown: fine
      except RuntimeError as e:  # an answer that is not 200
        if "answered 503" in str(e) and "shutting down" in str(e):
          return  # refused while draining, with Retry-After: the documented answer
        bad.append(str(e))
        return

  try:
    line = process.stdout.readline()
    url = line.split(" on ")[1].split()[0]
    client_lib.wait_until_healthy(url, timeout_s=20)
    threads = [threading.Thread(target=client, args=(url,)) for _ in range(4)]
    for thread in threads:
      thread.start()
    time.sleep(0.5)
    start = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0, process.stderr.read()[-2000:]
    assert time.monotonic() - start < 5
    stop.set()
    for thread in threads:
      thread.join()
    assert not bad, bad
  finally:
    stop.set()
    if process.poll() is None:
      process.kill()
      process.wait()


def test_a_request_past_its_total_deadline_still_gets_its_408():
  """Bytes trickle in faster than the per-read timeout, so only the total deadline
  (the watchdog) ends the request: the client is still told why (408), not just cut."""
  with server_lib.RerankServer(shortest_first, limits=LIMITS).start() as s:
    for head in (b"GET /healthz HTTP/1.1\r\n", b"POST /rerank HTTP/1.1\r\nContent-Type: "
                 b"text/plain\r\nContent-Length: 1000\r\n\r\nNAME\n"):
      with socket.create_connection(s.address, timeout=5) as sock:
        sock.sendall(head)
        answer = b""
        try:
          for _ in range(30):  # 3 s of one byte per 0.1 s, past the 1 s deadline
            sock.sendall(b"X")
            if select.select([sock], [], [], 0.1)[0]:  # read the answer as soon as it is in
              while chunk := sock.recv(4096):
                answer += chunk
              break
        except OSError:
          pass
      assert answer.startswith(b"HTTP/1.1 408"), (head, answer[:80])
