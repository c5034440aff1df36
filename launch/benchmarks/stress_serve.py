"""Stress the endpoint as a hostile or unlucky world would (issues 13, 23): four phases.

  python launch/benchmarks/stress_serve.py                       # all three phases
  python launch/benchmarks/stress_serve.py --phase=slowloris --slowloris_seconds=60
  python launch/benchmarks/stress_serve.py --phase=sigterm --sigterm_runs=20
  python launch/benchmarks/stress_serve.py --phase=soak --scorer=model
  python launch/benchmarks/stress_serve.py --phase=repair --scorer=model

slowloris  `--attackers` (64) connections each send one header byte every
           `--trickle_s` (5 s) and reconnect as soon as the server cuts them,
           for `--slowloris_seconds`, while GET /healthz and one small POST
           /rerank.json are polled on fresh connections. Pass: every /healthz is 200.
sigterm    `--sigterm_runs` (20) times: start a server, let `--keep_alive_clients`
           (8) keep-alive clients loop on /rerank.json, send SIGTERM mid-load.
           Pass: every exit code is 0 within `--exit_within_s`, no answer other than
           200 (a request the server had not started may meet a closed connection).
soak       launch/benchmarks/load_test_serve.py with `--soak_clients` (16) clients x
           `--soak_requests` (200) requests, half of them bad input of every
           class. Pass: no 5xx, no wrong answer, RSS growth under its bound.
repair     `--repair_rounds` (2) times, `--repair_clients` (4) clients at once each POST
           /repair.json with a ~250 KB broken source (a different slip each). The
           probe's 500s (issue 23, item 1: CPython's parser run from several handler
           threads). Pass: every answer is 200.

Each phase starts the endpoint (`configs/serve.py`, `--scorer`, default
markov_distance) as a subprocess on a free port and prints its figures; the
exit status is non-zero if any phase fails.
"""
import argparse
import ast
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

from repair_rank.serving import client as client_lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUERY, CANDIDATES = "NAME = ( NAME", ["NAME = ( NAME )", "NAME = NAME"]


def start_server(args, workdir: str, **overrides) -> tuple[subprocess.Popen, str]:
  """A serve job on a free port; (process, url) once /healthz answers."""
  command = [sys.executable, "-m", "repair_rank.main", "--config", str(ROOT / "configs/serve.py"),
             "--workdir", workdir, "--config.port=0", f"--config.scorer={args.scorer}",
             f"--config.model_path={args.model_path}",
             *[f"--config.{k}={v}" for k, v in overrides.items()]]
  process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ,
                                             "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS",
                                                                             "cpu")})
  line = process.stdout.readline()
  if not line.startswith("Serving"):
    process.kill()
    raise SystemExit(f"server did not start: {line!r} {process.stderr.read()[-2000:]}")
  url = line.split(" on ")[1].split()[0]
  client_lib.wait_until_healthy(url)
  # Drain stderr so a chatty server never blocks on a full pipe.
  threading.Thread(target=process.stderr.read, daemon=True).start()
  return process, url


def stop_server(process: subprocess.Popen, timeout_s: float = 30) -> tuple[object, float]:
  start = time.perf_counter()
  process.send_signal(signal.SIGTERM)
  try:
    code = process.wait(timeout=timeout_s)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
    code = "killed"
  return code, time.perf_counter() - start


def one_request(address, method: str, path: str, body: bytes = b"", timeout_s: float = 10
                ) -> tuple[object, float]:
  """(status or error name, seconds) of one request on a fresh connection."""
  start = time.perf_counter()
  try:
    connection = http.client.HTTPConnection(*address, timeout=timeout_s)
    headers = {"Content-Type": "application/json"} if body else {}
    connection.request(method, path, body=body or None, headers=headers)
    status = connection.getresponse().status
    connection.close()
  except (OSError, http.client.HTTPException) as e:
    status = type(e).__name__
  return status, time.perf_counter() - start


