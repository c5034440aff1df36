"""The repair command: token texts, highlighted repairs with original names, bad files."""
import io
import pathlib

import numpy as np
import pytest

import conftest
from repair_rank.jobs import repair as repair_job
from repair_rank.ranking import confidence
from repair_rank.repair import command
from repair_rank.repair import ranked as ranked_lib
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank import tokens

BROKEN = 'def greet(name):\n    msg = "hi, " + name  # say hi\n    print(msg.upper(), n=3))\n'


def load_config(**overrides):
  config = conftest.load_module("configs/repair.py").get_config()
  config.update(overrides)
  return config


def test_token_texts_follow_lex():
  source = 'x = f"a{b}" + 0x1F  # c\ns = """one\ntwo""" ; y = r\'\\\'\' \\\n  . z\n'
  lexed = tokens.lex(source)
  texts, lines = source_text.token_texts(source, lexed)
  assert len(texts) == len(lexed)
  shown = [(tok, text) for tok, text in zip(lexed, texts) if tok not in source_text.LAYOUT]
  assert ("STRING", 'f"a{b}"') in shown and ("NUMBER", "0x1F") in shown
  assert ("STRING", '"""one\ntwo"""') in shown and ("STRING", "r'\\''") in shown
  assert all(text is not None for _, text in shown)
  assert lines[texts.index("s")] == 2 and lines[texts.index("z")] == 4


def test_token_texts_tolerate_disagreement():
  source = "a = 1\n"
  texts, _ = source_text.token_texts(source, ["NAME", "=", "(", "NUMBER", "NEWLINE"])
  assert texts == ["a", "=", None, "1", None]


def test_show_repair_restores_names_and_marks_edits():
  source = "total = price(a, 2))\n"
  query = tokens.lex(source)
  texts, lines = source_text.token_texts(source, query)
  fixed = query[:-2] + ["NEWLINE"]            # delete the extra ')'
  assert showing.show_repair(query, texts, fixed, "plain") == "total = price(a, 2)\n"
  assert showing.show_repair(query, texts, fixed, "markers") == "total = price(a, 2)[-)]\n"
  ansi = showing.show_repair(query, texts, fixed, "ansi")
  assert "\x1b[9;31m)\x1b[0m" in ansi
  assert showing.describe_edits(query, texts, lines, fixed) == "line 1: delete ')'"
  inserted = query[:2] + ["NAME", "."] + query[2:]  # aligned as total = price.x(...)
  assert showing.show_repair(query, texts, inserted, "markers") == "total = price[+.][+x](a, 2))\n"
  # The description names inserted placeholders as shown, and layout only as what it does
  # to the lines (issue 22, item 5: no "a line break", no [+NEWLINE]).
  assert showing.describe_edits(query, texts, lines, inserted) == "line 1: insert '.' 'x'"
  broken_line = query[:-1] + ["NEWLINE", "NEWLINE"]
  assert showing.describe_edits(query, texts, lines, broken_line) == "line 1: break the line"
  assert "NEWLINE" not in showing.show_repair(query, texts, broken_line, "markers")
  unclosed = tokens.lex("f(a\n")
  closed = unclosed + [")", "NEWLINE"]
  described = showing.describe_edits(unclosed, *source_text.token_texts("f(a\n", unclosed), closed)
  assert described == "line 1: insert ')'"


def test_repair_source_with_a_baseline(tmp_path, capsys):
  path = tmp_path / "broken.py"
  path.write_text(BROKEN, encoding="utf-8")
  config = load_config(file=str(path), scorer="markov_distance", top_k=2, max_distance=1,
                       color="never")
  repair_job.run(config, str(tmp_path))
  out = capsys.readouterr().out
  assert out.startswith("SyntaxError: unmatched ')'")
  assert "#1  score" in out and "#2  score" in out and "#3" not in out
  assert "msg.upper()" in out and '"hi, "' in out and "[-)]" in out


def test_repair_source_with_a_stand_in_scorer():
  prefer_short = lambda query, candidates: -np.array([len(c) for c in candidates], float)
  out = command.repair_source("for item in items\n    print(item)\n", prefer_short, top_k=1,
                             max_distance=1, style="markers")
  assert "#1" in out and "item" in out


class PreferShortCalibrated:
  """Shorter candidates first, with a calibration: a stand-in for the bundled Scorer."""
  calibration = confidence.Calibration(temperature=1.0, none_logit=-2.0)

  def __call__(self, query, candidates):
    return -np.array([len(c) for c in candidates], float)


