"""Whole real files with one slip each: repair_rank through POST /repair.json beside the
70-line rule script (issue 20).

  .venv/bin/python launch/benchmarks/benchmark_real_files.py --out /tmp/real_files.json
  .venv/bin/python launch/benchmarks/benchmark_real_files.py --per_kind 5 --rows rules  # quick

The files are third-party library code this project never trained on (not the
standard library, which the training experiments corrupt): the packages in
PACKAGES of the running interpreter's site-packages, files of 40-1,500 lines
that compile, sorted by path. For each kind of `repair_rank.data.file_slips`
(a closing or opening bracket dropped, a block colon dropped, a comma dropped,
a stray ')', two slips on one line, an indentation slip) `--per_kind` files
are drawn with seed `--seed` and broken once each. A repair is right when the
repaired file's AST equals the original's.

Rows: repair_rank as a user meets it, the whole file POSTed to /repair.json
(top_k 5) of a server built from configs/serve.py in this process; and the
rule script (launch/benchmarks/rule_repair_baseline.py). Columns: top-1, top-5, the share
of files it answers at confidence >= 0.5 and how often it is right then, the
share whose top repair edits a line outside the statement the slip is in
("far"), and the median seconds per file.
"""
import argparse
import ast
import difflib
import importlib.util
import json
import pathlib
import random
import statistics
import sys
import sysconfig
import time
import urllib.error
import urllib.request

from repair_rank.data import file_slips

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "launch" / "benchmarks"))
import rule_repair_baseline  # pylint: disable=wrong-import-position

# Third-party packages of the venv whose files are broken (never training data).
PACKAGES = ("absl", "flax", "optax", "orbax", "ml_collections", "rapidfuzz", "tqdm", "etils",
            "einops", "humanize", "attr", "dateutil", "fasteners", "docstring_parser")
MIN_LINES, MAX_LINES = 40, 1500


def library_files(site_packages: pathlib.Path) -> list[pathlib.Path]:
  """The benchmark's pool: files of PACKAGES with 40-1,500 lines that compile, by path."""
  out = []
  for package in PACKAGES:
    for path in sorted((site_packages / package).rglob("*.py")):
      try:
        text = path.read_text(encoding="utf-8")
      except (UnicodeDecodeError, OSError):
        continue
      if MIN_LINES <= text.count("\n") <= MAX_LINES and file_slips.compiles(text):
        out.append(path)
  return out


def broken_files(files, kinds, per_kind: int, seed: int):
  """(kind, path, Slip) for `per_kind` distinct files per kind, seeded."""
  out = []
  for kind in kinds:
    rng = random.Random(f"{seed}-{kind}")
    order = list(files)
    rng.shuffle(order)
    taken = 0
    for path in order:
      if taken == per_kind:
        break
      slip = file_slips.put_slip(path.read_text(encoding="utf-8"), kind, rng)
      if slip is not None:
        out.append((kind, path, slip))
        taken += 1
  return out


def slip_statement(original: str, line: int) -> tuple[int, int]:
  """0-based [first, last] lines of the innermost statement holding `line` (its header
  only, for a compound statement): where a repair of the slip may edit."""
  best = (line, line)
  for node in ast.walk(ast.parse(original)):
    if isinstance(node, ast.stmt) and node.lineno - 1 <= line <= node.end_lineno - 1:
      last = node.end_lineno - 1
      body = getattr(node, "body", None)
      if body:
        last = body[0].lineno - 2
        if line > last:
          continue  # inside the body: a deeper statement holds it
      if last - (node.lineno - 1) <= best[1] - best[0] or best == (line, line):
        best = (node.lineno - 1, max(last, node.lineno - 1))
  return best


def edits_far(broken: str, repaired: str, statement: tuple[int, int]) -> bool:
  """Whether `repaired` changes a line of `broken` outside `statement` (margin: none,
  but the slip line's neighbours count as in, for an indentation slip's block)."""
  first, last = statement
  matcher = difflib.SequenceMatcher(None, broken.split("\n"), repaired.split("\n"),
                                    autojunk=False)
  for tag, i1, i2, _, _ in matcher.get_opcodes():
    if tag != "equal" and (i1 < first or max(i2 - 1, i1) > last):
      return True
  return False


