"""The package's layers: every import points down the pipeline, none forms a cycle.

Every module's imports are read with `ast`, function-level ones included (an
import hidden in a function is still an import). The layers, bottom to top:

  paths, distributed   where files live; JAX processes and devices
  syntax               tokens, parse errors
  generator            n-gram, edit statistics, candidate search
  data                 pairs, corpora, ranking instances and their generation
  model                features, Flax models, batches, checkpoints
  ranking              metrics, evaluation, baselines, the scorer, the registry
  repair               whole sources and files: windows, candidates checked in the file,
                       text edits, the command's listing, the diagnosis front ends show
  training             the training loop, pretrain, finetune
  serving              request protocol, HTTP server, client
  jobs                 one module per `config.job`; never imports another job
  main, cli            the entry point; the `repair-rank` console script on top of it

`tokens`, `candidates`, `metrics` and `scorer` at the top of the package are
public faces: each imports only its own subpackage, and no module of the
package imports a face.
"""
import ast
import importlib
import pathlib
import re

import pytest

from repair_rank import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "repair_rank"
LAYERS = ("paths distributed", "syntax", "generator", "data", "model", "ranking", "repair",
          "training", "serving", "jobs", "main cli")
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts.split()}
FACES = {"tokens": "syntax", "candidates": "generator", "metrics": "ranking",
         "scorer": "ranking"}


def module_names() -> list[str]:
  names = []
  for path in sorted(PACKAGE.rglob("*.py")):
    parts = path.relative_to(ROOT).with_suffix("").parts
    names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
  return names


def module_path(name: str) -> pathlib.Path:
  path = ROOT.joinpath(*name.split("."))
  return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imports(name: str) -> set[str]:
  """The repair_rank modules `name` imports, at any depth of its code."""
  known = set(module_names())
  out = set()
  for node in ast.walk(ast.parse(module_path(name).read_text())):
    if isinstance(node, ast.Import):
      targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      # `from a.b import c` imports module a.b.c if there is one, else names of a.b.
      targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known
                 else node.module for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      raise AssertionError(f"{name}: relative import; use absolute repair_rank imports")
    else:
      continue
    out.update(t for t in targets if t == "repair_rank" or t.startswith("repair_rank."))
  return out


def layer(name: str) -> str:
  """The layer of a module: its subpackage, or its own name at the top."""
  parts = name.split(".")
  return parts[1] if len(parts) > 1 else ""


GRAPH = {name: imports(name) for name in module_names()}


def test_every_module_has_a_layer_or_is_a_face():
  for name in GRAPH:
    if name != "repair_rank":
      assert layer(name) in RANK or layer(name) in FACES, f"{name}: not in a known layer"


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_point_down(name):
  if name == "repair_rank":
    assert not GRAPH[name], "the package's __init__ imports nothing"
    return
  own = layer(name)
  for target in GRAPH[name]:
    other = layer(target)
    assert other not in FACES or len(target.split(".")) > 2, (
        f"{name} imports the public face {target}; import repair_rank.{FACES.get(other)} instead")
    if own in FACES:
      assert other == FACES[own], f"face {name} imports {target} outside repair_rank.{FACES[own]}"
      continue
    assert RANK[other] <= RANK[own], (
        f"{name} (layer {own}) imports {target} (layer {other}), a layer above it")


def test_no_job_imports_a_job():
  for name, targets in GRAPH.items():
    if layer(name) == "jobs":
      others = {t for t in targets if layer(t) == "jobs" and t != "repair_rank.jobs"}
      assert not others, f"job {name} imports job(s) {sorted(others)}"


def test_no_import_cycles():
  state: dict[str, int] = {}  # 1: on the current path, 2: done

  def visit(name: str, path: list[str]) -> None:
    state[name] = 1
    for target in sorted(GRAPH.get(name, ())):
      if state.get(target) == 1:
        cycle = path[path.index(target):] + [target] if target in path else [name, target]
        raise AssertionError("import cycle: " + " -> ".join(cycle))
      if state.get(target) is None:
        visit(target, path + [target])
    state[name] = 2

  for name in sorted(GRAPH):
    if state.get(name) is None:
      visit(name, [name])


def test_main_maps_every_config_job_to_a_job_module():
  jobs = set()
  for path in (ROOT / "configs").glob("*.py"):
    jobs.update(re.findall(r'config\.job = "(\w+)"', path.read_text()))
  assert jobs == set(main.JOBS)
  for job, module in main.JOBS.items():
    assert layer(module) == "jobs", f"{job}: {module} is not in repair_rank.jobs"
    assert callable(importlib.import_module(module).run)
  modules = {name for name in GRAPH if layer(name) == "jobs" and name != "repair_rank.jobs"}
  assert modules == set(main.JOBS.values()), "every job module is named in main.JOBS"
