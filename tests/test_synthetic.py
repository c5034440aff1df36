"""Tests of repair_rank.data.synthetic and the synthesize job: corruptions, snippets, output."""
import collections
import json

import ml_collections
import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

import conftest
from configs import synthesize as synthesize_config
from repair_rank.generator import edit_stats
from repair_rank.jobs import synthesize
from repair_rank.training import finetune
from repair_rank import tokens
from repair_rank.data import corpora
from repair_rank.data import instances as instances_lib
from repair_rank.data import stackoverflow
from repair_rank.data import synthetic

# (broken, fixed) pairs with the usual human repairs: close a bracket, add a colon,
# drop a pasted prompt, == for =, a missing comma.
_PAIRS = [
    ("NAME ( NAME", "NAME ( NAME )"),
    ("NAME = NAME ( NAME , NAME ( NUMBER )", "NAME = NAME ( NAME , NAME ( NUMBER ) )"),
    ("def NAME ( NAME ) NEWLINE INDENT return NAME NEWLINE DEDENT",
     "def NAME ( NAME ) : NEWLINE INDENT return NAME NEWLINE DEDENT"),
    (">> NAME ( STRING )", "NAME ( STRING )"),
    ("if NAME = NUMBER : NEWLINE INDENT NAME ( ) NEWLINE DEDENT",
     "if NAME == NUMBER : NEWLINE INDENT NAME ( ) NEWLINE DEDENT"),
    ("NAME = [ NUMBER NUMBER ]", "NAME = [ NUMBER , NUMBER ]"),
    ("for NAME in NAME : NEWLINE INDENT NAME ( NAME NEWLINE DEDENT",
     "for NAME in NAME : NEWLINE INDENT NAME ( NAME ) NEWLINE DEDENT"),
]
PAIRS = [(b.split(), f.split()) for b, f in _PAIRS]
# Valid code to corrupt, with room for many distinct corruptions.
SOURCES = {"code": [tokens.lex(source) for source in (
    "x = f(a, g(1), [2, 3])\nif x == 1:\n    print(h(x), {'k': x})\n",
    "def f(a, b):\n    return g(a)(b) + [a, b][0]\nfor i in range(3):\n    f(i, (i, i))\n",
    "import os\nprint(os.path.join('a', 'b'))\nwhile f(x):\n    x = y(x[1:], z=(2))\n")]}
LIMITS = synthetic.Limits(distances=(1, 2, 3), distance_probabilities=(0.5, 0.3, 0.2),
                          broken_lengths=(1, 100), fixed_lengths=(1, 100))


def _model(pairs=PAIRS, **kwargs):
  return synthetic.CorruptionModel.fit(edit_stats.EditStats.fit(pairs), pairs, **kwargs)


def _synthesize(seed, num_pairs=40, pairs=PAIRS):
  return synthetic.synthesize(SOURCES, _model(pairs), LIMITS, num_pairs=num_pairs, seed=seed)


def test_pairs_are_invalid_at_their_distance_and_deterministic():
  assert all(tokens.is_valid(s) for s in SOURCES["code"])
  pairs, report = _synthesize(seed=0)
  assert len(pairs) == 40
  for pair in pairs:
    broken, fixed = pair["broken"].split(), pair["fixed"].split()
    assert fixed in SOURCES["code"]
    assert not tokens.is_valid(broken)
    assert synthetic.lexable_layout(broken)
    assert Levenshtein.distance(broken, fixed) == pair["distance"] >= 1
    assert pair["length"] == len(broken)
  assert sum(counts["kept"] for counts in report["attempts"].values()) == 40
  assert {p["distance"] for p in pairs} == {1, 2, 3}
  assert _synthesize(seed=0)[0] == pairs
  assert _synthesize(seed=1)[0] != pairs


def test_corruptions_invert_the_human_repairs():
  # Humans only ever insert ')': every corruption deletes a ')'.
  close = [(b.split(), f.split()) for b, f in _PAIRS[:2]]
  for pair in _synthesize(seed=0, pairs=close, num_pairs=20)[0]:
    broken, fixed = pair["broken"].split(), pair["fixed"].split()
    removed = collections.Counter(fixed) - collections.Counter(broken)
    assert set(removed) == {")"} and sum(removed.values()) == pair["distance"]
  # Humans only delete '>>' and substitute '=' -> '==': corruptions insert '>>' or
  # turn '==' into '='.
  model = _model([PAIRS[3], PAIRS[4]])
  rng = np.random.default_rng(0)
  seen = set()
  for _ in range(50):
    [edit] = model.draw(PAIRS[4][1], rng)
    seen.add((edit.op, edit.old, edit.new))
  assert seen == {("insert", None, ">>"), ("substitute", "==", "=")}