def load_serve_config():
  spec = importlib.util.spec_from_file_location("serve_config", ROOT / "configs" / "serve.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def post_repair(url: str, source: str) -> dict:
  request = urllib.request.Request(
      url + "/repair.json", data=json.dumps({"source": source, "top_k": 5}).encode(),
      headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(request, timeout=120) as response:
      return json.loads(response.read())
  except urllib.error.HTTPError as e:
    return {"status": f"http {e.code}", "repairs": [], "message": e.read().decode()[:200]}


def judge(slip: file_slips.Slip, texts, top_confidence, seconds: float) -> dict:
  right = [file_slips.same_ast(text, slip.original) for text in texts]
  statement = slip_statement(slip.original, slip.line)
  return {"top1": bool(right[:1] and right[0]), "top5": any(right[:5]),
          "answered": top_confidence is not None and top_confidence >= 0.5,
          "far": bool(texts) and edits_far(slip.broken, texts[0], statement),
          "found": bool(texts), "seconds": seconds}


def summary(rows: list[dict]) -> dict:
  n = len(rows)
  answered = [r for r in rows if r["answered"]]
  return {"n": n, "top1": sum(r["top1"] for r in rows) / n,
          "top5": sum(r["top5"] for r in rows) / n, "answers": len(answered) / n,
          "right_when_answered": (sum(r["top1"] for r in answered) / len(answered)
                                  if answered else None),
          "far": sum(r["far"] for r in rows) / n,
          "median_s": statistics.median(r["seconds"] for r in rows)}


def print_table(results: dict, kinds) -> None:
  print("| row | kind | n | top-1 | top-5 | answers (conf >= 0.5) | right when answered "
        "| far edits | median s |")
  print("|---|---|---|---|---|---|---|---|---|")
  for row, per_file in results.items():
    for kind in ("all",) + tuple(kinds):
      picked = [r for r in per_file if kind == "all" or r["kind"] == kind]
      if not picked:
        continue
      s = summary(picked)
      rwa = "—" if s["right_when_answered"] is None else f"{s['right_when_answered']:.2f}"
      answers = "—" if row == "rules" else f"{s['answers']:.0%}"
      rwa = "—" if row == "rules" else rwa
      print(f"| {row} | {kind} | {s['n']} | {s['top1']:.2f} | {s['top5']:.2f} | {answers} "
            f"| {rwa} | {s['far']:.0%} | {s['median_s']:.2f} |")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--per_kind", type=int, default=20)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--kinds", default=",".join(file_slips.KINDS))
  parser.add_argument("--rows", default="repair_rank,rules")
  parser.add_argument("--scorer", default="", help="override configs/serve.py's scorer")
  parser.add_argument("--model_path", default="",
                      help="a scorer bundle instead of the bundled one (a candidate, before it ships)")
  parser.add_argument("--out", default="", help="per-file results as JSON")
  parser.add_argument("--site_packages", default=sysconfig.get_paths()["purelib"])
  args = parser.parse_args()
  kinds = args.kinds.split(",")
  rows = args.rows.split(",")
  files = library_files(pathlib.Path(args.site_packages))
  cases = broken_files(files, kinds, args.per_kind, args.seed)
  print(f"{len(files)} library files in the pool; {len(cases)} broken files", flush=True)
  results = {row: [] for row in rows}
  server = None
  if "repair_rank" in rows:
    from repair_rank.serving import server as server_lib  # pylint: disable=import-outside-toplevel
    config = load_serve_config()
    if args.scorer:
      config.scorer = args.scorer
    if args.model_path:
      config.model_path = args.model_path
    server = server_lib.server_from_config(config, port=0).start()
  try:
    for kind, path, slip in cases:
      name = str(path.relative_to(args.site_packages))
      for row in rows:
        start = time.perf_counter()
        if row == "rules":
          texts, top_confidence = rule_repair_baseline.repairs(slip.broken), None
        else:
          answer = post_repair(server.url, slip.broken)
          texts = [r["text"] for r in answer.get("repairs", [])]
          top_confidence = (answer["repairs"][0]["confidence"] if answer.get("repairs")
                            else None)
        seconds = time.perf_counter() - start
        verdict = judge(slip, texts, top_confidence, seconds)
        verdict.update(kind=kind, file=name, slip=slip.description)
        if row == "repair_rank":
          verdict.update(status=answer.get("status"), confidence=top_confidence,
                         top_description=(answer["repairs"][0]["description"]
                                          if answer.get("repairs") else answer.get("message")))
        results[row].append(verdict)
      print(f"{kind:12s} {name} {slip.description}: " + "  ".join(
          f"{row} {'right' if results[row][-1]['top1'] else 'wrong'}" for row in rows),
          flush=True)
  finally:
    if server is not None:
      server.shutdown()
  print()
  print_table(results, kinds)
  if args.out:
    pathlib.Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
  main()