def slowloris(args) -> bool:
  process, url = start_server(args, "/tmp/stress_serve_slowloris")
  host, port = url.removeprefix("http://").split(":")
  address = (host, int(port))
  stop = threading.Event()
  counts = {"connections": 0, "cut": 0, "refused": 0}
  lifetimes, lock = [], threading.Lock()

  def attacker():
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
    while not stop.is_set():
      try:
        sock = socket.create_connection(address, timeout=args.trickle_s + 5)
      except OSError:
        with lock:
          counts["refused"] += 1
        stop.wait(0.5)
        continue
      opened = time.monotonic()
      with lock:
        counts["connections"] += 1
      try:
        for i in range(len(request)):
          sock.sendall(request[i:i + 1])
          if stop.wait(args.trickle_s):
            break
          # A server that cut us shows as readable (EOF or a 408/503) on a zero-wait poll.
          sock.settimeout(0.001)
          try:
            sock.recv(4096)
            break  # data (an error status) or EOF: cut
          except (BlockingIOError, socket.timeout):
            pass
          finally:
            sock.settimeout(args.trickle_s + 5)
      except OSError:
        pass
      finally:
        sock.close()
      if not stop.is_set():
        with lock:
          counts["cut"] += 1
          lifetimes.append(time.monotonic() - opened)

  attackers = [threading.Thread(target=attacker, daemon=True) for _ in range(args.attackers)]
  for thread in attackers:
    thread.start()
  time.sleep(min(3.0, args.slowloris_seconds / 4))  # let them take every slot
  health, rerank = [], []
  body = json.dumps({"query": QUERY, "candidates": CANDIDATES}).encode()
  deadline = time.monotonic() + args.slowloris_seconds
  while time.monotonic() < deadline:
    health.append(one_request(address, "GET", "/healthz"))
    rerank.append(one_request(address, "POST", "/rerank.json", body))
    time.sleep(args.poll_s)
  stop.set()
  for thread in attackers:
    thread.join(timeout=args.trickle_s + 10)
  code, stop_seconds = stop_server(process)

  def summary(results):
    statuses = {}
    for status, _ in results:
      statuses[status] = statuses.get(status, 0) + 1
    latencies = sorted(seconds for _, seconds in results)
    return (f"{statuses} median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms")

  print(f"slowloris: {args.attackers} attackers, 1 byte / {args.trickle_s:g} s, reconnecting, "
        f"for {args.slowloris_seconds:g} s; scorer {args.scorer}")
  print(f"  attacker connections opened {counts['connections']}, cut by the server "
        f"{counts['cut']}, refused {counts['refused']}; longest held "
        f"{max(lifetimes, default=0):.1f} s")
  print(f"  GET /healthz:        {summary(health)}")
  print(f"  POST /rerank.json:   {summary(rerank)}")
  print(f"  SIGTERM after: exit {code} in {stop_seconds:.2f} s")
  ok = all(status == 200 for status, _ in health) and code == 0
  print("  PASS" if ok else "  FAIL")
  return ok


def sigterm(args) -> bool:
  body = json.dumps({"query": QUERY, "candidates": CANDIDATES}).encode()
  runs = []
  for run in range(args.sigterm_runs):
    process, url = start_server(args, "/tmp/stress_serve_sigterm")
    host, port = url.removeprefix("http://").split(":")
    tally, lock, stop = {}, threading.Lock(), threading.Event()

    def count(key):
      with lock:
        tally[key] = tally.get(key, 0) + 1

    def client():
      connection = None
      while not stop.is_set():
        reused = connection is not None
        try:
          if connection is None:
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
          connection.request("POST", "/rerank.json", body=body,
                             headers={"Content-Type": "application/json"})
          response = connection.getresponse()
          response.read()
          count(response.status)
          if response.getheader("Connection", "").lower() == "close":
            count("answered with Connection: close")
            connection.close()
            connection = None
        except ConnectionRefusedError:
          count("refused (no longer accepting)")
          return
        except (OSError, http.client.HTTPException) as e:
          count(f"{'kept-alive' if reused else 'new'} connection closed unanswered "
                f"({type(e).__name__})")
          if connection is not None:
            connection.close()
          connection = None
          if not reused:
            return

    threads = [threading.Thread(target=client) for _ in range(args.keep_alive_clients)]
    for thread in threads:
      thread.start()
    time.sleep(args.load_s)
    code, seconds = stop_server(process, timeout_s=args.exit_within_s + 20)
    stop.set()
    for thread in threads:
      thread.join()
    runs.append((code, seconds, tally))
    print(f"  run {run + 1:2d}: exit {code} in {seconds:.2f} s; {tally}", flush=True)
  codes = [code for code, _, _ in runs]
  slowest = max(seconds for _, seconds, _ in runs)
  non_200 = sum(n for _, _, tally in runs for key, n in tally.items()
                if isinstance(key, int) and key != 200)
  print(f"sigterm: {len(runs)} runs x {args.keep_alive_clients} keep-alive clients, SIGTERM after "
        f"{args.load_s:g} s of load; scorer {args.scorer}")
  print(f"  exit codes {sorted(set(map(str, codes)))} ({codes.count(0)}/{len(runs)} zero); "
        f"slowest exit {slowest:.2f} s; answers other than 200: {non_200}")
  ok = all(code == 0 for code in codes) and slowest < args.exit_within_s and non_200 == 0
  print("  PASS" if ok else "  FAIL")
  return ok


