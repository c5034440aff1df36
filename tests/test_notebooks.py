"""notebooks/*.ipynb execute top to bottom on tiny data (so they never rot)."""
import json
import pathlib

import pytest

from repair_rank.jobs import evaluate_end_to_end as e2e
from repair_rank.ranking import end_to_end
from repair_rank import metrics
from repair_rank.data import instances as instances_lib
from repair_rank.data import jsonl

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"


def make_workdir(root: pathlib.Path) -> pathlib.Path:
  """A workdir with an end-to-end report and examples, a baseline report and a training log."""
  instances = [
      instances_lib.RankingInstance("a", ("NAME", "=", "(", "NUMBER"),
                                    ("NAME", "=", "(", "NUMBER", ")"),
                                    (("NAME", "=", "(", "NUMBER", ")"), ("NAME", "=", "NUMBER")), 1),
      instances_lib.RankingInstance("b", ("NAME", "NAME") * 6, ("NAME",) * 10,
                                    (("NAME", "NAME") * 5, ), 2),
      instances_lib.RankingInstance("c", ("if", "NAME", "NEWLINE"), ("if", "NAME", ":", "NEWLINE"),
                                    (("NAME", "NEWLINE"), ("if", "NAME", ":", "NEWLINE")), 1),
  ]
  prefer_long = lambda query, candidates: [float(len(c)) for c in candidates]
  result, examples = end_to_end.evaluate_end_to_end(instances, prefer_long, seed=0, progress=False)
  workdir = root / "workdir"
  metrics.save_report(workdir / "e2e" / e2e.REPORT_FILE, {"scorer": "prefer_long", **result})
  jsonl.write_jsonl(workdir / "e2e" / e2e.EXAMPLES_FILE, examples)
  metrics.save_report(workdir / "baselines" / "random.json",
                      {"baseline": "random", "views": {"ranking": result["views"]["end_to_end"]}})
  jsonl.write_jsonl(workdir / "finetune" / "metrics.jsonl", [
      {"step": step, "split": split, "loss": 2.0 / (step + 1), "mrr": step / 10}
      for step in range(0, 10, 2) for split in ("train", "valid")])
  (workdir / "finetune" / "broken.jsonl").write_text("not json\n")  # tolerated
  return workdir


@pytest.mark.parametrize("name", ["results.ipynb"])
def test_notebook_executes(name, tmp_path, monkeypatch):
  workdir = make_workdir(tmp_path)
  monkeypatch.setenv("REPAIR_RANK_WORKDIR", str(workdir))
  notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
  nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                          resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
  text = "\n".join(output.get("text", "") for cell in notebook.cells
                   if cell.cell_type == "code" for output in cell.get("outputs", []))
  assert "2 report(s)" in text
  assert "truth ranked first" in text and "[+)]" in text
  images = sum("image/png" in output.get("data", {}) for cell in notebook.cells
               if cell.cell_type == "code" for output in cell.get("outputs", []))
  assert images >= 3  # P@k (two views) and the training curves
  assert json.loads((NOTEBOOKS / name).read_text())["cells"]  # the file itself is untouched


@pytest.mark.parametrize("name", ["results.ipynb"])
def test_committed_notebook_is_small_has_figures_and_no_escaped_newlines(name):
  """It carries a real run's outputs (figures readable on a code host), under 1 MB, and no
  markdown cell shows a literal \\n (the "Example repairs" heading once did)."""
  path = NOTEBOOKS / name
  assert path.stat().st_size < 1 << 20
  notebook = nbformat.read(path, as_version=4)
  images = sum("image/png" in output.get("data", {}) for cell in notebook.cells
               if cell.cell_type == "code" for output in cell.get("outputs", []))
  assert images >= 3, "run launch/analysis/run_notebook.py --workdir ... and commit its outputs"
  for cell in notebook.cells:
    if cell.cell_type == "markdown":
      assert "\\n" not in cell.source, cell.source[:80]