def test_repairs_carry_their_confidence_and_print_it():
  scorer = PreferShortCalibrated()
  query = tokens.lex("for item in items\n    print(item)\n")
  ranked = ranked_lib.rank_repairs(query, scorer, top_k=3, max_distance=1)
  scores = np.array([r.score for r in ranked])
  assert all(r.confidence is not None for r in ranked)
  assert [r.confidence for r in ranked] == sorted((r.confidence for r in ranked), reverse=True)
  # The confidences are the calibration's over the whole generated list: at most its top 3.
  assert ranked[0].confidence <= scorer.calibration.top(scores) + 1e-12
  out = command.repair_source("for item in items\n    print(item)\n", scorer, top_k=2,
                             max_distance=1)
  assert f"#1  confidence {ranked[0].confidence:.2f}  score" in out


@pytest.mark.parametrize("long_file", [False, True])
def test_abstains_below_min_confidence(long_file):
  source = "for item in items\n    print(item)\n"
  if long_file:  # repaired window by window (repair_file)
    source = "x = 1\n" * 30 + source + "y = 2\n" * 30
  scorer = PreferShortCalibrated()
  best = command.repair_outcome(source, scorer, top_k=1, max_distance=1, window_tokens=60)
  assert not best.abstained and "confidence" in best.text
  top = float(best.text.split("confidence ")[1].split()[0])
  refused = command.repair_outcome(source, scorer, top_k=1, max_distance=1, window_tokens=60,
                                  min_confidence=min(1.0, top + 0.05))
  assert refused.abstained and "Abstained" in refused.text and "#1" not in refused.text
  assert "min_confidence" in refused.text
  answered = command.repair_outcome(source, scorer, top_k=1, max_distance=1, window_tokens=60,
                                   min_confidence=max(0.0, top - 0.05))
  assert not answered.abstained and "#1" in answered.text
  # A scorer without a calibration has no confidence and never abstains.
  plain = command.repair_outcome(source, lambda q, c: np.zeros(len(c)), top_k=1,
                                max_distance=1, window_tokens=60, min_confidence=0.99)
  assert not plain.abstained and "confidence" not in plain.text


def test_the_job_reads_stdin_and_exits_3_when_it_abstains(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(BROKEN.encode())))
  config = load_config(file="-", top_k=1, max_distance=1, color="never", min_confidence=0.0)
  repair_job.run(config, str(tmp_path))  # the bundled model, which has a calibration
  out = capsys.readouterr().out
  assert out.startswith("SyntaxError: unmatched ')'") and "#1  confidence 0." in out
  monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(BROKEN.encode())))
  config.min_confidence = 0.999
  with pytest.raises(SystemExit) as exit_info:
    repair_job.run(config, str(tmp_path))
  assert exit_info.value.code == repair_job.ABSTAINED == 3
  assert "Abstained" in capsys.readouterr().out
  with pytest.raises(SystemExit) as exit_info:
    repair_job.run(load_config(file="-", min_confidence=1.5), str(tmp_path))
  assert exit_info.value.code == repair_job.USAGE == 1
  assert "min_confidence must be in" in capsys.readouterr().err


@pytest.mark.parametrize("source, message", [
    ("x = 1\n", "already parses"),
    ("", "no tokens"),
    ("x = f\"{}\"\n", "inside a token"),
])
def test_nothing_to_repair(source, message):
  out = command.repair_source(source, lambda q, c: np.zeros(len(c)), max_distance=1)
  assert message in out


def _exit_status(config, tmp_path, capsys) -> tuple[int, str]:
  with pytest.raises(SystemExit) as exit_info:
    repair_job.run(config, str(tmp_path))
  return exit_info.value.code, capsys.readouterr().err


def test_bad_files_fail_clearly(tmp_path, capsys):
  """Input errors exit 2 with the reason on stderr (issue 22, item 7: the table in README)."""
  missing = load_config(file=str(tmp_path / "missing.py"), scorer="random")
  assert _exit_status(missing, tmp_path, capsys) == (2, f"repair: {tmp_path}/missing.py: no such file\n")
  latin = tmp_path / "latin.py"
  latin.write_bytes(b"x = '\xe9'\n")
  code, err = _exit_status(load_config(file=str(latin), scorer="random"), tmp_path, capsys)
  assert code == 2 and "not UTF-8" in err
  code, err = _exit_status(load_config(scorer="random"), tmp_path, capsys)
  assert code == 2 and "--config.file" in err
  code, err = _exit_status(load_config(file=str(tmp_path), scorer="random"), tmp_path, capsys)
  assert code == 2 and "not a regular file" in err


@pytest.mark.parametrize("top_k", [0, -3])
def test_top_k_below_one_is_a_usage_error(tmp_path, capsys, top_k):
  path = tmp_path / "broken.py"
  path.write_text(BROKEN)
  code, err = _exit_status(load_config(file=str(path), scorer="random", top_k=top_k),
                           tmp_path, capsys)
  assert code == repair_job.USAGE == 1 and "top_k must be at least 1" in err
  assert capsys.readouterr().out == ""


