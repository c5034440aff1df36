"""Tests for repair_rank.data.instances: both file formats and their errors."""
import json

import pytest

from repair_rank.data import instances
from repair_rank.data.instances import RankingInstance
from repair_rank.data.jsonl import DataError


def _t(text):
  return tuple(text.split())


def _instances(stem):
  return [
      # Generator found the truth (second candidate).
      RankingInstance(id=f"{stem}-0", query=_t("NAME = ( NAME"), truth=_t("NAME = ( NAME )"),
                      candidates=(_t("NAME = NAME"), _t("NAME = ( NAME )"), _t("NAME = ( )")),
                      distance=1),
      # Generator missed the truth.
      RankingInstance(id=f"{stem}-1", query=_t("def NAME ( ) NEWLINE"),
                      truth=_t("def NAME ( ) : NEWLINE INDENT pass DEDENT"),
                      candidates=(_t("def NAME ( ) : NEWLINE"),), distance=4),
      # No candidates at all.
      RankingInstance(id=f"{stem}-2", query=_t("NAME STRING"), truth=_t("NAME ( STRING )"),
                      candidates=(), distance=2),
  ]


def test_properties():
  found, missed, _ = _instances("x")
  assert found.length == 4 and found.generated_rank == 1
  assert missed.generated_rank is None


def test_jsonl_round_trip(tmp_path):
  path = tmp_path / "inst.jsonl"
  original = _instances("anything")
  instances.write_jsonl(path, original)
  assert instances.read_jsonl(path) == original
  assert instances.read(path) == original  # Format from the suffix.
  record = json.loads(path.read_text().splitlines()[0])
  assert record["query"] == "NAME = ( NAME" and record["distance"] == 1


def test_gzipped_jsonl_round_trip(tmp_path):
  path = tmp_path / "inst.jsonl.gz"
  original = _instances("anything")
  instances.write_jsonl(path, original)
  assert path.read_bytes()[:2] == b"\x1f\x8b"  # really gzip
  assert instances.read(path) == original


def test_text_round_trip(tmp_path):
  path = tmp_path / "valid_blocks.txt"
  original = _instances("valid_blocks")
  instances.write_text(path, original)
  assert instances.read_text(path) == original
  assert instances.read(path) == original
  # The prototype layout: query, truth, then candidates (the truth again in its place).
  first_block = path.read_text().split("\n\n")[0].splitlines()
  assert first_block == ["n=(n", "n=(n)", "n=n", "n=(n)", "n=()"]


def test_text_distance_is_recomputed(tmp_path):
  path = tmp_path / "d.txt"
  path.write_text("n=(n\nn=(n)\nn=n\n\n\n1+\n1+1\n")
  read = instances.read_text(path)
  assert [(r.id, r.distance, r.generated_rank) for r in read] == [("d-0", 1, None),
                                                                  ("d-1", 1, None)]


def test_text_bad_character_names_file_and_line(tmp_path):
  path = tmp_path / "bad.txt"
  path.write_text("n=(n\nn=(n)\n\nn=\u00e9\nn=n\n")
  with pytest.raises(DataError, match=r"bad\.txt:4"):
    instances.read_text(path)


def test_text_block_without_truth(tmp_path):
  path = tmp_path / "short.txt"
  path.write_text("n=(n\nn=(n)\n\nn=\n")
  with pytest.raises(DataError, match=r"short\.txt:4"):
    instances.read_text(path)


def test_text_cannot_write_empty_sequence(tmp_path):
  empty = RankingInstance(id="e", query=(), truth=_t("pass"), candidates=(), distance=1)
  with pytest.raises(ValueError, match="empty"):
    instances.write_text(tmp_path / "e.txt", [empty])


@pytest.mark.parametrize("line, message", [
    ("not json", "not valid JSON"),
    ('{"id": "a", "query": "NAME", "truth": "NAME", "candidates": []}', "distance"),
    ('{"id": "a", "query": "NAME", "truth": "NAME", "candidates": "NAME", "distance": 1}',
     "candidates"),
    ('{"id": "a", "query": "NAME", "truth": "NAME", "candidates": [], "distance": -1}',
     "distance"),
    ('{"id": "a", "query": "NAME", "truth": "NAME", "candidates": [], "distance": true}',
     "distance"),
    ('{"id": "a", "query": "NAME", "truth": "NAME", "candidates": [3], "distance": 1}',
     "candidates"),
    ('{"id": "a", "query": "NAME", "truth": "FOO", "candidates": [], "distance": 1}',
     "FOO"),
    ('{"id": "a", "query": "NAME", "truth": "NAME", "candidates": ["NAME ?"], "distance": 1}',
     "candidates"),
    ('{"id": "a", "query": "NAME", "truth": "NAME", "candidates": ["NAME", "NAME"], '
     '"distance": 1}', "duplicates"),
    ('{"id": "x", "query": "NAME", "truth": "NAME", "candidates": [], "distance": 1}',
     "duplicate id"),
])
def test_jsonl_malformed_line_names_file_and_line(tmp_path, line, message):
  path = tmp_path / "broken.jsonl"
  good = '{"id": "x", "query": "NAME (", "truth": "NAME ( )", "candidates": [], "distance": 1}'
  path.write_text(good + "\n\n" + line + "\n")
  with pytest.raises(DataError, match=r"broken\.jsonl:3") as info:
    instances.read_jsonl(path)
  assert message in str(info.value)


def test_unknown_format(tmp_path):
  with pytest.raises(ValueError, match="format"):
    instances.read(tmp_path / "x.jsonl", format="csv")


def test_jsonl_whose_every_truth_is_empty_is_an_error(tmp_path):
  """It used to train silently (issue 23, item 7); one empty truth among others is fine."""
  path = tmp_path / "empty.jsonl"
  broken, fixed = "NAME =", "NAME = NAME"
  record = {"id": "a", "query": broken, "truth": "", "candidates": [fixed], "distance": 1}
  path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "b"}) + "\n")
  with pytest.raises(DataError, match=f"{path}: every one of its 2 instances has an empty"):
    instances.read_jsonl(path)
  path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "b", "truth": fixed})
                  + "\n")
  assert len(instances.read_jsonl(path)) == 2
