"""Load test: concurrent clients send a mix of good and bad requests; no 5xx allowed.

  python launch/benchmarks/load_test_serve.py                     # 8 clients x 1000 requests
  python launch/benchmarks/load_test_serve.py --scorer=model --clients=8 --requests=1000

Starts the endpoint as a subprocess (`configs/serve.py` on a free port, with the
limits below), then each client thread sends `--requests` requests over
keep-alive connections: about half good (`/rerank` text and `/rerank.json`,
1-300 candidates from the test split), the rest one of each class of bad
request (empty, non-UTF-8, unknown tokens, query only, over-long line, too many
candidates, oversized body, wrong or missing content type, bad JSON, wrong
method, unknown route, missing Content-Length, a stalled body). Checks every
answer's status (and every good answer's content), samples the server's RSS,
then stops it with SIGTERM. Exits non-zero on any 5xx, wrong status, transport
error or a stop that is not clean. Bounded by --max_seconds.
"""
import argparse
import collections
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

import numpy as np
import psutil

from repair_rank import paths
from repair_rank.serving import client as client_lib
from repair_rank import tokens
from repair_rank.data import stackoverflow

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Server limits for the test (small, so the bad classes are cheap to send).
LIMITS = {"max_body_bytes": 256 << 10, "max_candidates": 500, "max_tokens_per_line": 256,
          "request_timeout_s": 1.0}
STALL_SHARE = 0.01  # stalls each hold a client for request_timeout_s


def good_requests(n: int, seed: int) -> list[tuple[str, bytes, str, list[str]]]:
  """(path, body, content type, candidate lines) of n valid requests from the test split."""
  pairs = [p for p in stackoverflow.read_pairs(paths.split_path("test"))
           if 0 < p["length"] <= 200]
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    pair = pairs[int(rng.integers(len(pairs)))]
    query = pair["broken"].split()
    n_candidates = int(rng.choice([1, 10, 50, 300]))
    lines = []
    for _ in range(n_candidates):
      candidate = list(pair["fixed"].split()) or ["NAME"]
      position = int(rng.integers(len(candidate)))
      candidate[position] = tokens.ALL_TOKENS[int(rng.integers(len(tokens.ALL_TOKENS)))]
      lines.append(" ".join(candidate) if rng.random() < 0.5 else tokens.charify(candidate))
    if i % 2:
      body = json.dumps({"query": " ".join(query), "candidates": lines}).encode()
      out.append(("/rerank.json", body, "application/json", lines))
    else:
      body = ("\n".join([tokens.charify(query)] + lines) + "\n").encode()
      out.append(("/rerank", body, "text/plain", lines))
  return out


