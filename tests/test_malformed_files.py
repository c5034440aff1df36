"""Malformed training and instance files: every error names the file and the line
(issue 23, item 7: 6 of 17 probed messages named neither)."""
import gzip
import json
import re

import pytest

from repair_rank.data import instances
from repair_rank.data import jsonl
from repair_rank.data import stackoverflow

GOOD_INSTANCE = {"id": "a", "query": "NAME (", "truth": "NAME ( )",
                 "candidates": ["NAME ( )", "NAME"], "distance": 1}
OTHER_INSTANCE = dict(GOOD_INSTANCE, id="b")
GOOD_PAIR = {"id": "p", "broken": "NAME (", "fixed": "NAME ( )", "distance": 1, "length": 2,
             "broken_src": "f(", "fixed_src": "f()"}


def _with(record, **changes):
  out = dict(record)
  for key, value in changes.items():
    if value is KeyError:
      out.pop(key)
    else:
      out[key] = value
  return json.dumps(out)


INSTANCE_LINES = {
    "not JSON": "{'id': 'b'",
    "truncated JSON": json.dumps(OTHER_INSTANCE)[:-5],
    "a JSON list": "[1, 2]",
    "a JSON string": '"hello"',
    "missing id": _with(OTHER_INSTANCE, id=KeyError),
    "missing query": _with(OTHER_INSTANCE, query=KeyError),
    "missing candidates": _with(OTHER_INSTANCE, candidates=KeyError),
    "query a list": _with(OTHER_INSTANCE, query=["NAME", "("]),
    "candidates a string": _with(OTHER_INSTANCE, candidates="NAME ( )"),
    "a candidate a number": _with(OTHER_INSTANCE, candidates=["NAME ( )", 3]),
    "distance a string": _with(OTHER_INSTANCE, distance="1"),
    "distance a bool": _with(OTHER_INSTANCE, distance=True),
    "distance negative": _with(OTHER_INSTANCE, distance=-1),
    "distance a float": _with(OTHER_INSTANCE, distance=1.5),
    "unknown token in query": _with(OTHER_INSTANCE, query="NAME ( foo"),
    "unknown token in a candidate": _with(OTHER_INSTANCE, candidates=["NAME ( )", "NAME ?"]),
    "duplicate id": _with(OTHER_INSTANCE, id="a"),
    "duplicate candidate": _with(OTHER_INSTANCE, candidates=["NAME ( )", "NAME ( )"]),
    "parts of the wrong length": _with(OTHER_INSTANCE, parts=[[0.0, 0.0]], truth_parts=[0, 0]),
    "parts without truth_parts": _with(OTHER_INSTANCE, parts=[[0, 0], [0, 0]]),
    "parts not numbers": _with(OTHER_INSTANCE, parts=[["a", 0], [0, 0]], truth_parts=[0, 0]),
}


@pytest.mark.parametrize("name", sorted(INSTANCE_LINES))
def test_a_malformed_instance_line_is_named_by_file_and_line(tmp_path, name):
  path = tmp_path / "train.jsonl"
  path.write_text(json.dumps(GOOD_INSTANCE) + "\n\n" + INSTANCE_LINES[name] + "\n")
  with pytest.raises(jsonl.DataError) as error:
    instances.read(path)
  assert f"{path}:3:" in str(error.value), str(error.value)


PAIR_LINES = {
    "not JSON": "nope",
    "missing fixed": _with(dict(GOOD_PAIR, id="q"), fixed=KeyError),
    "broken a number": _with(dict(GOOD_PAIR, id="q"), broken=7),
    "length wrong": _with(dict(GOOD_PAIR, id="q"), length=5),
    "length a bool": _with(dict(GOOD_PAIR, id="q"), length=True),
    "empty id": _with(GOOD_PAIR, id=""),
    "repeated id": json.dumps(GOOD_PAIR),
    "unknown token": _with(dict(GOOD_PAIR, id="q"), fixed="NAME ( ) ?"),
    "double space between tokens": _with(dict(GOOD_PAIR, id="q"), fixed="NAME  ( )"),
    "distance too large": _with(dict(GOOD_PAIR, id="q"), distance=99),
}


@pytest.mark.parametrize("name", sorted(PAIR_LINES))
def test_a_malformed_training_pair_is_named_by_file_and_line(tmp_path, name):
  path = tmp_path / "train.jsonl"
  path.write_text(json.dumps(GOOD_PAIR) + "\n" + PAIR_LINES[name] + "\n")
  with pytest.raises(jsonl.DataError) as error:
    stackoverflow.read_pairs(path)
  assert f"{path}:2:" in str(error.value), str(error.value)


def test_bytes_that_are_not_utf8_are_named_by_file_and_line(tmp_path):
  path = tmp_path / "train.jsonl"
  path.write_bytes(json.dumps(GOOD_INSTANCE).encode() + b"\n" + b'{"id": "\xff\xfe"}\n')
  with pytest.raises(jsonl.DataError, match=re.escape(f"{path}:2:")):
    instances.read(path)


def test_a_damaged_gzip_file_is_named(tmp_path):
  path = tmp_path / "train.jsonl.gz"
  text = "".join(json.dumps(dict(GOOD_INSTANCE, id=str(i))) + "\n" for i in range(2000))
  data = gzip.compress(text.encode())
  path.write_bytes(data[:len(data) // 2])
  with pytest.raises(jsonl.DataError, match=re.escape(str(path)) + ".*gzip"):
    instances.read(path)


def test_an_empty_file_and_only_empty_truths_are_errors_naming_the_file(tmp_path):
  path = tmp_path / "train.jsonl"
  path.write_text(json.dumps(dict(GOOD_INSTANCE, truth="")) + "\n")
  with pytest.raises(jsonl.DataError, match=re.escape(str(path))):
    instances.read(path)
