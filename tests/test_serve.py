"""The endpoint: every route, every class of bad request, a scorer failure, SIGTERM."""
import http.client
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading

import ml_collections
import numpy as np
import pytest

import conftest

from repair_rank.ranking import confidence
from repair_rank.ranking import evaluate
from repair_rank.ranking import registry
from repair_rank.repair import ranked
from repair_rank.serving import client as client_lib
from repair_rank.serving import protocol
from repair_rank.serving import server as server_lib

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMITS = protocol.Limits(max_body_bytes=4096, max_candidates=20, max_tokens_per_line=50,
                         request_timeout_s=0.5)


def shortest_first(query, candidates):
  """A tiny deterministic ScoreFn: fewer tokens is better; fails on a `raise` query."""
  if query and query[0] == "raise":
    raise RuntimeError("scorer exploded")
  return -np.array([len(c) for c in candidates], dtype=np.float64)


@pytest.fixture(scope="module")
def server():
  with server_lib.RerankServer(shortest_first, limits=LIMITS, name="shortest").start() as s:
    yield s


def request(server, method, path, body=b"", content_type="text/plain", headers=None):
  connection = http.client.HTTPConnection(*server.address, timeout=5)
  all_headers = {"Content-Type": content_type} if content_type else {}
  all_headers.update(headers or {})
  connection.request(method, path, body=body if body or method == "POST" else None,
                     headers=all_headers)
  response = connection.getresponse()
  data = response.read()
  connection.close()
  return response.status, data.decode("utf-8")


def test_healthz(server):
  status, body = request(server, "GET", "/healthz", content_type=None)
  assert status == 200
  health = json.loads(body)
  assert health["status"] == "ok" and health["scorer"] == "shortest"


def test_rerank_text_answers_the_lines_as_sent_best_first(server):
  body = "NAME = ( STRING }\nNAME = ( STRING )\nn=s\nNAME\n"
  status, answer = request(server, "POST", "/rerank", body.encode())
  assert status == 200
  assert answer == "NAME\nn=s\nNAME = ( STRING )\n"


def test_rerank_text_ties_keep_input_order_and_crlf_is_fine(server):
  status, answer = request(server, "POST", "/rerank", b"n=(s}\r\nn=s\r\nn=1\r\n")
  assert status == 200 and answer == "n=s\nn=1\n"


def test_rerank_json(server):
  body = json.dumps({"query": "NAME = ( STRING }",
                     "candidates": ["NAME = ( STRING )", ["NAME", "=", "STRING"], "n"]})
  status, answer = request(server, "POST", "/rerank.json", body.encode(), "application/json")
  assert status == 200
  answer = json.loads(answer)
  assert answer["scores"] == [-5.0, -3.0, -1.0]
  assert answer["order"] == [2, 1, 0]
  # A scorer without a calibration reports no confidence (the fields are there, null).
  assert answer["confidence"] is None and answer["top_confidence"] is None


class CalibratedShortestFirst:
  """shortest_first with a calibration, as a bundled Scorer has."""
  calibration = confidence.Calibration(temperature=2.0, none_logit=-1.0)

  def score(self, query, candidates):
    return shortest_first(query, candidates)


def test_rerank_json_reports_the_calibrated_confidence_of_each_candidate():
  scorer = CalibratedShortestFirst()
  with server_lib.RerankServer(scorer, limits=LIMITS).start() as served:
    body = json.dumps({"query": "NAME = ( STRING }",
                       "candidates": ["NAME = ( STRING )", ["NAME", "=", "STRING"], "n"]})
    status, answer = request(served, "POST", "/rerank.json", body.encode(), "application/json")
    assert status == 200
    answer = json.loads(answer)
    expected = scorer.calibration.probabilities([-5.0, -3.0, -1.0])
    np.testing.assert_allclose(answer["confidence"], expected)
    assert answer["top_confidence"] == pytest.approx(expected[2])
    assert answer["scores"] == [-5.0, -3.0, -1.0] and answer["order"] == [2, 1, 0]
    # The client hands them on, so repairs ranked over HTTP carry them too.
    client = client_lib.HttpScoreFn(served.url)
    scores, confidences = client.score_with_confidence(["NAME", "("], [["NAME"], ["NAME", "("]])
    np.testing.assert_allclose(confidences, scorer.calibration.probabilities(scores))
    best = ranked.rank_repairs(["NAME", "=", "(", "NAME"], client, top_k=2, max_distance=1)
    assert best and all(r.confidence is not None for r in best)