def soak(args) -> bool:
  command = [sys.executable, str(ROOT / "launch/benchmarks/load_test_serve.py"),
             f"--scorer={args.scorer}",
             f"--model_path={args.model_path}", f"--clients={args.soak_clients}",
             f"--requests={args.soak_requests}"]
  print(f"soak: {' '.join(command[1:])}", flush=True)
  return subprocess.run(command, cwd=ROOT, check=False).returncode == 0


def _broken_source(seed: int, size: int = 250_000) -> str:
  """~`size` bytes of the repair package's own code, one `)` dropped (a different one per seed)."""
  unit = (ROOT / "repair_rank/repair/command.py").read_text(encoding="utf-8")
  unit = unit[unit.index("\nimport ") + 1:]  # a cut docstring would be one unterminated STRING
  source = (unit * (size // len(unit) + 1))[:size]
  lines = source[:source.rfind("\n") + 1].split("\n")
  targets = [i for i, line in enumerate(lines) if line.rstrip().endswith(")")]
  for k in range(seed * 7919, seed * 7919 + len(targets)):  # a slip that breaks the file
    i = targets[k % len(targets)]
    broken = "\n".join(lines[:i] + [lines[i].rstrip()[:-1]] + lines[i + 1:])
    try:
      ast.parse(broken)
    except SyntaxError:
      return broken
  raise ValueError("no slip breaks the file")


def repair(args) -> bool:
  process, url = start_server(args, f"/tmp/stress_repair_{os.getpid()}")
  address = (url.split("//")[1].split(":")[0], int(url.rsplit(":", 1)[1]))
  answers = []
  try:
    for round_ in range(args.repair_rounds):
      bodies = [json.dumps({"source": _broken_source(round_ * args.repair_clients + c),
                            "top_k": 3}).encode() for c in range(args.repair_clients)]
      threads = [threading.Thread(target=lambda b=b: answers.append(
          one_request(address, "POST", "/repair.json", b, timeout_s=args.repair_timeout_s)))
                 for b in bodies]
      for thread in threads:
        thread.start()
      for thread in threads:
        thread.join()
  finally:
    stop_server(process)
  statuses = [status for status, _ in answers]
  seconds = sorted(s for _, s in answers)
  print(f"repair: {len(answers)} requests of ~{len(bodies[0]) // 1000} KB, "
        f"{args.repair_clients} at once: statuses {dict((x, statuses.count(x)) for x in set(statuses))}, "
        f"seconds min {seconds[0]:.1f} median {seconds[len(seconds) // 2]:.1f} max {seconds[-1]:.1f}",
        flush=True)
  return all(status == 200 for status in statuses)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--phase", default="all",
                      choices=["all", "slowloris", "sigterm", "soak", "repair"])
  parser.add_argument("--scorer", default="markov_distance", help='"model" or a baseline name')
  parser.add_argument("--model_path", default="")
  parser.add_argument("--attackers", type=int, default=64)
  parser.add_argument("--trickle_s", type=float, default=5.0)
  parser.add_argument("--slowloris_seconds", type=float, default=60.0)
  parser.add_argument("--poll_s", type=float, default=0.5)
  parser.add_argument("--sigterm_runs", type=int, default=20)
  parser.add_argument("--keep_alive_clients", type=int, default=8)
  parser.add_argument("--load_s", type=float, default=1.0)
  parser.add_argument("--exit_within_s", type=float, default=5.0)
  parser.add_argument("--soak_clients", type=int, default=16)
  parser.add_argument("--soak_requests", type=int, default=200)
  parser.add_argument("--repair_clients", type=int, default=4)
  parser.add_argument("--repair_rounds", type=int, default=2)
  parser.add_argument("--repair_timeout_s", type=float, default=300.0)
  args = parser.parse_args()
  phases = {"slowloris": slowloris, "sigterm": sigterm, "soak": soak, "repair": repair}
  chosen = list(phases) if args.phase == "all" else [args.phase]
  results = {name: phases[name](args) for name in chosen}
  print("\n" + ", ".join(f"{name} {'PASS' if ok else 'FAIL'}" for name, ok in results.items()))
  sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
  main()
