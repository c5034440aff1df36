"""Tests for the StackOverflow TFDS builder, its reader and the prepare_data job."""
import json
import pathlib
import subprocess
import sys
import time

import pytest

from repair_rank import paths
from repair_rank.data import jsonl
from repair_rank.data import stackoverflow

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent

_TINY = {
    "train": [
        {"id": "train-0", "broken": "NAME ( STRING", "fixed": "NAME ( STRING )",
         "distance": 1, "length": 3, "broken_src": "f('a'", "fixed_src": "f('a')"},
        {"id": "train-1", "broken": "def NAME ( ) NEWLINE pass",
         "fixed": "def NAME ( ) : NEWLINE INDENT pass NEWLINE DEDENT", "distance": 4,
         "length": 6, "broken_src": None, "fixed_src": None},
        {"id": "train-2", "broken": "NAME NAME", "fixed": "NAME ( NAME )", "distance": 2,
         "length": 2, "broken_src": "print x  # é ✓\n", "fixed_src": "print(x)  # é ✓\n"},
    ],
    "valid": [
        {"id": "valid-0", "broken": "NAME = = NUMBER", "fixed": "NAME = NUMBER",
         "distance": 1, "length": 4, "broken_src": None, "fixed_src": None},
    ],
    "test": [
        {"id": "test-0", "broken": "if NAME NEWLINE",
         "fixed": "if NAME : NEWLINE INDENT pass NEWLINE DEDENT",
         "distance": 5, "length": 3, "broken_src": "if x\n", "fixed_src": ""},
        {"id": "test-1", "broken": "[ NUMBER ,", "fixed": "[ NUMBER ]", "distance": 1,
         "length": 3, "broken_src": None, "fixed_src": None},
    ],
}


def _write_source(directory: pathlib.Path, splits=None) -> pathlib.Path:
  directory.mkdir(parents=True, exist_ok=True)
  for stem, records in (splits or _TINY).items():
    jsonl.write_jsonl(directory / f"{stem}.jsonl", records)
  return directory


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  """(source_dir, tfds_dir) of the tiny dataset, built once for the module."""
  root = tmp_path_factory.mktemp("stackoverflow")
  source_dir = _write_source(root / "source")
  stackoverflow.build(root / "tfds", source_dir)
  return source_dir, root / "tfds"


@pytest.mark.parametrize("split,stem", [("train", "train"), ("validation", "valid"),
                                        ("valid", "valid"), ("test", "test")])
def test_round_trip_through_data_source(built, split, stem):
  _, tfds_dir = built
  source = stackoverflow.load_split(split, tfds_dir)
  expected = _TINY[stem]
  assert len(source) == len(expected)
  for example, record in zip(source, expected):  # File order is kept.
    assert stackoverflow.to_pair(example) == record
    for field in ("id", "broken", "fixed"):
      assert example[field].decode("utf-8") == record[field]
    assert int(example["distance"]) == record["distance"]
    assert int(example["length"]) == record["length"]
    for field in ("broken_src", "fixed_src"):
      assert bool(example[f"has_{field}"]) == (record[field] is not None)
      assert example[field].decode("utf-8") == (record[field] or "")


def test_empty_source_text_differs_from_null(built):
  _, tfds_dir = built
  pair = stackoverflow.to_pair(stackoverflow.load_split("test", tfds_dir)[0])
  assert pair["fixed_src"] == "" and pair["broken_src"] == "if x\n"
  assert stackoverflow.to_pair(stackoverflow.load_split("test", tfds_dir)[1])["fixed_src"] is None


def test_info_records_version_and_source(built):
  source_dir, tfds_dir = built
  builder = stackoverflow.StackoverflowRepairs(data_dir=str(tfds_dir))
  assert str(builder.version) == "1.0.0" and "1.0.0" in builder.RELEASE_NOTES
  assert builder.info.metadata["source_sha256"] == stackoverflow.source_fingerprint(source_dir)
  assert {name: info.num_examples for name, info in builder.info.splits.items()} == {
      "train": 3, "validation": 1, "test": 2}


def test_rebuilds_when_the_source_changes(tmp_path):
  first = _write_source(tmp_path / "a")
  changed = {**_TINY, "valid": _TINY["valid"] + [
      {"id": "valid-1", "broken": "NAME NAME", "fixed": "NAME . NAME", "distance": 1,
       "length": 2, "broken_src": None, "fixed_src": None}]}
  second = _write_source(tmp_path / "b", changed)
  stackoverflow.build(tmp_path / "tfds", first)
  assert len(stackoverflow.load_split("validation", tmp_path / "tfds")) == 1
  stackoverflow.build(tmp_path / "tfds", second)
  assert len(stackoverflow.load_split("validation", tmp_path / "tfds")) == 2


