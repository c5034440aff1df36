"""Tests for the build_data job and the ranking-instances TFDS dataset."""
import json

import pytest
from rapidfuzz.distance import Levenshtein

from configs import build_data as build_data_config
from repair_rank.jobs import build_data
from repair_rank import tokens
from repair_rank.data import instances
from repair_rank.data import ranking_dataset

PAIRS = {
    "train": [("NAME = NAME ( NAME", "NAME = NAME ( NAME )"),
              ("import NAME ,", "import NAME"),
              ("NAME ( STRING ) )", "NAME ( STRING )")],
    # The second is two edits away: with max_distance 1 the generator misses it.
    "valid": [("NAME = [ NUMBER , NUMBER", "NAME = [ NUMBER , NUMBER ]"),
              ("NAME = ( NUMBER , NUMBER", "NAME = ( NUMBER , NUMBER ) NEWLINE")],
    "test": [("def NAME ( ) NEWLINE INDENT pass NEWLINE DEDENT",
              "def NAME ( ) : NEWLINE INDENT pass NEWLINE DEDENT"),
             ("NAME NAME . NAME", "import NAME . NAME")],
}


@pytest.fixture()
def source_dir(tmp_path):
  source = tmp_path / "pairs"
  source.mkdir()
  for split, pairs in PAIRS.items():
    with (source / f"{split}.jsonl").open("w") as f:
      for i, (broken, fixed) in enumerate(pairs):
        f.write(json.dumps({"id": f"{split}-{i}", "broken": broken, "fixed": fixed,
                            "distance": Levenshtein.distance(broken.split(), fixed.split()),
                            "length": len(broken.split()),
                            "broken_src": None, "fixed_src": None}) + "\n")
  return source


def _config(source_dir, output_dir):
  config = build_data_config.get_config()
  config.unlock()
  config.source_dir = str(source_dir)
  config.output_dir = str(output_dir)
  config.max_distance = 1  # complete and fast
  config.shard_size = 1
  config.workers = 1
  config.progress = False
  return config


def test_builds_instances_text_stats_and_tfds(source_dir, tmp_path):
  out = tmp_path / "out"
  build_data.run(_config(source_dir, out), str(tmp_path / "work"))
  missed = {"valid-1"}
  for split, pairs in PAIRS.items():
    built = instances.read_jsonl(out / f"{split}.jsonl")
    assert [" ".join(i.query) for i in built] == [b for b, _ in pairs]
    for instance in built:
      assert (instance.generated_rank is None) == (instance.id in missed)
      assert all(tokens.is_valid(c) for c in instance.candidates)
      assert instance.query not in instance.candidates
    assert instances.read_text(out / f"{split}.txt")[0].candidates == built[0].candidates
  summary = json.loads((out / "summary.json").read_text())
  for split in PAIRS:  # against the instances as built, not against itself
    built = instances.read_jsonl(out / f"{split}.jsonl")
    assert summary[split]["all"] == {
        "n": len(built),
        "recall": pytest.approx(sum(i.generated_rank is not None for i in built) / len(built)),
        "markov_p@1": pytest.approx(sum(i.generated_rank == 0 for i in built) / len(built))}
  assert summary["valid"]["all"]["recall"] == 0.5
  assert summary["valid"]["d=2"]["recall"] == 0.0
  tfds_dir = out / "tensorflow_datasets"
  for split, stem in (("test", "test"), ("validation", "valid"), ("train", "train")):
    source = ranking_dataset.load_split(split, tfds_dir)
    assert [ranking_dataset.to_instance(source[i]) for i in range(len(source))] == \
        instances.read_jsonl(out / f"{stem}.jsonl"), split
  # A generator miss is stored as generated_rank -1 and reads back as a miss.
  valid = ranking_dataset.load_split("validation", tfds_dir)
  assert [int(valid[i]["generated_rank"]) for i in range(len(valid))][1] == -1
  assert ranking_dataset.to_instance(valid[1]).generated_rank is None


def test_resumes_only_missing_shards(source_dir, tmp_path):
  out = tmp_path / "out"
  config = _config(source_dir, out)
  config.tfds = False
  build_data.run(config, str(tmp_path))
  first = (out / "train.jsonl").read_text()
  shard = out / "shards" / "train" / "00001.jsonl"
  untouched = out / "shards" / "train" / "00000.jsonl"
  mtime = untouched.stat().st_mtime_ns
  shard.unlink()  # as if the process was killed before this shard finished
  build_data.run(config, str(tmp_path))
  assert shard.exists()
  assert untouched.stat().st_mtime_ns == mtime
  assert (out / "train.jsonl").read_text() == first


def test_refuses_to_resume_a_different_build(source_dir, tmp_path):
  config = _config(source_dir, tmp_path / "out")
  config.tfds = False
  build_data.run(config, str(tmp_path))
  config.k = 5
  with pytest.raises(ValueError, match="different build"):
    build_data.run(config, str(tmp_path))



def test_an_expansion_budget_builds_the_same_instances_every_time(source_dir, tmp_path):
  runs = []
  for name in ("a", "b"):
    config = _config(source_dir, tmp_path / name)
    config.max_distance, config.time_budget, config.max_expansions = 2, 0.0, 5
    config.splits, config.tfds, config.export_text = ("train",), False, False
    build_data.run(config, str(tmp_path / f"work_{name}"))
    runs.append(instances.read_jsonl(tmp_path / name / "train.jsonl"))
    manifest = json.loads((tmp_path / name / "shards" / "train" / "manifest.json").read_text())
    assert manifest["max_expansions"] == 5
  assert runs[0] == runs[1]
  # Distance 2 was searched too, within the budget.
  assert any(Levenshtein.distance(i.query, c) == 2 for i in runs[0] for c in i.candidates)
