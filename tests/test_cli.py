"""The `repair-rank` console script, and quiet library logs for every job (repair_rank.main)."""
import logging
import os
import pathlib
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import conftest
from repair_rank import cli
from repair_rank import main
from repair_rank.data import instances as instances_lib
from repair_rank.ranking import scorer
from repair_rank.serving import client as client_lib

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The entry point pip installed beside this interpreter (setup.py console_scripts).
SCRIPT = pathlib.Path(sys.executable).parent / "repair-rank"
BROKEN = "def f(x)\n    return g(x\n"
# Tests must not see the two fake devices conftest sets for the pmap tests.
ENV = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}


def run_script(*args, stdin: str = "", timeout: float = 240) -> subprocess.CompletedProcess:
  return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, text=True,
                        timeout=timeout, cwd=ROOT.parent, env=ENV, check=False)


def test_subcommands_become_main_command_lines():
  argv = cli.absl_argv(["repair", "broken.py", "--top_k", "3", "--min_confidence", "0.7",
                        "--config.k=50"])
  assert argv[1] == f"--config={ROOT / 'configs' / 'repair.py'}"
  assert argv[2:] == ["--verbosity=-1", "--config.file=broken.py", "--config.top_k=3",
                      "--config.min_confidence=0.7", "--config.k=50"]
  # --verbosity given: kept as given, no default added.
  assert "--verbosity=-1" not in cli.absl_argv(["repair", "-", "--verbosity=1"])
  assert cli.absl_argv(["serve", "--port", "0"])[1:] == [
      f"--config={ROOT / 'configs' / 'serve.py'}", "--config.port=0"]
  assert cli.absl_argv(["run", "configs/finetune.py:full", "--workdir", "w"]) == [
      "repair-rank", "--config=configs/finetune.py:full", "--workdir", "w"]


@pytest.mark.skipif(not SCRIPT.exists(), reason="repair-rank not installed (pip install -e .)")
def test_installed_script_repairs_a_file_and_prints_each_confidence(tmp_path):
  path = tmp_path / "broken.py"
  path.write_text(BROKEN)
  done = run_script("repair", str(path), "--top_k", "2", "--min_confidence", "0",
                    "--color", "never")
  assert done.returncode == 0, done.stderr
  assert done.stdout.startswith("SyntaxError")
  assert re.search(r"^#1  confidence 0\.\d\d  score", done.stdout, re.M), done.stdout
  assert re.search(r"^#2  confidence 0\.\d\d  score", done.stdout, re.M)
  assert "I1" not in done.stderr  # warnings only: no INFO lines around the repairs


@pytest.mark.skipif(not SCRIPT.exists(), reason="repair-rank not installed (pip install -e .)")
def test_installed_script_reads_stdin_and_exits_3_when_it_abstains():
  done = run_script("repair", "-", "--min_confidence", "0.999", stdin=BROKEN)
  assert done.returncode == 3, done.stderr
  assert "Abstained: the best repair's confidence 0." in done.stdout
  assert "below min_confidence 1.00" in done.stdout or "below min_confidence 0.999" in done.stdout