def test_load_split_before_build_says_how_to_build(tmp_path):
  with pytest.raises(FileNotFoundError, match="prepare_data"):
    stackoverflow.load_split("train", tmp_path)


_GOOD = json.dumps(_TINY["train"][0])


def _line(**changes) -> str:
  record = {**_TINY["train"][0], "id": "train-1", **changes}
  return json.dumps({k: v for k, v in record.items() if v is not ...})


@pytest.mark.parametrize("bad_line,message", [
    ('{"id": "x", "broken": ', "not valid JSON"),
    (_line(fixed=...), "missing field 'fixed'"),
    (_line(broken="NAME ( STRNG"), "unknown token 'STRNG'"),
    (_line(fixed="NAME  ( STRING )"), "single-space"),
    (_line(length=4), "length is 4"),
    (_line(distance=-1), "distance -1"),
    (_line(distance=True), "bool"),
    (_line(distance="1"), "field 'distance' has type str"),
    (_line(broken_src=3), "field 'broken_src' has type int"),
    (_line(id="train-0"), "already used on line 1"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
  path = tmp_path / "train.jsonl"
  path.write_text(_GOOD + "\n\n" + bad_line + "\n")  # A blank line still counts.
  with pytest.raises(jsonl.DataError) as error:
    stackoverflow.read_pairs(path)
  assert f"{path}:3" in str(error.value)
  assert message in str(error.value)


def test_builder_rejects_malformed_source(tmp_path):
  source_dir = _write_source(tmp_path / "source")
  with (source_dir / "valid.jsonl").open("a") as f:
    f.write(_line(id="valid-9", length=7) + "\n")
  with pytest.raises(jsonl.DataError, match=r"valid\.jsonl:2: length is 7"):
    stackoverflow.build(tmp_path / "tfds", source_dir)


def test_prepare_data_job(tmp_path):
  """The whole job through main.py, as a user runs it (the one slow test)."""
  source_dir = _write_source(tmp_path / "source")
  workdir = tmp_path / "workdir"
  start = time.perf_counter()
  result = subprocess.run(
      [sys.executable, "-m", "repair_rank.main", "--config", "configs/prepare_data.py",
       "--workdir", str(workdir), f"--config.source_dir={source_dir}"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
  seconds = time.perf_counter() - start
  assert result.returncode == 0, result.stderr[-3000:]
  assert (workdir / "tensorflow_datasets" / "stackoverflow_repairs" / "1.0.0").is_dir()
  summary = json.loads((workdir / "summary.json").read_text())
  assert {split: stats["pairs"] for split, stats in summary.items()} == {
      "train": 3, "validation": 1, "test": 2}
  assert summary["train"]["distance"] == {"1": 1, "2": 1, "4": 1}
  assert summary["test"]["with_source"] == 1
  assert "validation" in result.stdout and "d=1" in result.stdout
  assert "import tensorflow" not in result.stderr.lower()
  assert seconds < 60, f"prepare_data took {seconds:.1f} s"


def _bundled_strings(side: str) -> dict[str, set[str]]:
  return {split: {pair[side] for pair in stackoverflow.read_pairs(paths.split_path(split))}
          for split in ("train", "valid", "test")}


def test_bundled_splits_are_complete_and_test_is_disjoint():
  counts = {split: len(stackoverflow.read_pairs(paths.split_path(split)))
            for split in ("train", "valid", "test")}
  assert counts == {"train": 9128, "valid": 928, "test": 921}
  for side in ("broken", "fixed"):
    strings = _bundled_strings(side)
    assert not strings["train"] & strings["test"], side
    assert not strings["valid"] & strings["test"], side


def test_bundled_train_and_valid_share_no_pair():
  # Measured: train and valid share no (broken, fixed) pair, but 6 broken and
  # 30 short fixed strings (e.g. `import NAME`); data/README.md records it.
  pairs = {split: {(p["broken"], p["fixed"]) for p in stackoverflow.read_pairs(paths.split_path(split))}
           for split in ("train", "valid")}
  assert not pairs["train"] & pairs["valid"]