def test_http_score_fn_matches_in_process(server):
  client = client_lib.HttpScoreFn(server.url)
  query, candidates = ["NAME", "="], [["NAME", "=", "NUMBER"], ["NAME"]]
  np.testing.assert_array_equal(client(query, candidates), shortest_first(query, candidates))
  assert client(query, []).shape == (0,)


@pytest.mark.parametrize("line, expected", [
    ("NAME = ( STRING )", ["NAME", "=", "(", "STRING", ")"]),
    ("n=(s)", ["NAME", "=", "(", "STRING", ")"]),
    ("NAME", ["NAME"]),
    ("==", ["=="]),
    ("n", ["NAME"]),
    ("  n\t", ["NAME"]),
    ("def\tNAME", ["def", "NAME"]),
])
def test_parse_line_detects_tokens_or_charified(line, expected):
  assert protocol.parse_line(line, LIMITS, "line") == expected


BAD_REQUESTS = {
    "empty body": ("POST", "/rerank", b"", "text/plain", 400),
    "blank body": ("POST", "/rerank", b"\n \n", "text/plain", 400),
    "not utf-8": ("POST", "/rerank", b"NAME\n\xff\xfe\n", "text/plain", 400),
    "unknown token": ("POST", "/rerank", b"NAME = foo\nNAME\n", "text/plain", 400),
    "unknown char": ("POST", "/rerank", "n=\u20ac\nn\n".encode(), "text/plain", 400),
    "query only": ("POST", "/rerank", b"NAME = ( STRING }\n", "text/plain", 400),
    "blank candidate": ("POST", "/rerank", b"n\n\nn\n", "text/plain", 400),
    "long line": ("POST", "/rerank", b"n\n" + b"n" * 51 + b"\n", "text/plain", 413),
    "long token line": ("POST", "/rerank", b"n\n" + b"NAME " * 51 + b"\n", "text/plain", 413),
    "too many candidates": ("POST", "/rerank", b"n\n" + b"n\n" * 21, "text/plain", 413),
    "oversized body": ("POST", "/rerank", b"n\n" + b"n" * 5000, "text/plain", 413),
    "wrong content type": ("POST", "/rerank", b"n\nn\n", "application/json", 415),
    "missing content type": ("POST", "/rerank", b"n\nn\n", None, 415),
    "bad charset": ("POST", "/rerank", b"n\nn\n", "text/plain; charset=latin-1", 415),
    "json syntax": ("POST", "/rerank.json", b"{", "application/json", 400),
    "json not an object": ("POST", "/rerank.json", b"[1]", "application/json", 400),
    "json candidates not a list": (
        "POST", "/rerank.json", b'{"query": "n", "candidates": "n"}', "application/json", 400),
    "json no candidates": (
        "POST", "/rerank.json", b'{"query": "n", "candidates": []}', "application/json", 400),
    "json bad token": (
        "POST", "/rerank.json", b'{"query": "n", "candidates": [["x"]]}', "application/json", 400),
    "json as text": ("POST", "/rerank.json", b"n\nn\n", "text/plain", 415),
    "get rerank": ("GET", "/rerank", b"", None, 405),
    "delete": ("DELETE", "/rerank", b"", None, 405),
    "unknown route": ("POST", "/nope", b"n\nn\n", "text/plain", 404),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gets_4xx_and_server_keeps_serving(server, name):
  method, path, body, content_type, expected = BAD_REQUESTS[name]
  status, message = request(server, method, path, body, content_type)
  assert status == expected, message
  assert message.strip()
  assert request(server, "POST", "/rerank", b"n\nn=1\n")[0] == 200


def test_missing_content_length_is_411(server):
  answer = conftest.raw_request(
      server, b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\r\n")
  assert answer.startswith("HTTP/1.1 411"), answer


def test_chunked_body_is_411(server):
  answer = conftest.raw_request(server, b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n3\r\nn\nn\r\n0\r\n\r\n")
  assert answer.startswith("HTTP/1.1 411"), answer


def test_stalled_body_is_408(server):
  answer = conftest.raw_request(server, b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: 100\r\n\r\nn\n")
  assert answer.startswith("HTTP/1.1 408"), answer


@pytest.mark.parametrize("data", [b"POST /rerank HTTP/1.1\r\nContent-Ty", b"POST /rer", b""])
def test_stalled_request_is_408(server, data):
  answer = conftest.raw_request(server, data)
  assert answer.startswith("HTTP/1.1 408"), answer
  assert request(server, "GET", "/healthz", content_type=None)[0] == 200


def test_idle_keep_alive_connection_closes_silently(server):
  # One request, then silence: after request_timeout_s the server closes the
  # connection without a stray 408 that a client would read as its next answer.
  answer = conftest.raw_request(server, b"GET /healthz HTTP/1.1\r\n\r\n")
  assert answer.startswith("HTTP/1.1 200") and answer.count("HTTP/1.1") == 1, answer


def test_scorer_failure_is_500_and_server_survives(server):
  status, message = request(server, "POST", "/rerank", b"raise\nn\n")
  assert status == 500 and "scorer exploded" in message
  status, message = request(server, "POST", "/rerank.json",
                            b'{"query": "raise", "candidates": ["n"]}', "application/json")
  assert status == 500 and "scorer exploded" in json.loads(message)["error"]
  assert request(server, "POST", "/rerank", b"n\nn=1\n")[0] == 200


def test_wrong_score_shape_is_500():
  with server_lib.RerankServer(lambda q, c: np.zeros(len(c) + 1), limits=LIMITS).start() as s:
    assert request(s, "POST", "/rerank", b"n\nn\n")[0] == 500


def test_concurrent_clients(server):
  statuses = []

  def client(i):
    score_fn = client_lib.HttpScoreFn(server.url)
    for j in range(15):
      candidates = [["NAME"] * (1 + (i + j + k) % 5) for k in range(10)]
      scores = score_fn(["NAME"], candidates)
      statuses.append(np.array_equal(scores, shortest_first(["NAME"], candidates)))

  threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert len(statuses) == 120 and all(statuses)


def test_warm_up_calls_warmup_method_or_scores_once():
  calls = []

  class WithWarmup:
    def warmup(self):
      calls.append("warmup")

    def score(self, query, candidates):
      calls.append("score")
      return np.zeros(len(candidates))

  server_lib.warm_up(WithWarmup())
  server_lib.warm_up(lambda q, c: calls.append("fn") or np.zeros(len(c)))
  assert calls == ["warmup", "fn"]
  assert evaluate.as_score_fn(WithWarmup()).__name__ == "score"


def test_model_scorer_failure_names_the_override():
  with pytest.raises(registry.ScorerUnavailableError, match="--config.scorer=markov_distance"):
    registry.load("model", model_path="/nonexistent/checkpoint")
  with pytest.raises(registry.ScorerUnavailableError, match="neither"):
    registry.load("no_such_scorer")


def test_sigterm_shuts_down_cleanly(tmp_path):
  process = subprocess.Popen(
      [sys.executable, "-m", "repair_rank.main", "--config", str(ROOT / "configs/serve.py"),
       "--workdir", str(tmp_path), "--config.port=0", "--config.scorer=random"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  try:
    line = process.stdout.readline()
    assert line.startswith("Serving random on http://127.0.0.1:"), (
        line + process.stderr.read() if process.poll() is not None else line)
    url = line.split(" on ")[1].split()[0]
    assert client_lib.wait_until_healthy(url, timeout_s=10)["status"] == "ok"
    assert client_lib.HttpScoreFn(url)(["NAME"], [["NAME"], ["NUMBER"]]).shape == (2,)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert "Server stopped." in process.stdout.read()
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()


def test_warm_up_covers_every_bucket_of_a_bucketed_scorer():
  shapes = set()

  class Bucketed:
    length_buckets, batch_buckets = (32, 64), (8, 32)

    def score(self, query, candidates):
      shapes.add((len(query) + len(candidates[0]) + 3 > 32, len(candidates)))
      return np.zeros(len(candidates))

  server_lib.warm_up(Bucketed())
  assert shapes == {(False, 8), (False, 32), (True, 8), (True, 32)}


def test_http_score_fn_sends_ambiguous_lines_as_token_lists(server):
  # charify(None and from elif) == "NAME", which a line would read as one token.
  tricky = ["None", "and", "from", "elif"]
  assert client_lib._compact(tricky) == tricky and client_lib._compact(["NAME", "="]) == "n="
  scores = client_lib.HttpScoreFn(server.url)(["NAME"], [tricky, ["NAME"]])
  np.testing.assert_array_equal(scores, [-4.0, -1.0])


def test_serves_the_model_with_scorer_options():
  """`config.scorer_options` reach the model through the registry (they used to fail to load)."""
  config = conftest.load_module("configs/serve.py").get_config()
  config.scorer = "model"
  config.warmup = False
  config.scorer_options = ml_collections.ConfigDict({"prefilter_k": 2})
  query = "NAME = NAME ( NAME".split()
  candidates = [c.split() for c in ("NAME = NAME ( NAME )", "NAME = NAME ( )", "NAME = NAME",
                                    "NAME = NAME ( NAME , )", "NAME = ( NAME )")]
  with server_lib.server_from_config(config, port=0).start() as server:
    scores, confidences = client_lib.HttpScoreFn(server.url).score_with_confidence(
        query, candidates)
  # prefilter_k 2 is not the bundle's 16: its calibration no longer applies.
  assert confidences is None
  config.scorer_options = ml_collections.ConfigDict()
  with server_lib.server_from_config(config, port=0).start() as server:
    bundled_scores, confidences = client_lib.HttpScoreFn(server.url).score_with_confidence(
        query, candidates)
  np.testing.assert_allclose(confidences, registry.get("model").calibration.probabilities(
      bundled_scores))
  in_process = registry.get("model", prefilter_k=2)
  assert in_process.prefilter_k == 2
  np.testing.assert_allclose(scores, in_process(query, candidates), rtol=1e-6)
  # A first stage of 2: the other three rank below both kept ones, a step of 1 apart.
  kept = np.sort(scores)[-2:]
  rest = np.sort(scores)[:-2]
  # The server computes the steps in float32, so the bound is checked in float32 too.
  assert np.float32(rest.max()) <= np.float32(kept.min()) - np.float32(1.0)
  # Steps of 1 below a float32 score are exact only up to its rounding (one ulp per step).
  np.testing.assert_allclose(np.diff(np.sort(rest)), [1.0, 1.0], rtol=1e-5)


def test_unknown_routes_list_every_route_and_the_favicon_is_empty(server):
  status, body = request(server, "GET", "/nope")
  assert status == 404
  for route in ("GET /", "GET /healthz", "POST /rerank", "POST /rerank.json", "POST /repair.json"):
    assert route in body, body
  status, body = request(server, "POST", "/nope", b"n\nn\n")
  assert status == 404 and "POST /repair.json" in body
  assert request(server, "GET", "/favicon.ico") == (204, "")