def test_layout_edits_move_an_indent_with_its_dedent():
  # Humans indent a body (insert INDENT and DEDENT) or un-indent a line (delete both).
  pairs = [(b.split(), f.split()) for b, f in (
      ("def NAME ( ) : NEWLINE return NAME NEWLINE NAME ( )",
       "def NAME ( ) : NEWLINE INDENT return NAME NEWLINE DEDENT NAME ( )"),
      ("NAME = NUMBER NEWLINE INDENT NAME ( NAME ) NEWLINE DEDENT NAME ( )",
       "NAME = NUMBER NEWLINE NAME ( NAME ) NEWLINE NAME ( )"))]
  limits = synthetic.Limits((2,), (1.0,), (1, 100), (1, 100))  # a pair is 2 edits
  got, _ = synthetic.synthesize(SOURCES, _model(pairs), limits, num_pairs=6, seed=0)
  kinds = set()
  for pair in got:
    broken, fixed = pair["broken"].split(), pair["fixed"].split()
    assert pair["distance"] == 2 and synthetic.lexable_layout(broken)
    added = collections.Counter(broken) - collections.Counter(fixed)
    removed = collections.Counter(fixed) - collections.Counter(broken)
    assert {**added, **removed} == {"INDENT": 1, "DEDENT": 1}
    kinds.add("indented" if added else "unindented")
  assert kinds == {"indented", "unindented"}


def test_positions_follow_where_humans_edit():
  # Humans insert ')' only at line ends; the source has as many ')' inside a line.
  pairs = [("NAME ( NAME ( ) NEWLINE NAME ( )".split(),
            "NAME ( NAME ( ) ) NEWLINE NAME ( )".split()),
           ("NAME ( NAME".split(), "NAME ( NAME )".split())] * 20  # enough to outweigh shrinkage
  source = "NAME ( NAME ( ) ) NEWLINE NAME ( NAME ( ) )".split()
  line_end = {5, 12}  # the ')' right before NEWLINE, and the last token
  for positions, low, high in ((True, 0.8, 1.0), (False, 0.3, 0.7)):
    model = _model(pairs, positions=positions)
    rng = np.random.default_rng(0)
    draws = [model.draw(source, rng)[0] for _ in range(400)]
    assert all(d.op == "delete" and d.old == ")" for d in draws)
    share = np.mean([d.position in line_end for d in draws])
    assert low <= share <= high, (positions, share)


def test_snippets_of_long_code_are_valid_and_short():
  source = tokens.lex(
      "import os\n@decorator\ndef f(x):\n    if x:\n        return 1\n    else:\n"
      "        return 2\ntry:\n    f(1)\nexcept E:\n    pass\nfinally:\n    g()\n"
      "class C:\n    a = 1\n    def m(self):\n        return self.a\n")
  spans = synthetic.statement_spans(source)
  top = max(spans, key=len)
  assert [source[a] for a, _ in top] == ["import", "@", "try", "class"]
  got = synthetic.snippets(source, lambda: 12, max_length=20)
  assert got and all(tokens.is_valid(s) and len(s) <= 20 for s in got)
  assert any(s[0] == "return" for s in got)  # bodies become snippets too


def test_lexable_layout():
  assert synthetic.lexable_layout("if NAME : NEWLINE INDENT pass NEWLINE DEDENT".split())
  assert not synthetic.lexable_layout("if NAME : NEWLINE pass NEWLINE DEDENT".split())
  assert not synthetic.lexable_layout("if NAME : INDENT pass NEWLINE DEDENT".split())
  assert not synthetic.lexable_layout("if NAME : NEWLINE INDENT pass NEWLINE".split())


def test_units_are_functions_classes_and_top_level_blocks():
  source = (
      "import os\nimport sys\nX = 1\n\n"
      "@decorator\ndef f(a, b):\n    return a + b\n\n"
      "class A:\n"  # too long as a whole: its methods become units
      "    def m(self):\n        return 1\n"
      "    def n(self):\n        return [" + ", ".join(["i"] * 40) + "]\n\n"
      "x = 2\nif x:\n    y = 3\n")
  got = [" ".join(u) for u in synthetic.units(tokens.lex(source))]
  assert got == [
      "import NAME NEWLINE import NAME NEWLINE NAME = NUMBER",
      "@ NAME NEWLINE def NAME ( NAME , NAME ) : NEWLINE INDENT return NAME + NAME NEWLINE "
      "DEDENT",
      "def NAME ( NAME ) : NEWLINE INDENT return NUMBER NEWLINE DEDENT",  # m; n is too long
      "NAME = NUMBER NEWLINE if NAME : NEWLINE INDENT NAME = NUMBER NEWLINE DEDENT"]
  # Top-level statements are packed into blocks of at most max_tokens.
  many = tokens.lex("".join(f"x{i} = {i}\n" for i in range(10)))
  assert [len(u) for u in synthetic.units(many, max_tokens=8)] == [7] * 5
  assert synthetic.units(many, min_tokens=4, max_tokens=3) == []