@pytest.mark.skipif(not SCRIPT.exists(), reason="repair-rank not installed (pip install -e .)")
def test_installed_script_serves(tmp_path):
  process = subprocess.Popen(
      [str(SCRIPT), "serve", "--port", "0", "--scorer", "markov_distance",
       "--config.warmup=False"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      cwd=ROOT.parent, env=ENV)
  try:
    line = process.stdout.readline()
    url = re.search(r"on (http://\S+)", line).group(1)
    assert client_lib.wait_until_healthy(url, timeout_s=30)["scorer"] == "markov_distance"
  finally:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
  assert process.returncode == 0, stderr


def test_lsp_dispatches_to_the_lsp_job_or_says_it_is_missing():
  if (ROOT / "configs" / "lsp.py").exists():
    assert cli.absl_argv(["lsp"])[1] == f"--config={ROOT / 'configs' / 'lsp.py'}"
    return
  with pytest.raises(SystemExit, match="the lsp job is not in this installation"):
    cli.absl_argv(["lsp"])


def test_library_info_logs_are_dropped_unless_verbosity_asks():
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_handler = absl_logging.get_absl_handler()

  def passes(pathname: str, level: int) -> bool:
    record = logging.LogRecord("absl", level, pathname, 1, "message", None, None)
    return all(f.filter(record) for f in absl_handler.filters)

  theirs = "/somewhere/site-packages/orbax/checkpoint/checkpoint_manager.py"
  ours = main.__file__
  try:
    main.quiet_libraries(0)
    assert not passes(theirs, logging.INFO) and passes(theirs, logging.WARNING)
    assert passes(ours, logging.INFO)
    main.quiet_libraries(1)
    assert passes(theirs, logging.INFO)
  finally:
    main.quiet_libraries(1)  # leave no filter behind for other tests


def test_finetune_prints_no_orbax_info_lines_and_a_summary(tmp_path):
  """The README's first command, tiny: no library INFO line reaches the terminal."""
  instances = conftest.with_parts(conftest.make_instances(8))
  instances_lib.write_jsonl(tmp_path / "train.jsonl", instances)
  instances_lib.write_jsonl(tmp_path / "valid.jsonl", instances[:4])
  overrides = dict(num_steps=2, eval_every_steps=2, checkpoint_every_steps=2, warmup_steps=1,
                   train_instances=tmp_path / "train.jsonl",
                   valid_instances=tmp_path / "valid.jsonl", pretrained_checkpoint="",
                   queries_per_device=2, group_size=5, first_stage_k=4)
  overrides.update({"model.dim": 32, "model.heads": 2, "model.layers": 1, "model.mlp_dim": 64})
  done = subprocess.run(
      [sys.executable, "-m", "repair_rank.main", "--config", "configs/finetune.py",
       "--workdir", str(tmp_path / "w"), *[f"--config.{k}={v}" for k, v in overrides.items()]],
      capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV, check=False)
  output = (done.stdout + done.stderr).replace(str(tmp_path), "TMP")  # its name has "orbax"
  assert done.returncode == 0, output[-3000:]
  assert "orbax" not in output.lower() and "CheckpointManager" not in output, output[-3000:]
  ours = {p.name for p in (ROOT / "repair_rank").rglob("*.py")}
  info_sources = set(re.findall(r"^I\d{4} [\d:.]+ +\d+ (\S+?\.py):\d+\]", output, re.M))
  assert info_sources and info_sources <= ours, info_sources - ours
  assert "finetune finished in" in done.stdout and "scorer bundle:" in done.stdout
  assert "valid balanced_mrr: best" in done.stdout
  # The exported bundle carries a confidence fitted on valid, digest-checked like the rest.
  assert "confidence fitted on valid" in done.stdout
  calibration = scorer.load_bundle(tmp_path / "w" / "scorer_bundle").calibration
  assert calibration is not None and calibration.fitted_on["queries"] == 4
  assert 0.0 < calibration.top(np.array([1.0, 0.0, -1.0])) < 1.0


def test_input_and_output_errors_end_a_job_in_one_line():
  """A full disk during training gave 68 tracebacks (issue 23): such errors are one line."""
  from repair_rank import main  # pylint: disable=g-import-not-at-top
  from repair_rank.data import jsonl  # pylint: disable=g-import-not-at-top
  import errno  # pylint: disable=g-import-not-at-top
  full = OSError(errno.ENOSPC, "No space left on device", "/w/checkpoints/40")
  assert main.one_line_error(full) == (
      "OSError: [Errno 28] No space left on device: '/w/checkpoints/40'")
  assert main.one_line_error(jsonl.DataError("f.jsonl:3: not valid JSON")) == (
      "f.jsonl:3: not valid JSON")
  assert main.one_line_error(ValueError("a bug")) is None  # a bug keeps its traceback
  assert main.one_line_error(KeyError("x")) is None