def test_no_repair_exits_4_and_a_repair_exits_0(tmp_path, capsys):
  unfixable = tmp_path / "fstring.py"
  unfixable.write_text('x = f"{}"\n')
  config = load_config(file=str(unfixable), scorer="markov_distance", max_distance=1,
                       color="never")
  code, _ = _exit_status(config, tmp_path, capsys)
  assert code == repair_job.NO_REPAIR == 4
  fixable = tmp_path / "unclosed.py"
  fixable.write_text('print("hello)\n')
  repair_job.run(load_config(file=str(fixable), scorer="markov_distance", max_distance=1,
                             color="never"), str(tmp_path))  # returns: exit status 0
  assert 'print("hello[+"])' in capsys.readouterr().out


def test_files_as_people_have_them(tmp_path):
  """A PEP 263 coding declaration and a BOM decode as Python decodes them; CRLF is kept
  in what the command prints (issue 22, item 8)."""
  latin = tmp_path / "latin.py"
  latin.write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n")
  assert command.read_source(str(latin)) == "# -*- coding: latin-1 -*-\nname = '\u00e9t\u00e9'\n"
  bom = tmp_path / "bom.py"
  bom.write_bytes(b"\xef\xbb\xbfx = 1\r\n")
  assert command.read_source(str(bom)) == "x = 1\r\n"
  wrong = tmp_path / "wrong.py"
  wrong.write_bytes(b"# coding: no-such-codec\nx = 1\n")
  with pytest.raises(command.RepairError, match="no-such-codec"):
    command.read_source(str(wrong))
  prefer_short = lambda query, candidates: -np.array([len(c) for c in candidates], float)
  out = command.repair_source("def f(x)\r\n    return x\r\n", prefer_short, top_k=1,
                             max_distance=1, style="plain")
  assert "def f(x):\r\n    return x" in out


def test_characters_in_no_token_are_named_not_lost():
  source = 'naïve = 5 × 3  # ÷ in a comment\nprint(“héllo”, naïve \\\n  )\n'
  dropped = source_text.dropped_characters(source)
  assert [(d.line, d.text) for d in dropped] == [(1, "×"), (2, "“"), (2, "”")]
  query = tokens.lex(source)
  assert query[dropped[0].before] == "NUMBER"  # just before the 3
  texts, lines = source_text.token_texts(source, query)
  fixed = [t for i, t in enumerate(query) if i != 3]  # delete the 3
  shown = showing.show_repair(query, texts, fixed, "markers", dropped)
  assert shown == "naïve = 5[-×][-3]\nprint([-“] héllo[-”] , naïve)\n"
  plain = showing.show_repair(query, texts, fixed, "plain", dropped)
  assert "×" not in plain and "naïve" in plain and "héllo" in plain
  assert source_text.describe_dropped(dropped[:1]) == "line 1: drop '×' (U+00D7; not Python)"


def test_printed_repair_names_the_characters_it_drops():
  prefer_short = lambda query, candidates: -np.array([len(c) for c in candidates], float)
  out = command.repair_source("x = 5 × 3\n", prefer_short, top_k=1, max_distance=1,
                             style="markers")
  assert "line 1: drop '×' (U+00D7; not Python)" in out and "[-×]" in out
  # In a whole file too, repaired window by window.
  filler = "".join(f"v{i} = {i}\n" for i in range(60))
  out = command.repair_source(filler + "y = (1 × 2\n" + filler, prefer_short, top_k=1,
                             max_distance=1, style="markers", window_tokens=40,
                             time_budget=None, max_expansions=500)
  assert "line 61: drop '×' (U+00D7; not Python)" in out


@pytest.mark.parametrize("text", ["", "x = 1\ndef f(y):\n    return y\n" * 60])
def test_no_scorer_is_loaded_when_there_is_nothing_to_score(tmp_path, text):
  # issue 23, item 5: an empty file cost the command 336 MB, all of it JAX and the model.
  import subprocess, sys  # pylint: disable=g-import-not-at-top,multiple-imports
  path = tmp_path / "f.py"
  path.write_text(text, encoding="utf-8")
  root = pathlib.Path(__file__).resolve().parent.parent
  code = ("import atexit, runpy, sys\n"
          "atexit.register(lambda: print('JAX', 'jax' in sys.modules, 'flax' in sys.modules))\n"
          f"sys.argv = ['main', '--config', 'configs/repair.py', '--config.file={path}']\n"
          "runpy.run_module('repair_rank.main', run_name='__main__')\n")
  done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0 and "JAX False False" in done.stdout, done.stdout + done.stderr
  assert "nothing to repair" in done.stdout.lower() or "no tokens" in done.stdout


def test_the_scorer_loads_on_first_use():
  loads = []
  lazy = repair_job._LazyScoreFn(lambda: loads.append(1) or (lambda q, c: [0.0] * len(c)))
  assert not lazy.loaded and not loads
  assert lazy([], [[], []]) == [0.0, 0.0] and lazy.loaded and loads == [1]
  lazy([], [[]])
  assert loads == [1]