def _synthesize_config(**overrides) -> ml_collections.ConfigDict:
  config = synthesize_config.get_config()
  config.update(num_pairs=30, progress=False, **overrides)
  return config


def test_corpus_units_deduplicated_without_valid_or_test_code(tmp_path):
  held_out = "import x . x"  # the fixed side of a valid pair, as code
  assert "import NAME . NAME" in {" ".join(s) for s in corpora.read_split("valid", "fixed")}
  # Six functions of different token sequences (names and numbers lex alike).
  functions = "".join("def f(a):\n" + "    a = a + 1\n" * (i + 1) + "    return a\n\n"
                      for i in range(6))
  corpus = tmp_path / "corpus"
  (corpus / "pkg").mkdir(parents=True)
  (corpus / "a.py").write_text(functions + "class C:\n    x = 1\n")
  (corpus / "pkg" / "b.py").write_text(functions + held_out + "\n")  # the same functions
  (corpus / "pkg" / "notes.txt").write_text("def not_python(:\n")
  (corpus / "pkg" / "broken.py").write_text("def broken(:\n")  # no units
  runs = {}
  for runner, workers in (("pool", 1), ("beam", 2)):
    workdir = tmp_path / f"{runner}{workers}"
    synthesize.run(_synthesize_config(sources=("corpus",), corpus_dirs=(str(corpus),),
                                      runner=runner, workers=workers, files_per_shard=1),
                   str(workdir))
    runs[runner] = (workdir / "train.jsonl").read_text()
  assert runs["pool"] == runs["beam"]
  summary = json.loads((workdir / "summary.json").read_text())
  # 6 functions (and their 6 duplicates), the class; the held-out line is dropped.
  assert summary["corpus_units"] == {"files": 3, "read": 2, "units": 14, "duplicates": 6,
                                     "in_valid_or_test": 1, "kept": 7}
  pairs = stackoverflow.read_pairs(workdir / "train.jsonl")
  units = {"class NAME : NEWLINE INDENT NAME = NUMBER NEWLINE DEDENT"} | {
      "def NAME ( NAME ) : NEWLINE INDENT " + "NAME = NAME + NUMBER NEWLINE " * (i + 1)
      + "return NAME NEWLINE DEDENT" for i in range(6)}
  assert len(pairs) == 30 and {p["fixed"] for p in pairs} <= units
  assert "corpus" in (workdir / "README.md").read_text()


def test_corpus_source_needs_directories(tmp_path):
  with pytest.raises(ValueError, match="corpus_dirs"):
    synthesize.run(_synthesize_config(sources=("corpus",), runner="pool"), str(tmp_path))
  with pytest.raises(ValueError, match="does not name 'corpus'"):
    synthesize.run(_synthesize_config(corpus_dirs=(str(tmp_path),), runner="pool"),
                   str(tmp_path))
  with pytest.raises(ValueError, match="empty corpus directory name"):
    synthesize.run(_synthesize_config(sources=("corpus",), corpus_dirs=("",), runner="pool"),
                   str(tmp_path))
  with pytest.raises(FileNotFoundError, match="does not exist"):
    synthesize.run(_synthesize_config(sources=("corpus",), corpus_dirs=(str(tmp_path / "no"),),
                                      runner="pool"), str(tmp_path))


def test_stdlib_source_reads_only_the_files_asked_for(tmp_path):
  synthesize.run(_synthesize_config(sources=("stdlib",), stdlib_max_files=3, runner="pool",
                                    workers=1), str(tmp_path))
  shards = [p for p in (tmp_path / "corpus_shards" / "stdlib").glob("*.jsonl*")
            if "stats" not in p.name]
  assert len(shards) == 1


def test_job_writes_pairs_build_data_reads(tmp_path):
  synthesize.run(_synthesize_config(), str(tmp_path))
  pairs = stackoverflow.read_pairs(tmp_path / "train.jsonl")
  assert len(pairs) == 30 and all(p["broken_src"] is None for p in pairs)
  assert {p["distance"] for p in pairs} <= {1, 2, 3}
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["synthetic"]["pairs"] == 30 and 0 <= summary["rejected_still_valid"] < 1
  assert "top repairs" in (tmp_path / "README.md").read_text()


def test_finetune_mixes_in_extra_train_instances(tmp_path):
  real, extra = conftest.make_instances(5), conftest.make_instances(3, seed=1)
  extra = [instances_lib.RankingInstance(f"synthetic-{i}", e.query, e.truth, e.candidates,
                                         e.distance) for i, e in enumerate(extra)]
  instances_lib.write(tmp_path / "real.jsonl", real)
  instances_lib.write(tmp_path / "extra.jsonl.gz", extra)
  config = conftest.tiny_config(train_instances=str(tmp_path / "real.jsonl"))
  assert finetune.read_train_instances(config) == real  # no extra field: as before
  config.extra_train_instances = (str(tmp_path / "extra.jsonl.gz"),)
  assert finetune.read_train_instances(config) == real + extra
