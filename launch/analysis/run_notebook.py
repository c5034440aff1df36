"""Executes notebooks/results.ipynb on a workdir and saves it with its outputs, in place.

  .venv/bin/python launch/analysis/run_notebook.py --workdir workdir/results

The committed notebook carries the outputs of such a run (figures visible on a
code host without running it); BENCHMARKS.md ("The notebook") lists what that
workdir held and the commands that made it. CI executes the same notebook on
tiny data without saving it (tests/test_notebooks.py). nbclient, nbformat and
ipykernel come with `pip install -e ".[test]"`.
"""
import argparse
import os
import pathlib

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "results.ipynb"
MAX_BYTES = 1 << 20  # keep the committed notebook small


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, help="REPAIR_RANK_WORKDIR for the notebook")
  parser.add_argument("--notebook", default=str(NOTEBOOK))
  parser.add_argument("--examples", type=int, default=3, help="example repairs of each kind")
  args = parser.parse_args()
  workdir = pathlib.Path(args.workdir).resolve()
  if not workdir.is_dir():
    raise SystemExit(f"{workdir}: no such workdir")
  os.environ["REPAIR_RANK_WORKDIR"] = str(workdir)
  os.environ["REPAIR_RANK_EXAMPLES"] = str(args.examples)
  path = pathlib.Path(args.notebook)
  notebook = nbformat.read(path, as_version=4)
  nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": str(path.parent)}}).execute()
  for cell in notebook.cells:  # No machine-specific paths or timings in the file.
    cell.get("metadata", {}).pop("execution", None)
    for output in cell.get("outputs", []):
      if "text" in output:
        output["text"] = output["text"].replace(str(workdir), "$REPAIR_RANK_WORKDIR")
  nbformat.write(notebook, path)
  size = path.stat().st_size
  print(f"{path}: executed on {workdir}, {size / 1024:.0f} KiB")
  if size > MAX_BYTES:
    raise SystemExit(f"{path} is {size} bytes, over {MAX_BYTES}: show fewer examples or reports")


if __name__ == "__main__":
  main()