# name -> (method, path, body, content type or None, expected status)
BAD_REQUESTS = {
    "empty": ("POST", "/rerank", b"", "text/plain", 400),
    "not utf-8": ("POST", "/rerank", b"n=s\n\xff\xfe\xfa\n", "text/plain", 400),
    "unknown token": ("POST", "/rerank", b"NAME = foo\nNAME\n", "text/plain", 400),
    "query only": ("POST", "/rerank", b"NAME = ( STRING }\n", "text/plain", 400),
    "long line": ("POST", "/rerank", b"n\n" + b"n" * 300 + b"\n", "text/plain", 413),
    "too many candidates": ("POST", "/rerank", b"n\n" + b"n\n" * 501, "text/plain", 413),
    "oversized body": ("POST", "/rerank", b"n\n" + b"n\n" * (130 << 10), "text/plain", 413),
    "wrong content type": ("POST", "/rerank", b"n\nn\n", "application/x-www-form-urlencoded", 415),
    "missing content type": ("POST", "/rerank", b"n\nn\n", None, 415),
    "bad json": ("POST", "/rerank.json", b'{"query": "n", "candidates": [', "application/json", 400),
    "json bad token": ("POST", "/rerank.json", b'{"query": "n", "candidates": [["y"]]}',
                       "application/json", 400),
    "wrong method": ("GET", "/rerank", b"", None, 405),
    "unknown route": ("POST", "/score", b"n\nn\n", "text/plain", 404),
}
RAW_REQUESTS = {
    "missing content-length": (b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n", 411),
    "stalled body": (b"POST /rerank HTTP/1.1\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 1000\r\n\r\nn\nn", 408),
}


class Client:
  """One keep-alive connection that reconnects after the server closes it."""

  def __init__(self, address):
    self.address = address
    self.connection = None

  def send(self, method, path, body, content_type):
    # A kept-alive connection may have been closed by the server's idle timeout;
    # as any HTTP client does, retry such a request once on a fresh connection.
    for attempt in range(2):
      reused = self.connection is not None
      if self.connection is None:
        self.connection = http.client.HTTPConnection(*self.address, timeout=30)
      headers = {"Content-Type": content_type} if content_type else {}
      try:
        self.connection.request(method, path, body=body if method == "POST" else None,
                                headers=headers)
        response = self.connection.getresponse()
        data = response.read()
      except (http.client.RemoteDisconnected, ConnectionError):
        self.close()
        if reused and not attempt:
          continue
        raise
      except Exception:
        self.close()
        raise
      if response.getheader("Connection", "").lower() == "close":
        self.close()
      return response.status, data
    raise AssertionError("unreachable")

  def close(self):
    if self.connection is not None:
      self.connection.close()
      self.connection = None


def raw(address, data: bytes) -> int | str:
  with socket.create_connection(address, timeout=30) as sock:
    sock.sendall(data)
    answer = b""
    while chunk := sock.recv(4096):
      answer += chunk
  if not answer:
    return "closed without an answer"
  return int(answer.split(b" ", 2)[1])


def client_loop(index: int, args, address, goods, deadline, tally, lock):
  rng = np.random.default_rng(1000 + index)
  client = Client(address)
  bad_names, raw_names = list(BAD_REQUESTS), list(RAW_REQUESTS)
  for _ in range(args.requests):
    if time.monotonic() > deadline:
      break
    draw = rng.random()
    try:
      if draw < 0.5:
        path, body, content_type, lines = goods[int(rng.integers(len(goods)))]
        status, data = client.send("POST", path, body, content_type)
        kind, expected = "good", 200
        if status == 200:
          answer = (data.decode().splitlines() if path == "/rerank"
                    else [lines[i] for i in json.loads(data)["order"]])
          if sorted(answer) != sorted(lines):
            status = -1  # a wrong answer
      elif draw < 0.5 + STALL_SHARE:
        kind = "stalled body"
        data, expected = RAW_REQUESTS[kind]
        status = raw(address, data)
      elif draw < 0.5 + 3 * STALL_SHARE:
        kind = raw_names[0]
        data, expected = RAW_REQUESTS[kind]
        status = raw(address, data)
      else:
        kind = bad_names[int(rng.integers(len(bad_names)))]
        method, path, body, content_type, expected = BAD_REQUESTS[kind]
        status, _ = client.send(method, path, body, content_type)
    except Exception as e:  # pylint: disable=broad-except
      status, expected = f"transport error {type(e).__name__}", None
      if args.verbose:
        traceback.print_exc()
    with lock:
      tally[(kind, expected, status)] += 1
  client.close()


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--scorer", default="markov_distance", help='"model" or a baseline name')
  parser.add_argument("--model_path", default="")
  parser.add_argument("--clients", type=int, default=8)
  parser.add_argument("--requests", type=int, default=1000, help="per client")
  parser.add_argument("--max_seconds", type=float, default=600)
  parser.add_argument("--verbose", action="store_true", help="print transport errors")
  parser.add_argument("--max_rss_growth_mb", type=float, default=200)
  args = parser.parse_args()

  command = [sys.executable, "-m", "repair_rank.main", "--config", str(ROOT / "configs/serve.py"),
             "--workdir", "/tmp/load_test_serve", "--config.port=0",
             f"--config.scorer={args.scorer}", f"--config.model_path={args.model_path}",
             *[f"--config.{k}={v}" for k, v in LIMITS.items()]]
  server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")})
  ok = True
  try:
    line = server.stdout.readline()
    if not line.startswith("Serving"):
      raise SystemExit(f"server did not start: {line!r}")
    url = line.split(" on ")[1].split()[0]
    client_lib.wait_until_healthy(url)
    host, port = url.removeprefix("http://").split(":")
    address = (host, int(port))
    process = psutil.Process(server.pid)
    goods = good_requests(200, seed=0)
    rss_before = process.memory_info().rss
    peak = [rss_before]
    stop_sampling = threading.Event()

    def sample():
      while not stop_sampling.wait(0.2):
        peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tally, lock = collections.Counter(), threading.Lock()
    deadline = time.monotonic() + args.max_seconds
    start = time.perf_counter()
    threads = [threading.Thread(target=client_loop,
                                args=(i, args, address, goods, deadline, tally, lock))
               for i in range(args.clients)]
    for t in threads:
      t.start()
    for t in threads:
      t.join()
    seconds = time.perf_counter() - start
    stop_sampling.set()
    sampler.join()
    rss_after = process.memory_info().rss
    health = json.loads(client_lib.HttpScoreFn(url).request("GET", "/healthz")[1])
  finally:
    stop_start = time.perf_counter()
    server.send_signal(signal.SIGTERM)
    try:
      code = server.wait(timeout=30)
    except subprocess.TimeoutExpired:
      server.kill()
      code = "killed"
    stop_seconds = time.perf_counter() - stop_start

  total = sum(tally.values())
  print(f"{args.clients} clients, {total} requests in {seconds:.1f} s "
        f"({total / seconds:,.0f} requests/s), scorer {args.scorer}")
  print(f"\n{'kind':<24} {'expected':>8} {'got':>8} {'count':>7}")
  for (kind, expected, status), count in sorted(tally.items(), key=str):
    flag = "" if status == expected else "   <-- WRONG"
    print(f"{kind:<24} {expected!s:>8} {status!s:>8} {count:>7}{flag}")
  n_5xx = sum(c for (_, _, s), c in tally.items() if isinstance(s, int) and s >= 500)
  wrong = sum(c for (_, e, s), c in tally.items() if s != e)
  growth_mb = (rss_after - rss_before) / 2**20
  print(f"\n5xx: {n_5xx}; wrong status or transport errors: {wrong}")
  print(f"server RSS: before {rss_before / 2**20:.1f} MiB, after {rss_after / 2**20:.1f} MiB, "
        f"peak {peak[0] / 2**20:.1f} MiB (growth {growth_mb:+.1f} MiB)")
  print(f"server counted: {health['responses']}")
  print(f"SIGTERM: exit code {code} after {stop_seconds:.2f} s")
  ok = n_5xx == 0 and wrong == 0 and code == 0 and growth_mb < args.max_rss_growth_mb
  print("PASS" if ok else "FAIL")
  sys.exit(0 if ok else 1)


if __name__ == "__main__":
  main()
